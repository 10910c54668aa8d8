"""Train-step throughput, compile time, FLOPs, MFU and memory for a config.

    python benchmarks/train_step.py --config configs/biggan_deep_256.py --batch 8 --steps 3
    python benchmarks/train_step.py --config configs/biggan_128.py --dry-run
    python benchmarks/train_step.py --config configs/biggan_deep_256.py --dtype bfloat16 \
        --fit-memory --batch 32 --peak-tflops 989

Prints one JSON line per measured batch with: config, backend, devices,
global_batch, num_d_steps, params (per network, also as params_g, params_d), compile_s, step_s_median,
images_per_s, flops_per_step, mfu, peak_mem_bytes (plus the compiled program's
memory in `compiled_mem_bytes` and XLA's own count in `xla_flops`).
flops_per_step counts the matrix products and convolutions of the step's jaxpr
with every loop iteration (step_flops.py); XLA's cost analysis of the compiled
step counts a loop body once (the D updates and micro-batches are scans, and so
are the CPU's per-tap weight gradients), so it is reported beside it, not used.
MFU = flops_per_step / step_s_median / (peak_tflops * 1e12 * devices) and needs
--peak-tflops (per device). Fields the backend cannot give
are null. --dry-run counts parameters (`params`, per network) and FLOPs from
the abstract state (jax.eval_shape) without compiling: seconds, even for the
largest configs. One step is
the config's training step at the end of its last phase (BigGAN: num_d_steps D
updates + 1 G update + EMA) on synthetic data (no input pipeline cost).

--fit-memory looks for the largest batch whose step fits the device memory: it
measures --batch first, scales the compiled program's temporaries linearly to the
device's memory limit, and measures that batch, stepping down while the
compiled program or its run does not fit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

if __name__ == "__main__" and not __package__:  # run as a file: import as `python -m benchmarks.NAME` would
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not benchmarks/

if __name__ == "__main__":  # before JAX is imported: XLA:CPU steps are faster with huge pages
    from jaxgan import host_memory

    host_memory.reexec_with_huge_pages()

import jax  # noqa: E402

from benchmarks import aot_memory, step_flops  # noqa: E402
from jaxgan import configs, parallel, train  # noqa: E402
from jaxgan.trainers import get_trainer  # noqa: E402

# Headroom left for the allocator's fragmentation and the runtime's own buffers
# when --fit-memory picks a batch from the compiled program's memory.
FIT_FRACTION = 0.92


def compiled_memory(compiled) -> dict | None:
    """Bytes the compiled step needs on one device: aot_memory's peak estimate
    (arguments + outputs not aliased to them + temporaries) and its parts, or
    None where the backend cannot say."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # noqa: BLE001 - not every backend implements it
        return None
    if stats is None:
        return None
    mem = {k: int(getattr(stats, k)) for k in aot_memory.MEMORY_FIELDS[:4]}
    return {"arguments": mem["argument_size_in_bytes"], "temporaries": mem["temp_size_in_bytes"],
            "outputs": mem["output_size_in_bytes"] - mem["alias_size_in_bytes"],
            "total": aot_memory.peak_estimate(mem)}


def memory_limit(override_gib: float | None = None) -> int | None:
    if override_gib:
        return int(override_gib * 2**30)
    stats = jax.devices()[0].memory_stats() if hasattr(jax.devices()[0], "memory_stats") else None
    return int(stats["bytes_limit"]) if stats and "bytes_limit" in stats else None


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def measure(config, mesh, args, batch_size: int, check_fit: bool = False) -> dict:
    """Compiles and (unless --dry-run) times the step at `batch_size`. A dry
    run counts parameters and FLOPs from the abstract state (jax.eval_shape)
    and compiles nothing. With check_fit, raises MemoryError before running a
    program that does not fit."""
    with config.unlocked():
        config.train.batch_size = batch_size
    trainer = get_trainer(config, mesh)
    phase = trainer.phases()[-1]
    # The batches of the phase's last step: its steady state (WGAN's warm-up
    # critic iterations come first).
    train_step, n_d = phase.step_fn(), phase.num_batches(max(phase.num_steps, 1))
    abstract = train.abstract_state(trainer, config, mesh)
    keys = phase.batch_keys
    flops = float(step_flops.matmul_flops(train_step, abstract, aot_memory.step_batch(config, mesh, keys, n_d, batch_size, True),
                                          phase.load_constants(abstract=True)))
    params = trainer.param_counts(abstract)
    result = {
        "config": args.config, "backend": jax.default_backend(), "devices": jax.device_count(),
        "dtype": config.dtype, "global_batch": batch_size, "num_d_steps": n_d, "params": params,
        **{f"params_{name}": n for name, n in params.items()}, "flops_per_step": flops,
        "compile_s": None, "step_s_median": None, "images_per_s": None, "mfu": None, "peak_mem_bytes": None,
        "xla_flops": None, "compiled_mem_bytes": None,
    }
    if args.dry_run:
        print(json.dumps(result), flush=True)
        return result

    batch = aot_memory.step_batch(config, mesh, keys, n_d, batch_size, False)
    t0 = time.perf_counter()
    state, _ = train.create_state(trainer, config, mesh)
    jax.block_until_ready(state)
    _progress(f"batch {batch_size}: state created in {time.perf_counter() - t0:.1f} s (init compile included)")
    t0 = time.perf_counter()
    constants = jax.device_put(phase.load_constants(), parallel.replicated(mesh))
    compiled = jax.jit(train_step, donate_argnums=0).lower(state, batch, constants).compile()
    compile_s = time.perf_counter() - t0
    _progress(f"batch {batch_size}: step compiled in {compile_s:.1f} s")
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    mem = compiled_memory(compiled)
    limit = memory_limit(args.memory_limit_gib)
    if check_fit and mem and limit and mem["total"] > limit:
        raise MemoryError(f"batch {batch_size}: the compiled step needs {mem['total'] / 2**30:.1f} GiB "
                          f"of {limit / 2**30:.1f} GiB")

    times = []
    for i in range(args.steps + 1):
        t0 = time.perf_counter()
        state, metrics = compiled(state, batch, constants)
        jax.block_until_ready(metrics)
        if i:  # the first run includes one-off allocation
            times.append(time.perf_counter() - t0)
        _progress(f"batch {batch_size}: step {i} took {time.perf_counter() - t0:.3f} s")
    step_s = statistics.median(times)
    stats = jax.devices()[0].memory_stats() if hasattr(jax.devices()[0], "memory_stats") else None
    result.update({
        "compile_s": round(compile_s, 2), "step_s_median": step_s, "images_per_s": batch_size * n_d / step_s,
        "mfu": flops / step_s / (args.peak_tflops * 1e12 * jax.device_count()) if args.peak_tflops else None,
        "peak_mem_bytes": int(stats["peak_bytes_in_use"]) if stats and "peak_bytes_in_use" in stats else None,
        "xla_flops": float(cost["flops"]) if cost and "flops" in cost else None,
        "compiled_mem_bytes": mem["total"] if mem else None,
    })
    print(json.dumps(result), flush=True)
    result["_memory"] = mem
    return result


