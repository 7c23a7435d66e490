#!/usr/bin/env bash
# CI job: builds the libFuzzer targets of tests/fuzz (clang, -fsanitize=fuzzer,address,undefined,
# only base + the checkpoint reader + io, in build-fuzz/) and runs each for N seconds with a 2 s
# per-input timeout and a memory limit. Fails on any crash, sanitizer report, leak, timeout or
# out-of-memory; the offending input is copied to tests/fuzz/regressions/<target>/ (commit it with
# the fix: the normal build's ctest replays that directory, FuzzRegressions.*).
#
#   tools/fuzz.sh                        every target, 30 s each (CI: 6 targets, ~3.5 min)
#   tools/fuzz.sh config predictions     some targets
#   VQ2D_FUZZ_SECONDS=600 tools/fuzz.sh  longer, by hand
#   VQ2D_FUZZ_BUILD_DIR=dir VQ2D_JOBS=2 VQ2D_FUZZ_RSS_MB=2048 tools/fuzz.sh
#
# Targets: config annotations predictions record (torch-free, link vq2d_io) and safetensors
# checkpoint (link vq2d_checkpoint). Seeds: tests/fuzz/corpus/<target>/; dictionaries:
# tests/fuzz/dict/. New corpus entries stay in build-fuzz/corpus/<target>/ (not committed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${VQ2D_FUZZ_BUILD_DIR:-$here/build-fuzz}
seconds=${VQ2D_FUZZ_SECONDS:-30}
rss_mb=${VQ2D_FUZZ_RSS_MB:-2048}
jobs=${VQ2D_JOBS:-$(nproc)}
all_targets=(config annotations predictions record safetensors checkpoint)
targets=("${all_targets[@]}")
[ $# -gt 0 ] && targets=("$@")
export CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=1

dict_of() {
  case "$1" in
    annotations|predictions) echo json ;;
    *) echo "$1" ;;
  esac
}

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  read -r -a extra_args <<< "${VQ2D_CMAKE_ARGS:-}"
  cmake -S "$here" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVQ2D_FUZZ=ON \
        -DCMAKE_C_COMPILER="${CC:-clang-14}" -DCMAKE_CXX_COMPILER="${CXX:-clang++-14}" "${extra_args[@]}"
fi
build_targets=()
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
start=$(date +%s)
cmake --build "$build_dir" -j "$jobs" --target "${build_targets[@]}"
echo "fuzz: build took $(( $(date +%s) - start )) s"

# Leaks are findings; UBSan reports abort (so libFuzzer records the input).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/tests/fuzz/lsan.supp:print_suppressions=0}

failed=()
summary=()
for t in "${targets[@]}"; do
  corpus="$build_dir/corpus/$t"
  artifacts="$build_dir/artifacts/$t"
  log="$build_dir/fuzz-$t.log"
  mkdir -p "$corpus" "$artifacts"
  rm -f "$artifacts"/*
  echo "fuzz: $t for ${seconds}s"
  rc=0
  "$build_dir/tests/fuzz/fuzz_$t" "$corpus" "$here/tests/fuzz/corpus/$t" "$here/tests/fuzz/regressions/$t" \
    -dict="$here/tests/fuzz/dict/$(dict_of "$t").dict" -max_total_time="$seconds" -timeout=2 \
    -rss_limit_mb="$rss_mb" -malloc_limit_mb="$rss_mb" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  summary+=("$(printf '%-12s %10s executions  exit %d' "$t" "${execs:-?}" "$rc")")
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    tail -n 60 "$log"
    mkdir -p "$here/tests/fuzz/regressions/$t"
    for f in "$artifacts"/*; do
      [ -f "$f" ] || continue
      cp "$f" "$here/tests/fuzz/regressions/$t/"
      echo "fuzz: $t: $(basename "$f") -> tests/fuzz/regressions/$t/ (fix, then commit it)"
    done
  fi
done
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (logs: $build_dir/fuzz-<target>.log)"
  exit 1
fi
echo "fuzz: no findings"
