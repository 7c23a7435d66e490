#!/usr/bin/env bash
# One-call device check for a GPU host (docs/gpu.md): builds the core layer, its tests and
# vq2d_model_bench against the host's pip torch with what tools/gpu_bundle.sh carried, runs the model
# parity tests on CUDA (fp32 on the fixtures' CPU tolerances; the bf16 tests on their documented
# bounds), the model benchmarks in fp32 and bf16, the clip benchmark (1, 2 and 4 ranks on the GPU),
# and writes a report. Every step runs under its own time limit inside a total budget (default
# 480 s), so the call ends in time with a report of what ran.
#
# Usage: tools/gpu_check.sh [--rehearse] [--bundle DIR] [--out DIR] [--budget SECONDS]
#   --rehearse  the same steps on this machine's CPU and system LibTorch, with small benchmark
#               sizes: checks the script, the bundle and the build before a device is spent on them
#   --bundle    tools/gpu_bundle.sh's folder (default <repo>/gpu_bundle)
#   --out       where the report goes (default $OUT/gpu_check, else <repo>/out/gpu_check)
#   --budget    total seconds (default 480; --rehearse: 4800 and every step limit x10)
# Exit status: 0 when every step passed, 1 when one failed (the report says which), 2 on bad usage.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rehearse=0
bundle=$root/gpu_bundle
out=${OUT:-$root/out}/gpu_check
budget=
while (($#)); do
  case "$1" in
    --rehearse) rehearse=1 ;;
    --bundle) bundle=${2:?--bundle needs a folder}; shift ;;
    --out) out=${2:?--out needs a folder}; shift ;;
    --budget) budget=${2:?--budget needs seconds}; shift ;;
    -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "gpu_check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
# The device call's 8 minutes; a rehearsal compiles on a slow shared CPU: 10x every limit.
scale=1
((rehearse)) && scale=10
budget=${budget:-$((480 * scale))}
[[ $budget =~ ^[0-9]+$ ]] || { echo "gpu_check: --budget '$budget' is not a number of seconds" >&2; exit 2; }
bundle=$(cd "$bundle" 2>/dev/null && pwd) || { echo "gpu_check: no bundle folder (run tools/gpu_bundle.sh)" >&2; exit 2; }

start=$SECONDS
mkdir -p "$out/logs"
report=$out/report.md
steps=$out/steps.tsv
: >"$steps"
failed=0

if ((rehearse)); then
  mode=rehearse device=cpu build=$root/build-gpucheck-rehearse
else
  mode=device device=cuda build=$root/build-gpucheck
fi
jobs=$(nproc 2>/dev/null || echo 2)

# step <name> <max seconds> <command...>: runs the command with its output in logs/<name>.log under
# min(max, what is left of the budget - 15 s for the report); records pass/fail/timeout and seconds.
step() {
  local name=$1 cap=$(($2 * scale))
  shift 2
  local left=$((budget - (SECONDS - start) - 15))
  local limit=$((cap < left ? cap : left))
  if ((limit <= 0)); then
    printf '%s\tskipped (budget spent)\t0\n' "$name" >>"$steps"
    failed=1
    return 1
  fi
  local t0=$SECONDS rc=0
  echo "== $name (limit ${limit}s)"
  timeout --kill-after=10 "$limit" "$@" >"$out/logs/$name.log" 2>&1 || rc=$?
  local verdict=pass
  if ((rc == 124 || rc == 137)); then
    verdict="timeout after ${limit}s"
  elif ((rc != 0)); then
    verdict="FAIL (exit $rc)"
  fi
  [[ $verdict == pass ]] || failed=1
  printf '%s\t%s\t%d\n' "$name" "$verdict" $((SECONDS - t0)) >>"$steps"
  echo "   $verdict, $((SECONDS - t0)) s"
  return $rc
}

# ---- host -----------------------------------------------------------------------------------------
host_info() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "repo: $(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  echo "cpus: $jobs"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  command -v nvcc >/dev/null && nvcc --version | tail -n 2
  cmake --version | head -n 1
  command -v ninja >/dev/null && echo "ninja $(ninja --version)"
  if ((!rehearse)); then
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
      "cuda available", torch.cuda.is_available(), "cxx11 abi", torch.compiled_with_cxx11_abi())'
  fi
  true
}
host_info >"$out/logs/host.log" 2>&1

# ---- configure + build ----------------------------------------------------------------------------
cmake_args=(-S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DVQ2D_CORE_ONLY=ON
  -DVQ2D_GTEST_SOURCE_DIR="$bundle/googletest")
