#!/bin/bash
# ===== SITE BLOCK: edit for your cluster (modules and conda env: slurm/site.sh) ==================
##SBATCH --partition=gpu           # drop one '#' and name your partition
##SBATCH --account=my-project      # drop one '#' and name your account, if your cluster needs one
#SBATCH --time=08:00:00
# ==================================================================================================
#SBATCH --job-name=vq2d-prepare
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=8        # CPU-only: decoding + resizing, one clip per rank at a time
#SBATCH --cpus-per-task=4          # passed on to srun
#SBATCH --signal=B:USR1@300
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%j.out
#
# Builds the HDF5 clip records of a split on CPU nodes (no GPU needed):
#   sbatch slurm/vq2d_prepare.sh [config.yaml] [--split val|test] [--set key=value ...]
# Resumable like the run: finished records are kept, a requeued or resubmitted job does the rest.
# The split defaults to val (or $VQ2D_SPLIT); --split test selects the test split.
SPLIT=${VQ2D_SPLIT:-val}
VQ2D_COMMAND=prepare
: "${VQ2D_ROOT:=$(scontrol show job "${SLURM_JOB_ID:-0}" 2>/dev/null | sed -n 's|^ *Command=\(/[^ ]*\)/slurm/[^/ ]*.*|\1|p')}"
: "${VQ2D_ROOT:=${SLURM_SUBMIT_DIR:-$PWD}}"
[ -f "$VQ2D_ROOT/slurm/vq2d_job.sh" ] || { echo "[slurm] no vq2d checkout at '$VQ2D_ROOT': sbatch --export=ALL,VQ2D_ROOT=/path/to/vq2d ..." >&2; exit 1; }
# shellcheck source=slurm/vq2d_job.sh
source "$VQ2D_ROOT/slurm/vq2d_job.sh"
