#!/bin/bash
#SBATCH --job-name=vq2d-test
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=4        # one MPI rank per GPU
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=8
#SBATCH --time=12:00:00
#SBATCH --signal=B:USR1@300
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=%x-%j.out          # in the submit directory (Slurm does not create folders)
#
# VQ2D on the test split: sbatch slurm/vq2d_test.sh [config.yaml] [--set key=value ...]
# Then build the eval.ai file: vq2d submit --predictions <run dir>/predictions.json ...
SPLIT="test"
# shellcheck source=slurm/vq2d_job.sh
source "${VQ2D_ROOT:-${SLURM_SUBMIT_DIR:-.}}/slurm/vq2d_job.sh"