def _is_out_of_memory(e: Exception) -> bool:
    return isinstance(e, MemoryError) or "RESOURCE_EXHAUSTED" in str(e) or "out of memory" in str(e).lower()


def fit_memory(config, mesh, args) -> dict:
    """The largest batch that fits, found from one probe at --batch (see module doc)."""
    quantum = jax.device_count() * 8
    probe = measure(config, mesh, args, args.batch)
    mem, limit = probe["_memory"], memory_limit(args.memory_limit_gib)
    if not mem or not limit:
        raise SystemExit("--fit-memory needs the compiled program's memory analysis and the device's "
                         "memory limit (give --memory-limit-gib where the backend has none, e.g. CPU)")
    # Arguments (state + batch) barely grow with the batch; temporaries scale
    # with it. Ignoring their fixed part over-estimates the per-sample cost, so
    # the first guess errs small.
    per_sample = (mem["temporaries"] + max(mem["outputs"], 0)) / args.batch
    batch = int((FIT_FRACTION * limit - mem["arguments"]) / per_sample) // quantum * quantum
    _progress(f"fit-memory: {args.batch} needs {mem['total'] / 2**30:.2f} GiB of {limit / 2**30:.2f} GiB; "
              f"trying {batch}")
    while batch > args.batch:
        try:
            return measure(config, mesh, args, batch, check_fit=True)
        except Exception as e:  # noqa: BLE001 - only out-of-memory steps down
            if not _is_out_of_memory(e):
                raise
            _progress(f"fit-memory: {batch} does not fit ({str(e).splitlines()[0][:200]})")
            batch = int(batch * 0.85) // quantum * quantum
    return probe


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="configs/NAME.py[:variant]; --config.FIELD=VALUE overrides "
                                                   "as for jaxgan.main")
    p.add_argument("--batch", type=int, help="global batch per update (default: the config's; "
                                              "with --fit-memory the probe batch)")
    p.add_argument("--grad-accum", type=int,
                   help="micro-batches per update (default 1, or --config.train.grad_accum_steps)")
    p.add_argument("--num-d-steps", type=int, help="D steps per G step (default: the config's)")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], help="compute dtype (default: the config's)")
    p.add_argument("--steps", type=int, default=3, help="timed steps after the first")
    p.add_argument("--peak-tflops", type=float, help="peak TFLOP/s of one device, for MFU")
    p.add_argument("--dry-run", action="store_true", help="count parameters and FLOPs; compile and run nothing")
    p.add_argument("--fit-memory", action="store_true", help="find and time the largest batch that fits")
    p.add_argument("--memory-limit-gib", type=float,
                   help="memory of one device to fit into (default: the device's own limit)")
    args, config = configs.parse_args(p, argv)
    if args.grad_accum is None and "train.grad_accum_steps" not in args.config_overrides:
        args.grad_accum = 1
    with config.unlocked():
        if args.grad_accum and "grad_accum_steps" in config.train:
            config.train.grad_accum_steps = args.grad_accum
        if args.num_d_steps:
            config.train.num_d_steps = args.num_d_steps
        if args.dtype:
            config.dtype = args.dtype
    args.batch = args.batch or config.train.batch_size
    mesh = parallel.make_mesh()
    if args.fit_memory:
        if args.dry_run:
            p.error("--fit-memory runs the steps it finds; drop --dry-run")
        fit_memory(config, mesh, args)
    else:
        measure(config, mesh, args, args.batch)


if __name__ == "__main__":
    main()
