"""Seconds per iteration of a single-image GAN at each scale / stage on this
machine, with the matrix-product FLOPs of one iteration (benchmarks.step_flops)
and the rate they run at; and the CPU forms of the unpadded 3x3 convolutions
these models are made of against XLA's own.

    python benchmarks/single_image_step.py --config configs/consingan.py [--stages 4,5] [--iters 8]

Each figure is the best of 4 rounds of `iters` iterations (this machine's
speed varies from minute to minute); compiling is not timed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import jax.numpy as jnp

if __name__ == "__main__" and not __package__:  # run as a file: import as `python -m benchmarks.NAME` would
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not benchmarks/

from benchmarks.step_flops import matmul_flops  # noqa: E402
from jaxgan import configs, trainers  # noqa: E402
from jaxgan.models import conv_forms  # noqa: E402


def best_seconds(fn, *args, iters: int, rounds: int = 4) -> float:
    out = fn(*args)
    jax.block_until_ready(out)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iters):
            out = fn(*args)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - start) / iters)
    return best


def conv_forms_table(shapes, channels: int = 64, iters: int = 10) -> None:
    kernel = jax.random.normal(jax.random.key(1), (3, 3, channels, channels)) * 0.05
    none = ((0, 0), (0, 0))
    for h, w in shapes:
        x = jax.random.normal(jax.random.key(0), (1, h + 2, w + 2, channels))
        plain = best_seconds(jax.jit(lambda x, k: conv_forms.conv2d_xla(x, k, none)), x, kernel, iters=iters)
        form = best_seconds(jax.jit(lambda x, k: conv_forms.conv2d(x, k, none)), x, kernel, iters=iters)
        print(f"3x3 conv {channels}->{channels} to 1x{h}x{w}, no padding: XLA {plain * 1e3:.2f} ms, "
              f"CPU form {form * 1e3:.2f} ms ({plain / form:.2f}x)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/consingan.py")
    parser.add_argument("--stages", default="", help="comma-separated scales / stages (default: all)")
    parser.add_argument("--iters", type=int, default=4)
    args = parser.parse_args()
    config = configs.load(args.config)
    trainer = trainers.trainer_class(config.trainer)(config)
    conv_forms_table(trainer.shapes[-2:])
    state = trainer.init_state(jax.random.key(0))
    reals = [jnp.asarray(r) for r in trainer.reals]
    stages = [int(s) for s in args.stages.split(",")] if args.stages else range(trainer.num_scales)
    total = 0.0
    for s in stages:
        st = state.replace(step=jnp.int32(trainer.starts[s] + 1))  # inside the stage, not at its start
        step = jax.jit(lambda st, s=s: trainer.train_step(s, st, reals))
        flops = matmul_flops(lambda st, s=s: trainer.train_step(s, st, reals), st)
        seconds = best_seconds(lambda st: step(st)[0], st, iters=args.iters)
        total += seconds * trainer.iters[s]
        print(f"{trainer.phase_name} {s} {trainer.shapes[s]}: {seconds:.3f} s/iteration, "
              f"{flops / 1e9:.1f} GFLOP ({flops / seconds / 1e9:.0f} GFLOP/s)", flush=True)
    print(f"{[trainer.iters[s] for s in stages]} iterations of those {trainer.phase_name}s: "
          f"{total / 60:.1f} min without compiling")


if __name__ == "__main__":
    main()
