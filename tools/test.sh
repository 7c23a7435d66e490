#!/usr/bin/env bash
# The README's test command: checks the layering (tools/check_layers.sh) and that nothing points
# outside the repo (tools/check_refs.sh), sets up (tools/setup.sh), runs every test suite with CTest,
# the fixture tests again on a bare clone (tools/check_standalone.sh), then the checkpoint reader's
# tests under ASan + UBSan (tools/sanitize_core.sh; VQ2D_SKIP_SANITIZE=1 skips it), then the fuzz
# targets (tools/fuzz.sh; VQ2D_FUZZ=0 skips it): a fixed number of inputs per target from a fixed
# seed and the committed corpus, so its verdict is the same on any machine and load (a time-bounded
# run is left to VQ2D_FUZZ_SECONDS, by hand). ctest also replays every committed finding
# (FuzzRegressions.*). The fuzz step, measured cold (fresh build-fuzz/, no ccache, 2 cores shared at
# load ~9): build 13.4 min (~25 files, no OpenCV / MPI / models), fuzzing 6 targets x ~30 s; with
# build-fuzz/ kept (or ccache warm) ~3.5 min.
# Fixtures are read from $VQ2D_FIXTURES (default: tests/fixtures, carried by the repo).
# The same suites under ATEN_CPU_CAPABILITY=avx2/default and 1/2 threads: tools/test_variants.sh
# (not run here: about six times as long).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${VQ2D_BUILD_DIR:-$here/build}
# Layer check first (under a second): includes that cross a layer the wrong way or pull in LibTorch.
"$here/tools/check_layers.sh"
# The repository stands alone: no reference to files outside it (docs/ or upstream instead).
"$here/tools/check_refs.sh"
"$here/tools/setup.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
(cd "$build_dir" && ctest --output-on-failure -j "${VQ2D_TEST_JOBS:-2}" --timeout 900 "$@")
# The fixture tests again on a clone of HEAD with nothing beside it (VQ2D_SKIP_STANDALONE=1 skips it).
if [ "${VQ2D_SKIP_STANDALONE:-0}" != 1 ]; then
  "$here/tools/check_standalone.sh" "$build_dir"
fi
# The checkpoint reader's tests again under AddressSanitizer + UBSan (separate small build).
if [ "${VQ2D_SKIP_SANITIZE:-0}" != 1 ]; then
  "$here/tools/sanitize_core.sh"
fi
# The libFuzzer targets of tests/fuzz (tools/fuzz.sh, its own clang build in build-fuzz/): any crash,
# leak, timeout or out-of-memory fails.
if [ "${VQ2D_FUZZ:-1}" != 0 ]; then
  "$here/tools/fuzz.sh"
fi
