# shellcheck shell=bash
# Site setup for every vq2d Slurm job (sourced by slurm/vq2d_job.sh before anything runs).
# ===== EDIT FOR YOUR CLUSTER ====================================================================
# Load what the vq2d binary was built with (the same modules / conda env as the build), e.g.:
#   module load gcc/12 openmpi/4.1 cuda/12.1
#   source "$HOME/miniconda3/etc/profile.d/conda.sh" && conda activate vq2d
# Partition and account are #SBATCH lines at the top of slurm/vq2d_{val,test,prepare}.sh.
# ================================================================================================
