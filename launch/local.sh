#!/usr/bin/env bash
# Runs a vq2d job on this host with N MPI ranks, then merges the per-clip outputs.
#
#   launch/local.sh N [CONFIG] [--set key=value ...] [other `vq2d run` options]
#
# CONFIG defaults to config.yaml. Root-safe mpirun flags are added when running as root, and
# --oversubscribe when N exceeds the number of cores. Rerunning the same command resumes.
# Exit code: the run's (0 done, 3 some clips failed/quarantined, 4 stopped by a signal, 1 error),
# or 1 if the run succeeded but the merge failed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() { echo "usage: launch/local.sh N [config.yaml] [--set key=value ...] [vq2d run options]" >&2; exit 2; }
[ $# -ge 1 ] || usage
n=$1
shift
[[ $n =~ ^[1-9][0-9]*$ ]] || usage
config=config.yaml
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
  config=$1
  shift
fi
bin=${VQ2D_BIN:-$here/build/vq2d}
if [ -z "${VQ2D_BIN:-}" ]; then
  "$here/tools/setup.sh" >/dev/null  # builds when missing or stale; a no-op otherwise
fi

# --set overrides also apply to the merge (they may name the run directory).
merge_args=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--set" ] && [ $((i + 1)) -lt ${#args[@]} ]; then
    merge_args+=(--set "${args[$((i + 1))]}")
  fi
done

flags=(-np "$n")
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
[ "$n" -gt "$(nproc)" ] && flags+=(--oversubscribe)

rc=0
mpirun "${flags[@]}" "$bin" run --config "$config" "$@" || rc=$?
echo "[local] run exited with code $rc; merging"
merge_rc=0
"$bin" merge --config "$config" "${merge_args[@]}" || merge_rc=$?
if [ "$rc" -eq 0 ] && [ "$merge_rc" -ne 0 ] && [ "$merge_rc" -ne 3 ]; then
  rc=1
fi
exit "$rc"
