#!/bin/bash
# ===== SITE BLOCK: edit for your cluster (modules and conda env: slurm/site.sh) ==================
##SBATCH --partition=gpu           # drop one '#' and name your partition
##SBATCH --account=my-project      # drop one '#' and name your account, if your cluster needs one
#SBATCH --time=12:00:00
# ==================================================================================================
#SBATCH --job-name=vq2d-test
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=4        # one MPI rank per GPU (8 with 4 GPUs = two ranks per GPU)
#SBATCH --gpus-per-node=4          # every rank sees the node's GPUs; rank r uses cuda:<local_rank % gpus>
#SBATCH --cpus-per-task=8          # passed on to srun
#SBATCH --signal=B:USR1@300        # the batch shell gets USR1 five minutes before the limit
#SBATCH --requeue
#SBATCH --open-mode=append         # keep one log across requeues
#SBATCH --output=%x-%j.out         # in the submit directory (Slurm does not create folders)
#
# VQ2D on the test split: sbatch slurm/vq2d_test.sh [config.yaml] [--set key=value ...] [run options]
# Resumable: a requeued or resubmitted job continues where the last one stopped. Then:
#   vq2d status --config config.yaml --split test
#   vq2d submit --config config.yaml --out submission.json   (the eval.ai file)
# Output: <visual_query.save_dir>/<visual_query.exp_name>_test/ (the val run keeps <exp_name>/).
# Variant with one GPU per task (each rank sees only its own GPU): replace --gpus-per-node=4 with
# --gpus-per-task=1. Submitting from outside the checkout works (the checkout is found from the
# submitted script's path); otherwise set it: sbatch --export=ALL,VQ2D_ROOT=/path/to/vq2d ...
SPLIT="test"
: "${VQ2D_ROOT:=$(scontrol show job "${SLURM_JOB_ID:-0}" 2>/dev/null | sed -n 's|^ *Command=\(/[^ ]*\)/slurm/[^/ ]*.*|\1|p')}"
: "${VQ2D_ROOT:=${SLURM_SUBMIT_DIR:-$PWD}}"
[ -f "$VQ2D_ROOT/slurm/vq2d_job.sh" ] || { echo "[slurm] no vq2d checkout at '$VQ2D_ROOT': sbatch --export=ALL,VQ2D_ROOT=/path/to/vq2d ..." >&2; exit 1; }
# shellcheck source=slurm/vq2d_job.sh
source "$VQ2D_ROOT/slurm/vq2d_job.sh"
