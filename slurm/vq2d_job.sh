#!/bin/bash
# Shared body of slurm/vq2d_val.sh, slurm/vq2d_test.sh and slurm/vq2d_prepare.sh (sourced, not
# submitted). Inputs: SPLIT (val|test), VQ2D_COMMAND (run, default, or prepare), VQ2D_ROOT (the
# checkout, resolved by the submit script) and the script's arguments:
#   [CONFIG] [--set key=value ...] [other options of `vq2d run` / `vq2d prepare`]
#
# run: one MPI rank per GPU. On USR1 (sent by Slurm to the batch shell --signal=B:USR1@300 seconds
# before the time limit) the ranks are told to stop: they finish or abandon their current clip within
# runner.grace_period_s, the finished clips are merged, and the job requeues itself; the requeued job
# resumes where this one stopped. A run that finishes merges and ends. A run that FAILS (exit code other
# than 0, 3 = some clips failed, 4 = stopped) is not merged, and the job exits with the run's code.
# prepare: the same, without the merge (records are the output).
#
# Exit code: the run's (0 done, 3 some clips failed or quarantined, 4 stopped and requeued, 1 error,
# other: the launcher's), or 1 when the run was fine but the merge failed.
#
# Environment:
#   VQ2D_BIN       the vq2d binary (default: $VQ2D_ROOT/build/vq2d)
#   VQ2D_LAUNCHER  srun (default; srun --mpi=pmix) or mpirun (fallback inside the allocation when
#                  srun has no PMIx: check `srun --mpi=list`)
#   VQ2D_SRUN_MPI  the srun --mpi plugin (default pmix)
#   VQ2D_LOG_DIR   per-job logs (default: <submit dir>/logs/slurm/<job id>)
set -euo pipefail

# shellcheck source=slurm/site.sh
source "$VQ2D_ROOT/slurm/site.sh"

BIN=${VQ2D_BIN:-$VQ2D_ROOT/build/vq2d}
LAUNCHER=${VQ2D_LAUNCHER:-srun}
COMMAND=${VQ2D_COMMAND:-run}
CONFIG=$VQ2D_ROOT/config.yaml
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
  CONFIG=$1
  shift
