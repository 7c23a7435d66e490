#!/usr/bin/env bash
# The README's test command: checks the layering (tools/check_layers.sh) and that nothing points
# outside the repo (tools/check_refs.sh), sets up (tools/setup.sh), runs every test suite with CTest,
# the fixture tests again on a bare clone (tools/check_standalone.sh), then the checkpoint reader's
# tests under ASan + UBSan (tools/sanitize_core.sh; VQ2D_SKIP_SANITIZE=1 skips it).
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