command -v ninja >/dev/null && cmake_args+=(-G Ninja)
prefix="$bundle/nlohmann_json"
if ((!rehearse)); then
  torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null) || torch_prefix=
  prefix="$torch_prefix;$prefix"
  command -v nvcc >/dev/null && cmake_args+=(-DCMAKE_CUDA_COMPILER="$(command -v nvcc)")
fi
cmake_args+=(-DCMAKE_PREFIX_PATH="$prefix")
step configure 120 cmake "${cmake_args[@]}"
step build 330 cmake --build "$build" -j "$jobs" --target vq2d_core_tests vq2d_model_bench

# ---- parity tests on the device -------------------------------------------------------------------
# fp32 parity on the fixtures (their CPU tolerances) and the bf16-vs-fp32 bounds of REN and SAM 2.
parity_filter='VitRenParity.*:Sam2ImageEncoder.*:Sam2ImagePredictor.*:Sam2VideoPredictor.MatchesFixtures'
parity_filter+=':Sam2VideoPredictor.Bf16AutocastStaysCloseToFp32:RenEncoder.Bfloat16RunsAndStaysClose'
step parity 150 env VQ2D_TEST_DEVICE="$device" "$build/tests/vq2d_core_tests" --gtest_filter="$parity_filter" \
  --gtest_output="xml:$out/parity.xml"

# ---- benchmarks -----------------------------------------------------------------------------------
bench=$build/vq2d_model_bench
if ((rehearse)); then
  ren_sizes=(--batch-sizes 1 --warmup 0 --repeats 1)
  sam2_sizes=(--variants tiny --images 1 --frames 1)
  sam2_bf16=()  # CPU bf16 SAM 2 is not a usable precision without oneDNN bf16 (docs/gpu.md)
  clip_sizes=(--arch toy --frames 12 --queries 2 --ranks '1,2' --threads 1)
else
  ren_sizes=(--batch-sizes '1,4,16,32' --warmup 1 --repeats 3)
  sam2_sizes=(--variants 'tiny,base_plus,large' --images 8 --frames 16)
  sam2_bf16=(--bf16)
  # Official architectures, a short clip: 1,500 frames x 4 queries with ranks 1+2+4 (7 clips of work)
  # would not fit this step (docs/gpu.md, "The clip benchmark"); the per-frame and per-query work is
  # the same, only the video pass and the number of queries are shorter.
  clip_sizes=(--arch large --frames 60 --queries 2 --candidates 3 --track-steps 20 --expansion-frames 2
    --ranks '1,2,4')
fi
step bench_ren_fp32 90 "$bench" ren --device "$device" --dtype float32 "${ren_sizes[@]}"
if ((!rehearse)); then
  step bench_ren_bf16 90 "$bench" ren --device "$device" --dtype bfloat16 "${ren_sizes[@]}"
fi
step bench_sam2_fp32 90 "$bench" sam2 --device "$device" "${sam2_sizes[@]}"
if ((${#sam2_bf16[@]})); then
  step bench_sam2_bf16 90 "$bench" sam2 --device "$device" "${sam2_sizes[@]}" "${sam2_bf16[@]}"
fi

step bench_clip 150 "$bench" clip --device "$device" "${clip_sizes[@]}"

# ---- report ---------------------------------------------------------------------------------------
{
  echo "# vq2d GPU check ($mode, device $device)"
  echo
  echo '```'
  cat "$out/logs/host.log" 2>/dev/null
  echo '```'
  echo
  echo "| step | result | seconds |"
  echo "|---|---|---|"
  while IFS=$'\t' read -r n v s; do echo "| $n | $v | $s |"; done <"$steps"
  echo
  echo "Total: $((SECONDS - start)) s of a $budget s budget."
  echo
  echo "## Parity tests (VQ2D_TEST_DEVICE=$device)"
  echo
  echo '```'
  grep -E '^\[ +(OK|FAILED|SKIPPED|PASSED) +\]|Failure|exceeds|max \|diff\|' "$out/logs/parity.log" 2>/dev/null | head -n 80
  echo '```'
  for b in bench_ren_fp32 bench_ren_bf16 bench_sam2_fp32 bench_sam2_bf16 bench_clip; do
    [[ -f $out/logs/$b.log ]] || continue
    echo
    echo "## $b"
    echo
    echo '```'
    tail -n 40 "$out/logs/$b.log"
    echo '```'
  done
  echo
  echo "Not in this check: the pipeline, io, runner and app layers (OpenCV, HDF5, yaml-cpp and MPI have"
  echo "no C++ packages on the host and the bundle does not carry them; docs/gpu.md)."
  if ((failed)); then
    echo
    echo "Failed or timed-out steps: see logs/<step>.log next to this report."
  fi
} >"$report"
echo "gpu_check: report in $report"
exit $failed
