// Optional NCCL backend (builds with VQ2D_HAVE_NCCL: CMake option VQ2D_WITH_NCCL, auto-detected).
// Control traffic (startup state, tickets, barriers) always goes through MPI; NCCL is for
// GPU-resident data only and is never used inside the per-clip loop, because an NCCL collective
// hangs when a peer dies. The bootstrap follows the usual recipe: rank 0 creates the unique id and
// the MPI collective broadcasts it; each rank then joins on its local GPU (ncclCommInitRank).
#pragma once

#include <string>

#include "vq2d/base/status.h"
#include "vq2d/runner/collective.h"

namespace vq2d::runner {

// True when this binary was built with NCCL.
bool NcclCompiledIn();
// "2.28.9", or an error when NCCL is not compiled in.
Result<std::string> NcclVersion();
// Rank 0 creates an ncclUniqueId; every rank returns the same bytes. Works without a GPU.
Result<std::string> ExchangeNcclUniqueId(Collective& collective);

}  // namespace vq2d::runner
