#!/bin/bash
# Shared body of slurm/vq2d_val.sh and slurm/vq2d_test.sh (sourced, not submitted).
# Inputs: SPLIT (val|test) and the script's arguments: [CONFIG] [--set key=value ...].
#
# One MPI rank per GPU. On USR1 (sent by Slurm to the batch shell --signal=B:USR1@300 seconds before
# the time limit) the ranks are told to stop: they finish or abandon their current clip within
# runner.grace_period_s, the outputs are merged, and the job requeues itself; the requeued job
# resumes where this one stopped. A job that ran out of clips merges and ends.
#
# Environment:
#   VQ2D_ROOT      checkout holding build/vq2d (default: the submit directory)
#   VQ2D_BIN       the vq2d binary (default: $VQ2D_ROOT/build/vq2d)
#   VQ2D_LAUNCHER  srun (default; srun --mpi=pmix) or mpirun (fallback inside the allocation when
#                  srun has no PMIx: check `srun --mpi=list`)
#   VQ2D_SRUN_MPI  the srun --mpi plugin (default pmix)
#   VQ2D_LOG_DIR   per-job logs (default: <submit dir>/logs/slurm/<job id>)
set -euo pipefail

VQ2D_ROOT=${VQ2D_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
BIN=${VQ2D_BIN:-$VQ2D_ROOT/build/vq2d}
LAUNCHER=${VQ2D_LAUNCHER:-srun}
CONFIG=$VQ2D_ROOT/config.yaml
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
  CONFIG=$1
  shift
fi
SETS=("$@")
JOB=${SLURM_JOB_ID:-local}
LOG_DIR=${VQ2D_LOG_DIR:-${SLURM_SUBMIT_DIR:-$PWD}/logs/slurm/$JOB}
mkdir -p "$LOG_DIR"

echo "[slurm] job $JOB split $SPLIT on ${SLURM_JOB_NUM_NODES:-1} node(s), ${SLURM_NTASKS:-1} task(s)," \
     "restart ${SLURM_RESTART_COUNT:-0}, launcher $LAUNCHER, config $CONFIG"
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

run_cmd=("$BIN" run --config "$CONFIG" --split "$SPLIT" "${SETS[@]}")
if [ "$LAUNCHER" = "srun" ]; then
  srun --mpi="${VQ2D_SRUN_MPI:-pmix}" --kill-on-bad-exit=1 --output="$LOG_DIR/rank-%t.out" "${run_cmd[@]}" &
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
echo "[slurm] run exited with code $rc"

merge_rc=0
"$BIN" merge --config "$CONFIG" --set "visual_query.split=$SPLIT" "${SETS[@]}" >"$LOG_DIR/merge.out" 2>&1 || merge_rc=$?
cat "$LOG_DIR/merge.out"
[ "$merge_rc" -le 3 ] || echo "[slurm] merge failed with code $merge_rc (see $LOG_DIR/merge.out)" >&2

if [ "$STOP_REQUESTED" -eq 1 ] || [ "$rc" -eq 4 ]; then
  echo "[slurm] stopped before the end; requeueing job $JOB to resume"
  scontrol requeue "$JOB" || echo "[slurm] requeue refused: resubmit the same command to resume" >&2
fi
exit "$rc"
