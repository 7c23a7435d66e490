#!/usr/bin/env bash
# The main job on the embedded synthetic default, end to end, on this machine:
#   setup (if needed) -> vq2d synth -> vq2d prepare -> mpirun -np 2 vq2d run -> merge -> eval -> render
#   -> report.
#
#   launch/demo.sh [DEMO_DIR]          (default: demo/ in the repository; reruns resume)
#
# The synthetic dataset and its demo model weights are random: the demo shows the machinery, not
# accuracy. Point config.yaml at the official checkpoints and the Ego4D data for real numbers.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=${1:-$here/demo}
np=${VQ2D_DEMO_RANKS:-2}
"$here/tools/setup.sh"
bin=$here/build/vq2d
config=$demo/config.yaml

flags=(-np "$np")
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
[ "$np" -gt "$(nproc)" ] && flags+=(--oversubscribe)

step() { printf '\n==== %s\n' "$*"; }

if [ ! -f "$config" ]; then
  step "synthetic Ego4D-format dataset -> $demo"
  "$bin" synth --out "$demo"
fi

step "prepare: HDF5 clip records of the val split ($np ranks)"
mpirun "${flags[@]}" "$bin" prepare --config "$config" --split val

step "run: the VQ2D pipeline over the val split ($np ranks)"
rc=0
mpirun "${flags[@]}" "$bin" run --config "$config" || rc=$?
"$bin" status --config "$config" || true
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
  echo "demo: 'vq2d run' exited with code $rc (see above); stopping here" >&2
  exit "$rc"
fi

step "merge -> official predictions file"
"$bin" merge --config "$config" || true
out_dir=$("$bin" config --config "$config" | awk -F'"' '/^visual_query.save_dir:/{s=$2} /^visual_query.exp_name:/{e=$2} END{sub(/\/+$/, "", s); print s "/" e}')
annotations=$("$bin" config --config "$config" | awk -F'"' '/^data.val_annotations:/{print $2}')

step "eval: official Ego4D VQ2D metrics"
"$bin" eval --predictions "$out_dir/predictions.json" --annotations "$annotations" --json "$out_dir/metrics.json"

step "render: one query, ground truth (green) and prediction (red)"
records=$("$bin" config --config "$config" | awk -F'"' '/^data.val_data_dir:/{print $2}')
record=$(find "$records" -maxdepth 1 -name '*.h5' | sort | head -n 1)
"$bin" render --record "$record" --predictions "$out_dir/predictions.json" --out "$out_dir/render/query.mp4"

step "report: one static HTML page (metrics, every query's pictures, failure categories, stage times)"
"$bin" report --config "$config" --out "$out_dir/report"
echo
echo "demo: metrics in $out_dir/metrics.json; pictures in $out_dir/render/ (query.mp4 and query.png);"
echo "      the report: $out_dir/report/report.html (open it in a browser)"
