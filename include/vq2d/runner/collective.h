// Collective: the seam for inter-rank communication (control traffic only: startup state, dynamic
// work tickets, barriers). Implementations: single process (MakeLocalCollective), MPI
// (MakeMpiCollective); tests use in-process fakes. GPU tensors never travel through it.
//
// Thread-safety: a Collective is used from the thread that created it only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d::runner {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Rank among the processes of this host (selects the GPU: local_rank % device_count).
  virtual int local_rank() const = 0;
  virtual std::string backend() const = 0;  // "local", "mpi", ...

  virtual Status Barrier() = 0;
  // On return every rank holds root's `data`.
  virtual Status Broadcast(std::string* data, int root) = 0;
  // The shared work-ticket counter (dynamic schedule): atomically returns the current value and
  // increments it. Starts at 0 when the collective is created.
  virtual Result<int64_t> NextTicket() = 0;
  // True on every rank iff `value` is true on every rank (a failure vote before a collective step).
  virtual Result<bool> AllTrue(bool value) = 0;
  // Ends the whole job now with `exit_code` (MPI_Abort under MPI): for errors some ranks hit
  // before a collective step, which would otherwise leave the others waiting forever.
  [[noreturn]] virtual void Abort(int exit_code) = 0;
};

// A world of one process.
std::unique_ptr<Collective> MakeLocalCollective();

// MPI_COMM_WORLD. Calls MPI_Init_thread (MPI_THREAD_FUNNELED) unless MPI is already initialised;
// MPI_Finalize runs when the object is destroyed. When SLURM_NTASKS is set and differs from the
// world size, returns an error describing the mis-launch ("N singleton jobs").
Result<std::unique_ptr<Collective>> MakeMpiCollective();

// Error when running inside a Slurm job whose SLURM_NTASKS differs from `world_size`.
Status CheckSlurmWorldSize(int world_size);

// True when this process was started by an MPI launcher (mpirun/srun), judged from the environment.
bool LaunchedByMpi();

}  // namespace vq2d::runner
