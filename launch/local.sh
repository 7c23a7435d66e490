#!/usr/bin/env bash
# Runs a vq2d job on this host with N MPI ranks, then merges the per-clip outputs.
#
#   launch/local.sh N [CONFIG] [--set key=value ...] [other `vq2d run` options]
#
# CONFIG defaults to config.yaml. Root-safe mpirun flags are added when running as root, and
# --oversubscribe when N exceeds the number of cores. Rerunning the same command resumes.
# Exit code: the run's (0 done, 3 some clips failed/quarantined, 4 stopped by a signal, 5 output
# directory full, 1 error),
# or 1 if the run succeeded but the merge failed.
#
# Stopping (docs/runner.md, "Signals"): SIGTERM, SIGINT or SIGUSR1 to this script, SIGUSR1 to
# mpirun, or SIGTERM to the ranks all give the clean stop (exit 4). SIGTERM to mpirun itself makes
# mpirun kill the job and exit 1; its ranks are given 150 s (OMPI_MCA_odls_base_sigkill_timeout,
# keep it above runner.grace_period_s) to stop cleanly, and when every rank did, this script exits 4.
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

# mpirun forwards SIGUSR1 to the ranks (their clean stop); on its own SIGTERM it SIGTERMs the ranks
# and SIGKILLs them after odls_base_sigkill_timeout seconds (default 1): leave them the grace period
# (runner.grace_period_s, default 120 s; raise this with it).
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-150}

run_pid=
# shellcheck disable=SC2317  # invoked by the trap
on_stop() {
  echo "[local] stop requested: asking the ranks to finish their clip and stop"
  if [ -n "$run_pid" ]; then kill -USR1 "$run_pid" 2>/dev/null || true; fi
}
trap on_stop TERM INT USR1
# The latest launch before this one (a SIGTERMed mpirun is recognised by a new launch that stopped).
job_before=$("$bin" status --config "$config" "${merge_args[@]}" --last-job-stopped 2>/dev/null || true)
rc=0
mpirun "${flags[@]}" "$bin" run --config "$config" "$@" &
run_pid=$!
# `wait` returns early when a trapped signal arrives; wait again until mpirun has exited.
while true; do
  wait "$run_pid" && rc=0 || rc=$?
  if kill -0 "$run_pid" 2>/dev/null; then continue; fi
  break
done
# mpirun exits 1 when it was SIGTERMed itself, even if every rank stopped cleanly (exit 4).
if [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ] &&
  job_after=$("$bin" status --config "$config" "${merge_args[@]}" --last-job-stopped 2>/dev/null) &&
  [ "$job_after" != "$job_before" ]; then
  rc=4
fi
echo "[local] run exited with code $rc; merging"
merge_rc=0
"$bin" merge --config "$config" "${merge_args[@]}" || merge_rc=$?
if [ "$rc" -eq 0 ] && [ "$merge_rc" -ne 0 ] && [ "$merge_rc" -ne 3 ]; then
  rc=1
fi
exit "$rc"
