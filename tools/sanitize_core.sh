#!/usr/bin/env bash
# CI job: builds only the checkpoint reader (src/core/checkpoint) and its tests with
# AddressSanitizer + UndefinedBehaviorSanitizer in build-asan/ and runs them. It needs only
# LibTorch, nlohmann_json and GoogleTest (no OpenCV/HDF5/MPI), and compiles ~10 files.
#
#   tools/sanitize_core.sh                  configure + build + run every checkpoint test
#   tools/sanitize_core.sh -R Robustness    extra arguments go to ctest
#   VQ2D_ASAN_BUILD_DIR=dir VQ2D_JOBS=2 tools/sanitize_core.sh
#
# Fixtures come from $VQ2D_FIXTURES (default tests/fixtures in the repo), as for ctest.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${VQ2D_ASAN_BUILD_DIR:-$here/build-asan}
jobs=${VQ2D_JOBS:-$(nproc)}
export CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=1

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  read -r -a extra_args <<< "${VQ2D_CMAKE_ARGS:-}"
  cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DVQ2D_CHECKPOINT_ONLY=ON -DVQ2D_SANITIZE=ON "${extra_args[@]}"
fi
cmake --build "$build_dir" -j "$jobs"

# Leak checking is on: the checkpoint tests run clean under LSan with LibTorch 1.13.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$build_dir"
ctest --output-on-failure -j "${VQ2D_TEST_JOBS:-2}" --timeout 900 "$@"
