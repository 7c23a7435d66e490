#include "vq2d/runner/nccl.h"

#ifdef VQ2D_HAVE_NCCL
#include <nccl.h>
#endif

namespace vq2d::runner {

#ifdef VQ2D_HAVE_NCCL

bool NcclCompiledIn() { return true; }

Result<std::string> NcclVersion() {
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return Status::Internal("ncclGetVersion failed");
  // NCCL >= 2.9 encodes major*10000 + minor*100 + patch.
  return StrCat(v / 10000, ".", (v / 100) % 100, ".", v % 100);
}

Result<std::string> ExchangeNcclUniqueId(Collective& collective) {
  std::string bytes;
  if (collective.rank() == 0) {
    ncclUniqueId id;
    ncclResult_t rc = ncclGetUniqueId(&id);
    if (rc != ncclSuccess) return Status::Internal(StrCat("ncclGetUniqueId failed: ", ncclGetErrorString(rc)));
    bytes.assign(id.internal, sizeof id.internal);
  }
  VQ2D_RETURN_IF_ERROR(collective.Broadcast(&bytes, 0));
  if (bytes.size() != sizeof(ncclUniqueId)) return Status::Internal("NCCL unique id has the wrong size");
  return bytes;
}

#else

bool NcclCompiledIn() { return false; }

Result<std::string> NcclVersion() {
  return Status::Unimplemented("this vq2d was built without NCCL (CMake -DVQ2D_WITH_NCCL=ON with nccl.h available)");
}

Result<std::string> ExchangeNcclUniqueId(Collective&) { return NcclVersion().status(); }

#endif

}  // namespace vq2d::runner
