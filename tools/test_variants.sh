#!/usr/bin/env bash
# Runs the built test suites under the CPU variants whose verdict must not differ (docs: tests give
# the same verdict on any x86-64 machine and thread count): ATen kernels for the native instruction
# set, ATEN_CPU_CAPABILITY=avx2 and =default, each with OMP_NUM_THREADS=1 and 2 (tests that set
# models.cpu_threads themselves keep their own count). Not part of tools/test.sh or CI by default:
# six full passes take about six times the suite's time (on 2 shared cores: well over an hour,
# dominated by the SAM 2 / ViT fixture tests of vq2d_core_tests). Build first (tools/setup.sh).
#
#   tools/test_variants.sh                       every suite, every variant
#   tools/test_variants.sh vq2d_core_tests --gtest_filter='*Bf16*'   one suite, gtest arguments
#   VQ2D_VARIANTS="avx2:1 default:2" tools/test_variants.sh          chosen variants (capability:threads)
#
# Prints one line per suite and variant (pass/fail, gtest's counts); exits 1 if any run failed.
# Not covered here: a CPU without AVX512 makes ATen skip oneDNN for bf16 matmul/conv (its check is
# the CPU's, not ATEN_CPU_CAPABILITY); see tests/core/sam2_video_test.cpp for the bf16 bounds.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${VQ2D_BUILD_DIR:-$here/build}
variants=${VQ2D_VARIANTS:-"native:1 native:2 avx2:1 avx2:2 default:1 default:2"}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

suites=()
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
  suites=("$1")
  shift
else
  for s in vq2d_base_tests vq2d_core_tests vq2d_checkpoint_tests vq2d_pipeline_tests vq2d_io_tests \
           vq2d_runner_tests vq2d_app_tests; do
    [ -x "$build_dir/tests/$s" ] && suites+=("$s")
  done
fi
[ ${#suites[@]} -gt 0 ] || { echo "test_variants: no test binaries under $build_dir/tests (run tools/setup.sh)" >&2; exit 2; }

failed=0
log_dir=$(mktemp -d)
for v in $variants; do
  cap=${v%%:*}
  threads=${v##*:}
  for s in "${suites[@]}"; do
    env_args=(OMP_NUM_THREADS="$threads")
    [ "$cap" = native ] || env_args+=(ATEN_CPU_CAPABILITY="$cap")
    log="$log_dir/$s.$cap.$threads.log"
    start=$(date +%s)
    # Run from the build's test folder as CTest does (relative paths in the tests resolve the same).
    if (cd "$build_dir/tests" && env "${env_args[@]}" "./$s" "$@" >"$log" 2>&1); then
      verdict=pass
    else
      verdict=FAIL
      failed=1
    fi
    counts=$(grep -E '^\[  (PASSED|FAILED)  \] [0-9]+ test' "$log" | tr '\n' ' ')
    echo "$s capability=$cap threads=$threads: $verdict ($counts) $(( $(date +%s) - start ))s"
    [ "$verdict" = pass ] || grep -E '^\[  FAILED  \] [A-Za-z]' "$log" | sort -u | sed 's/^/    /'
  done
done
echo "test_variants: logs in $log_dir"
exit $failed
