#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "vq2d/base/check.h"
#include "vq2d/runner/collective.h"

namespace vq2d::runner {

Status CheckSlurmWorldSize(int world_size);

namespace {

class LocalCollective final : public Collective {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string backend() const override { return "local"; }
  Status Barrier() override { return Status::OK(); }
  Status Broadcast(std::string*, int root) override {
    if (root != 0) return Status::InvalidArgument(StrCat("broadcast root ", root, " in a world of 1"));
    return Status::OK();
  }
  Result<int64_t> NextTicket() override { return next_++; }
  Result<bool> AllTrue(bool value) override { return value; }
  [[noreturn]] void Abort(int exit_code) override {
    std::fflush(nullptr);
    std::exit(exit_code);
  }

 private:
  int64_t next_ = 0;
};

Status MpiError(const char* what, int rc) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return Status::Internal(StrCat(what, " failed: ", std::string(msg, static_cast<size_t>(len))));
}

class MpiCollective final : public Collective {
 public:
  MpiCollective() = default;
  ~MpiCollective() override {
    if (win_ != MPI_WIN_NULL) MPI_Win_free(&win_);
    if (node_comm_ != MPI_COMM_NULL) MPI_Comm_free(&node_comm_);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && owns_init_) MPI_Finalize();
  }

  Status Init() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      if (rc != MPI_SUCCESS) return MpiError("MPI_Init_thread", rc);
      owns_init_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    VQ2D_RETURN_IF_ERROR(CheckSlurmWorldSize(size_));
    int rc = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_comm_);
    if (rc != MPI_SUCCESS) return MpiError("MPI_Comm_split_type", rc);
    MPI_Comm_rank(node_comm_, &local_rank_);
    // Ticket counter: one int64 on rank 0, others expose nothing.
    const MPI_Aint bytes = rank_ == 0 ? sizeof(int64_t) : 0;
    rc = MPI_Win_allocate(bytes, sizeof(int64_t), MPI_INFO_NULL, MPI_COMM_WORLD, &counter_, &win_);
    if (rc != MPI_SUCCESS) return MpiError("MPI_Win_allocate", rc);
    if (rank_ == 0) {
      MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win_);
      *counter_ = 0;
      MPI_Win_unlock(0, win_);
    }
    return Barrier();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  std::string backend() const override { return "mpi"; }

  Status Barrier() override {
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? Status::OK() : MpiError("MPI_Barrier", rc);
  }

  Status Broadcast(std::string* data, int root) override {
    long long n = static_cast<long long>(data->size());
    int rc = MPI_Bcast(&n, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return MpiError("MPI_Bcast", rc);
    data->resize(static_cast<size_t>(n));
    // Chunks below INT_MAX bytes.
    const long long kChunk = 1 << 30;
    for (long long off = 0; off < n; off += kChunk) {
      int len = static_cast<int>(std::min(kChunk, n - off));
      rc = MPI_Bcast(data->data() + off, len, MPI_CHAR, root, MPI_COMM_WORLD);
      if (rc != MPI_SUCCESS) return MpiError("MPI_Bcast", rc);
    }
    return Status::OK();
  }

  Result<int64_t> NextTicket() override {
    const int64_t one = 1;
    int64_t previous = 0;
    int rc = MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, win_);
    if (rc != MPI_SUCCESS) return MpiError("MPI_Win_lock", rc);
    rc = MPI_Fetch_and_op(&one, &previous, MPI_INT64_T, 0, 0, MPI_SUM, win_);
    int rc2 = MPI_Win_unlock(0, win_);
    if (rc != MPI_SUCCESS) return MpiError("MPI_Fetch_and_op", rc);
    if (rc2 != MPI_SUCCESS) return MpiError("MPI_Win_unlock", rc2);
    return previous;
  }

  Result<bool> AllTrue(bool value) override {
    int in = value ? 1 : 0, out = 0;
    int rc = MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return MpiError("MPI_Allreduce", rc);
    return out != 0;
  }

  [[noreturn]] void Abort(int exit_code) override {
    std::fflush(nullptr);
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
  }

 private:
  bool owns_init_ = false;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  MPI_Comm node_comm_ = MPI_COMM_NULL;
  MPI_Win win_ = MPI_WIN_NULL;
  int64_t* counter_ = nullptr;
};

}  // namespace

Status CheckSlurmWorldSize(int world_size) {
  const char* nt = std::getenv("SLURM_NTASKS");
  if (!nt || !*nt || !std::getenv("SLURM_JOB_ID")) return Status::OK();
  const int expected = std::atoi(nt);
  if (expected <= 0 || expected == world_size) return Status::OK();
  return Status::FailedPrecondition(
      StrCat("SLURM_NTASKS=", expected, " but this job's world has ", world_size,
             " process(es): the tasks were started as independent singletons instead of one MPI job. Launch "
             "with 'srun --mpi=pmix' (see 'srun --mpi=list') or 'mpirun' inside the allocation"));
}

std::unique_ptr<Collective> MakeLocalCollective() { return std::make_unique<LocalCollective>(); }

Result<std::unique_ptr<Collective>> MakeMpiCollective() {
  auto c = std::make_unique<MpiCollective>();
  VQ2D_RETURN_IF_ERROR(c->Init());
  return std::unique_ptr<Collective>(std::move(c));
}

bool LaunchedByMpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK", "MPI_LOCALNRANKS"}) {
    if (std::getenv(v)) return true;
  }
  return false;
}

}  // namespace vq2d::runner
