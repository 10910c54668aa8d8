"""Train-step throughput, compile time, FLOPs, MFU and memory for a config.

    python benchmarks/train_step.py --config configs/biggan_deep_256.py --batch 8 --steps 3
    python benchmarks/train_step.py --config configs/biggan_128.py --dry-run

Prints one JSON line with: config, backend, devices, global_batch, num_d_steps,
params_g, params_d, compile_s, step_s_median, images_per_s, flops_per_step,
mfu, peak_mem_bytes. FLOPs come from XLA's cost analysis of the compiled step;
MFU = flops_per_step / step_s_median / (peak_tflops * 1e12 * devices) and needs
--peak-tflops (per device). Fields the backend cannot give are null.
--dry-run compiles and counts without running a step. One step = num_d_steps D
updates + 1 G update + EMA on synthetic data (no input pipeline cost).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxgan import config_base, parallel, train  # noqa: E402
from jaxgan.models.layers import count_params  # noqa: E402
from jaxgan.trainers import get_trainer  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="configs/NAME.py[:variant]")
    p.add_argument("--batch", type=int, help="global batch per update (default: the config's)")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per update (default 1)")
    p.add_argument("--num-d-steps", type=int, help="D steps per G step (default: the config's)")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], help="compute dtype (default: the config's)")
    p.add_argument("--steps", type=int, default=3, help="timed steps after the first")
    p.add_argument("--peak-tflops", type=float, help="peak TFLOP/s of one device, for MFU")
    p.add_argument("--dry-run", action="store_true", help="compile and count, do not run")
    args = p.parse_args(argv)

    config = config_base.load(args.config)
    with config.unlocked():
        if args.batch:
            config.train.batch_size = args.batch
        config.train.grad_accum_steps = args.grad_accum
        if args.num_d_steps:
            config.train.num_d_steps = args.num_d_steps
        if args.dtype:
            config.dtype = args.dtype
    mesh = parallel.make_mesh()
    trainer = get_trainer(config, mesh)
    state, _ = train.create_state(trainer, config, mesh)
    n_d, batch_size, res = config.train.num_d_steps, config.train.batch_size, config.model.resolution
    rng = np.random.default_rng(0)
    batch = {"image": rng.uniform(-1, 1, (n_d, batch_size, res, res, 3)).astype(np.float32),
             "label": rng.integers(0, max(config.data.num_classes, 1), (n_d, batch_size)).astype(np.int32)}
    batch = parallel.global_batch(batch, mesh, leading=1)

    t0 = time.perf_counter()
    compiled = jax.jit(trainer.train_step, donate_argnums=0).lower(state, batch).compile()
    compile_s = time.perf_counter() - t0
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    flops = float(cost["flops"]) if cost and "flops" in cost else None

    times = []
    if not args.dry_run:
        for i in range(args.steps + 1):
            t0 = time.perf_counter()
            state, metrics = compiled(state, batch)
            jax.block_until_ready(metrics)
            if i:  # the first run includes one-off allocation
                times.append(time.perf_counter() - t0)
    step_s = statistics.median(times) if times else None

    peak_mem = None
    stats = jax.devices()[0].memory_stats() if hasattr(jax.devices()[0], "memory_stats") else None
    if stats and "peak_bytes_in_use" in stats:
        peak_mem = int(stats["peak_bytes_in_use"])
    devices = jax.device_count()
    mfu = None
    if flops and step_s and args.peak_tflops:
        mfu = flops / step_s / (args.peak_tflops * 1e12 * devices)
    print(json.dumps({
        "config": args.config, "backend": jax.default_backend(), "devices": devices, "dtype": config.dtype,
        "global_batch": batch_size, "num_d_steps": n_d,
        "params_g": count_params(state.g["params"]), "params_d": count_params(state.d["params"]),
        "compile_s": round(compile_s, 2), "step_s_median": step_s,
        "images_per_s": batch_size * n_d / step_s if step_s else None,
        "flops_per_step": flops, "mfu": mfu, "peak_mem_bytes": peak_mem,
    }))


if __name__ == "__main__":
    main()