fi
ARGS=()
while [ $# -gt 0 ]; do  # --split given on the command line replaces the script's split
  case "$1" in
    --split) [ $# -ge 2 ] || { echo "[slurm] --split needs a value" >&2; exit 2; }; SPLIT=$2; shift 2 ;;
    --split=*) SPLIT=${1#--split=}; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
# Only the --set overrides also apply to the merge (they may name the run directory); options meant
# for `run` (--retry-failed, --debug-dump ...) are not merge options.
MERGE_SETS=()
for ((i = 0; i < ${#ARGS[@]}; i++)); do
  case "${ARGS[$i]}" in
    --set) [ $((i + 1)) -lt ${#ARGS[@]} ] && MERGE_SETS+=(--set "${ARGS[$((i + 1))]}") ;;
    --set=*) MERGE_SETS+=(--set "${ARGS[$i]#--set=}") ;;
  esac
done
JOB=${SLURM_JOB_ID:-local}
LOG_DIR=${VQ2D_LOG_DIR:-${SLURM_SUBMIT_DIR:-$PWD}/logs/slurm/$JOB}
mkdir -p "$LOG_DIR"

echo "[slurm] job $JOB: $COMMAND split $SPLIT on ${SLURM_JOB_NUM_NODES:-1} node(s), ${SLURM_NTASKS:-1} task(s)" \
     "x ${SLURM_CPUS_PER_TASK:-1} CPU(s), restart ${SLURM_RESTART_COUNT:-0}, launcher $LAUNCHER"
echo "[slurm] config $CONFIG; checkout $VQ2D_ROOT; logs in $LOG_DIR"
if [ ! -x "$BIN" ]; then
  echo "[slurm] $BIN is missing: build with tools/setup.sh (or set VQ2D_BIN)" >&2
  exit 1
fi

STOP_REQUESTED=0
RUN_PID=
# shellcheck disable=SC2317  # invoked by the trap
on_usr1() {
  STOP_REQUESTED=1
  echo "[slurm] USR1: time limit near; asking the ranks to stop"
  if [ -n "$RUN_PID" ]; then kill -USR1 "$RUN_PID" 2>/dev/null || true; fi
}
trap on_usr1 USR1
# SIGTERM / SIGINT to this shell (scancel --batch, preemption, an operator): the same clean stop,
# without asking for a requeue (Slurm requeues preempted jobs itself; a cancelled job stays so).
# shellcheck disable=SC2317  # invoked by the trap
on_term() {
  echo "[slurm] stop signal: asking the ranks to stop"
  if [ -n "$RUN_PID" ]; then kill -USR1 "$RUN_PID" 2>/dev/null || true; fi
}
trap on_term TERM INT
# mpirun on its own SIGTERM SIGTERMs the ranks and SIGKILLs them odls_base_sigkill_timeout seconds
# later (default 1): leave them runner.grace_period_s (default 120; raise this with it).
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-150}

JOB_BEFORE=
if [ "$COMMAND" = "run" ]; then
  JOB_BEFORE=$("$BIN" status --config "$CONFIG" --set "visual_query.split=$SPLIT" "${MERGE_SETS[@]}" \
    --last-job-stopped 2>/dev/null || true)
fi
run_cmd=("$BIN" "$COMMAND" --config "$CONFIG" --split "$SPLIT" "${ARGS[@]}")
if [ "$LAUNCHER" = "srun" ]; then
  # Since Slurm 22.05 srun does not inherit the batch job's --cpus-per-task: pass it on.
  srun_args=(--mpi="${VQ2D_SRUN_MPI:-pmix}" --kill-on-bad-exit=1 --output="$LOG_DIR/rank-%t.out")
  [ -n "${SLURM_CPUS_PER_TASK:-}" ] && srun_args+=(--cpus-per-task="$SLURM_CPUS_PER_TASK")
  srun "${srun_args[@]}" "${run_cmd[@]}" &
else
  mpirun "${run_cmd[@]}" >"$LOG_DIR/mpirun.out" 2>&1 &
fi
RUN_PID=$!
# `wait` returns early when a trapped signal arrives; wait again until the launcher has exited.
rc=0
while true; do
  wait "$RUN_PID" && rc=0 || rc=$?
  if kill -0 "$RUN_PID" 2>/dev/null; then continue; fi
  break
done
# mpirun exits 1 when it was SIGTERMed itself, even if every rank stopped cleanly (exit 4 each).
if [ "$COMMAND" = "run" ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ] &&
  JOB_AFTER=$("$BIN" status --config "$CONFIG" --set "visual_query.split=$SPLIT" "${MERGE_SETS[@]}" \
    --last-job-stopped 2>/dev/null) && [ "$JOB_AFTER" != "$JOB_BEFORE" ]; then
  rc=4
fi
echo "[slurm] $COMMAND exited with code $rc"

stopped=0
{ [ "$STOP_REQUESTED" -eq 1 ] || [ "$rc" -eq 4 ]; } && stopped=1
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ] && [ "$stopped" -eq 0 ]; then
  echo "[slurm] $COMMAND FAILED (code $rc): nothing merged; see the rank logs in $LOG_DIR" >&2
  exit "$rc"
fi

if [ "$COMMAND" = "run" ]; then
  merge_rc=0
  "$BIN" merge --config "$CONFIG" --set "visual_query.split=$SPLIT" "${MERGE_SETS[@]}" >"$LOG_DIR/merge.out" 2>&1 ||
    merge_rc=$?
  cat "$LOG_DIR/merge.out"
  # merge: 0 every clip, 3 some clips missing (failed, or not reached before a stop).
  if [ "$merge_rc" -ne 0 ] && [ "$merge_rc" -ne 3 ]; then
    echo "[slurm] merge FAILED (code $merge_rc): see $LOG_DIR/merge.out" >&2
    [ "$stopped" -eq 1 ] || exit 1
  fi
fi

if [ "$stopped" -eq 1 ]; then
  echo "[slurm] stopped before the end; requeueing job $JOB to resume"
  scontrol requeue "$JOB" || echo "[slurm] requeue refused: resubmit the same command to resume" >&2
fi
echo "[slurm] done (code $rc); logs in $LOG_DIR"
exit "$rc"
