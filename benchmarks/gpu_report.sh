#!/bin/bash
# The GPU rows of the README's performance table, in one call on a lent
# H100/H200 (the device image has python3 with JAX+CUDA, flax, optax, orbax;
# ml-collections and clu travel as wheels in .whl/):
#
#   bash benchmarks/gpu_report.sh            # JSON lines on stdout, logs in $OUT
#
# 1. a smoke step (stops here if the stack does not run);
# 2. BigGAN-deep 256 in bf16 at the largest batch that fits (--fit-memory);
# 3. BigGAN 128 in bf16 at BigGAN-PyTorch's batch 256, if time is left.
# MFU uses 989 TFLOP/s, the H100/H200 SXM datasheet's dense bf16 peak.
#
# Status (2026-11-26, one H200, 15-minute lease): no number yet. The smoke
# compile with XLA's default autotuning passed 120 s; with
# XLA_FLAGS=--xla_gpu_autotune_level=0 creating BigGAN-deep 256's state took
# 180 s and the step had not compiled by the end of the lease. Compile time is
# the first thing to cut before this fits a lease (SMOKE=0 skips step 1).
# Since then (stop 16) the init takes each model's noise from one random draw
# (jaxgan/models/init_noise.py): on the CPU the init compile went 66 -> 19 s;
# the GPU's figure is unmeasured.
set -u
OUT=${OUT:-/tmp/gpu_report}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_MEM_FRACTION=0.95
export JAX_COMPILATION_CACHE_DIR=/tmp/jax_cache
BUDGET_S=${BUDGET_S:-560}
if [ -d .whl ] && ! python3 -c "import ml_collections, clu" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
python3 -c "import jax, flax, optax, orbax.checkpoint as o; print('jax', jax.__version__, 'flax', flax.__version__,
'optax', optax.__version__, 'orbax', o.__version__, jax.devices())"

left() { echo $((BUDGET_S - SECONDS)); }
[ "${SMOKE:-1}" = 0 ] || timeout 120 python3 benchmarks/train_step.py --config configs/biggan_deep_256.py:smoke --dtype bfloat16 \
  --batch 8 --steps 2 2>&1 | tee "$OUT/smoke.log" | grep -v "^W0\|^I0"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "smoke step failed"; exit 1; }

timeout $(( $(left) - 60 )) python3 benchmarks/train_step.py --config configs/biggan_deep_256.py \
  --dtype bfloat16 --fit-memory --batch 32 --steps 5 --peak-tflops 989 2>&1 | tee "$OUT/deep256.log" \
  | grep -v "^W0\|^I0"
echo "deep256 exit ${PIPESTATUS[0]}, ${SECONDS}s"

if [ "$(left)" -gt 100 ]; then
  timeout $(( $(left) - 10 )) python3 benchmarks/train_step.py --config configs/biggan_128.py \
    --dtype bfloat16 --batch 256 --steps 5 --peak-tflops 989 2>&1 | tee "$OUT/biggan128.log" \
    | grep -v "^W0\|^I0"
fi
echo "total ${SECONDS}s"
