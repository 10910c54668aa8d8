"""Launch scripts: Cloud TPU VMs (`python -m launch.tpu_vm`) and SLURM GPU clusters (`slurm_gpu.sbatch`)."""
