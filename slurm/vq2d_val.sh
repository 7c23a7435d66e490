#!/bin/bash
#SBATCH --job-name=vq2d-val
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=4        # one MPI rank per GPU
#SBATCH --gpus-per-node=4          # every rank sees the node's GPUs; rank r uses local_rank % gpus
#SBATCH --cpus-per-task=8
#SBATCH --time=12:00:00
#SBATCH --signal=B:USR1@300        # the batch shell gets USR1 five minutes before the limit
#SBATCH --requeue
#SBATCH --open-mode=append         # keep one log across requeues
#SBATCH --output=%x-%j.out          # in the submit directory (Slurm does not create folders)
#
# VQ2D on the validation split: sbatch slurm/vq2d_val.sh [config.yaml] [--set key=value ...]
# Resumable: a requeued or resubmitted job continues where the last one stopped. Then:
#   vq2d status --config config.yaml     vq2d eval --predictions <run dir>/predictions.json ...
SPLIT="val"
# shellcheck source=slurm/vq2d_job.sh
source "${VQ2D_ROOT:-${SLURM_SUBMIT_DIR:-.}}/slurm/vq2d_job.sh"
