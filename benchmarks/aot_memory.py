"""Ahead-of-time memory check: what one train step of a config needs per device,
from a compile only (no parameters are materialised, no step runs).

    python benchmarks/aot_memory.py --config configs/biggan_deep_256.py --batch 8 --grad-accum 1
    python benchmarks/aot_memory.py --config configs/biggan_128.py --per-device-batch 16 --devices 8
    python benchmarks/aot_memory.py --config configs/biggan_deep_256.py --topology v5e:4x4 --per-device-batch 16

The state comes from `jax.eval_shape(trainer.init_state)`; the step is jitted as
jaxgan/train.py jits it (state replicated and donated, the [num_d_steps, B, ...]
batch sharded on `data`), lowered against those abstract arrays and compiled.
Prints one JSON line: config, backend (the platform compiled for), device_kind,
topology, devices, global_batch, per_device_batch, grad_accum_steps,
num_d_steps, dtype, params_<network> (params_g, params_d), state_bytes (the whole state pytree),
the per-device figures of XLA's `compiled.memory_analysis()` (argument, output,
alias, temp and generated-code bytes), peak_estimate_bytes / peak_estimate_gib,
compile_s and error. Fields XLA does not report are null. A TPU (or GPU)
compiler refuses a step whose temporaries exceed the device memory: then the
memory fields are null, `error` holds its RESOURCE_EXHAUSTED message (with the
bytes it needed) and the exit status is 2. --buffers N adds the N
largest buffers live at the memory peak, named by the jax operations that
made them (from XLA's live-range dump; written to a temporary folder, or
kept in --dump-dir DIR with the optimised HLO and buffer assignment).

Devices: by default all local devices, as training uses them. --devices N on a
CPU fakes N host devices (XLA_FLAGS=--xla_force_host_platform_device_count=N,
set here before jax starts its backends); elsewhere it takes the first N.
--topology compiles for a TPU slice on any machine, TPU or not: it needs the TPU
PJRT plugin, the `libtpu` package (`pip install "jax[tpu]"`, which pins the
libtpu matching jax; best in a separate virtualenv). Names are libtpu's
TYPE:CHIPS, e.g. v5e:4x4 (v5litepod-16), v6e:2x2, v5p:2x2x2, v4:2x2x2; libtpu
describes a v4 chip as two devices (one per TensorCore), so v4 figures are per
core, not per megacore chip as a v4 runtime uses it.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import re
import sys
import tempfile
import time

if __name__ == "__main__" and not __package__:  # run as a file: import as `python -m benchmarks.NAME` would
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repo root, not benchmarks/

GIB = 1024 ** 3
MEMORY_FIELDS = ("argument_size_in_bytes", "output_size_in_bytes", "alias_size_in_bytes", "temp_size_in_bytes",
                 "generated_code_size_in_bytes")


def parse_args(argv=None):
    """(args, config): the config with its --config.FIELD=VALUE overrides, before
    --batch, --dtype, ... apply."""
    from jaxgan import configs

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="configs/NAME.py[:variant]; --config.FIELD=VALUE overrides "
                                                   "as for jaxgan.main")
    b = p.add_mutually_exclusive_group()
    b.add_argument("--batch", type=int, help="global batch per update (default: the config's)")
    b.add_argument("--per-device-batch", type=int, help="batch per device; the global batch is this x devices")
    p.add_argument("--devices", type=int, help="devices of the data mesh (CPU: fake host devices)")
    p.add_argument("--topology", help="compile for a TPU topology, e.g. v5e:4x4 (needs the libtpu package)")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], help="compute dtype (default: the config's)")
    p.add_argument("--grad-accum", type=int, help="micro-batches per update (default: the config's)")
    p.add_argument("--num-d-steps", type=int, help="D steps per G step (default: the config's)")
    p.add_argument("--height", type=int, help="image height (default: data.image_size; fully convolutional "
                                              "families such as pix2pixHD train on non-square crops)")
    p.add_argument("--width", type=int, help="image width (default: data.image_size)")
    p.add_argument("--buffers", type=int, default=0, metavar="N",
                   help="also list the N largest buffers live at the memory peak (from XLA's dump: with a "
                        "persistent compilation cache set JAX_ENABLE_COMPILATION_CACHE=false, a cached program dumps nothing)")
    p.add_argument("--dump-dir", metavar="DIR",
                   help="keep XLA's dump of the compiled step (optimised HLO, buffer assignment, live ranges) in DIR")
    args, config = configs.parse_args(p, argv)
    if args.topology and args.devices:
        p.error("--topology fixes the devices; leave out --devices")
    for name in ("batch", "per_device_batch", "devices", "grad_accum", "num_d_steps", "height", "width"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be positive")
    return args, config


def _setup_environment(args: argparse.Namespace) -> None:
    """Environment that jax reads when it starts its backends: must run before
    the first device query (importing jax alone is fine)."""
    if args.devices and os.environ.get("JAX_PLATFORMS", "cpu").startswith("cpu"):
        flag = f"--xla_force_host_platform_device_count={args.devices}"
        flags = re.sub(r"--xla_force_host_platform_device_count=\d+", "", os.environ.get("XLA_FLAGS", ""))
        os.environ["XLA_FLAGS"] = f"{flags} {flag}".strip()
    if args.topology:
        # Compile-only: no TPU is used, so keep jax's own backend on the CPU; a
        # worker list stops libtpu's error about the one it looks up on a TPU VM
        # (its "could not determine TPU accelerator type" warning stays: harmless).
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        os.environ.setdefault("TPU_WORKER_HOSTNAMES", "localhost")


def topology_devices(name: str) -> list:
    """The compile-only devices of TPU topology `name` (libtpu's TYPE:CHIPS)."""
    import importlib.util

    if importlib.util.find_spec("libtpu") is None:
        raise SystemExit(f"--topology {name} needs the TPU PJRT plugin, the `libtpu` package, which is not "
                         f"installed here: pip install \"jax[tpu]=={_jax_version()}\" (pins the matching libtpu; "
                         "best in a separate virtualenv, it works without TPU hardware); or leave out --topology "
                         "to compile for the local devices")
    from jax.experimental import topologies

    try:
        return list(topologies.get_topology_desc(topology_name=name, platform="tpu").devices)
    except Exception as e:  # noqa: BLE001 - libtpu's errors name the bad topology
        raise SystemExit(f"libtpu cannot describe topology {name!r} (use TYPE:CHIPS, e.g. v5e:4x4, v6e:2x2, "
                         f"v5p:2x2x2, v4:2x2x2): {e}") from e


def _jax_version() -> str:
    import jax

    return jax.__version__


def tree_bytes(tree) -> int:
    """Bytes of all arrays (concrete or abstract) of a pytree."""
    import jax
    import numpy as np

    return sum(math.prod(x.shape) * np.dtype(x.dtype).itemsize for x in jax.tree_util.tree_leaves(tree))


def peak_estimate(mem: dict) -> int | None:
    """Bytes one device needs while the step runs, from XLA's buffer assignment:
    the arguments (state + batch shard) are resident for the whole call, the
    outputs are allocated besides them, except the outputs aliased to donated
    arguments (the new state written in place of the old: counted once, hence
    minus alias), plus the temp allocation, which XLA sizes by simulating the
    heap over the scheduled program, so it is already the peak of all
    intermediates together (activations kept for the backward pass, gradients,
    optimizer temporaries), not their sum. The runtime adds a little more
    (generated code, the executable, allocator fragmentation): keep a margin."""
    if any(mem.get(k) is None for k in MEMORY_FIELDS[:4]):
        return None
    return (mem["argument_size_in_bytes"] + mem["output_size_in_bytes"] - mem["alias_size_in_bytes"]
            + mem["temp_size_in_bytes"])


def largest_buffers(dump_dir: str, n: int) -> dict | None:
    """The `n` largest buffers live at the step's memory peak, named by the jax
    operation that made them, from XLA's live-range dump of the compiled module
    (its "stack trace breakdown for peak usage")."""
    files = sorted(glob.glob(os.path.join(dump_dir, "*train_step*live-range.txt")), key=os.path.getsize)
    if not files:
        return None
    peak, buffers = None, []
    entry = re.compile(r"[├└]── (.*) \(([\d.]+)%, total: ([\d ]+) bytes, current: ([\d ]+) bytes")
    with open(files[-1], encoding="utf-8") as f:
        for line in f:
            if peak is None:
                m = re.search(r"Stack trace breakdown for peak usage: ([\d ]+) bytes", line)
                if m:
                    peak = int(m.group(1).replace(" ", ""))
                continue
            m = entry.search(line)
            if m and int(m.group(4).replace(" ", "")):
                buffers.append((int(m.group(4).replace(" ", "")), m.group(1)))
    buffers.sort(key=lambda b: -b[0])
    return {"peak_bytes": peak, "top": [{"bytes": b, "gib": round(b / GIB, 3), "op": name} for b, name in buffers[:n]]}


def step_batch(config, mesh, keys, batches_per_step: int, batch_size: int, abstract: bool,
               height: int | None = None, width: int | None = None):
    """A batch of the phase's `keys` ([batches_per_step, batch_size, ...],
    sharded as the loop shards it) of the config's data shape (images
    height x width, default data.image_size square): synthetic arrays, or
    their ShapeDtypeStructs (nothing allocated: the full-size configs'
    batches take gigabytes)."""
    import jax
    import numpy as np

    from jaxgan import parallel

    d = config.data
    h, w = height or d.image_size, width or d.image_size
    lead = (batches_per_step, batch_size)
    attributes = len(d.get("attributes") or ())  # StarGAN's attribute labels: 0/1 floats [c_dim] an image
    shapes = {"image": ((*lead, h, w, d.channels), np.float32),
              "label": ((*lead, attributes), np.float32) if attributes else (lead, np.int32),
              # image-to-image families: the input image, or pix2pixHD's label and instance maps
              "input": ((*lead, h, w, d.get("input_channels", 3)), np.float32),
              "label_map": ((*lead, h, w, 1), np.int32), "instance": ((*lead, h, w, 1), np.int32),
              "tokens": ((*lead, d.get("seq_len", 0)), np.int32)}  # sequence families' token ids
    missing = [k for k in keys if k not in shapes]
    if missing:
        raise ValueError(f"no synthetic batch for the keys {missing}")
    shapes = {k: shapes[k] for k in keys}
    sharding = parallel.batch_sharding(mesh, leading=1)
    if abstract:
        return {k: jax.ShapeDtypeStruct(shape, dtype, sharding=sharding) for k, (shape, dtype) in shapes.items()}
    rng = np.random.default_rng(0)
    uniform = lambda shape: rng.uniform(-1, 1, shape).astype(np.float32)
    ids = lambda high: lambda shape: rng.integers(0, max(high, 1), shape).astype(np.int32)
    labels = (lambda shape: rng.integers(0, 2, shape).astype(np.float32)) if attributes else ids(
        len(d.get("domains") or ()) or d.num_classes)
    draw = {"image": uniform, "input": uniform, "label": labels, "label_map": ids(d.get("label_nc", 0)),
            "instance": ids(1000), "tokens": ids(d.get("vocab_size", 0))}
    return parallel.global_batch({k: draw[k](shape) for k, (shape, _) in shapes.items()}, mesh, leading=1)


def main(argv=None) -> dict:
    args, config = parse_args(argv)
    _setup_environment(args)

    import jax

    from jaxgan import parallel, train
    from jaxgan.trainers import get_trainer

    if args.topology:
        devices = topology_devices(args.topology)
    else:
        devices = jax.devices()
        if args.devices:
            if args.devices > len(devices):
                raise SystemExit(f"--devices {args.devices}: only {len(devices)} {jax.default_backend()} device(s) "
                                 "here (on a CPU, XLA_FLAGS must be set before jax starts: run this script "
                                 "as a program, not after jax has been used)")
            devices = devices[:args.devices]
    n = len(devices)

    with config.unlocked():
        if args.per_device_batch:
            config.train.batch_size = args.per_device_batch * n
        elif args.batch:
            config.train.batch_size = args.batch
        if args.grad_accum:
            config.train.grad_accum_steps = args.grad_accum
        if args.num_d_steps:
            config.train.num_d_steps = args.num_d_steps
        if args.dtype:
            config.dtype = args.dtype
    mesh = parallel.make_mesh(devices)
    parallel.check_batch_size(config.train.batch_size, mesh)
    trainer = get_trainer(config, mesh)

    # As train.create_state and train_and_evaluate: state replicated, batch
    # [batches per step, B, ...] sharded on `data` along axis 1, the phase's
    # constants replicated; but only shapes. The last phase's steady state.
    replicated = parallel.replicated(mesh)
    state = train.abstract_state(trainer, config, mesh)
    phase = trainer.phases()[-1]
    n_d, batch_size = phase.num_batches(max(phase.num_steps, 1)), config.train.batch_size
    batch_sharding = parallel.batch_sharding(mesh, leading=1)
    batch = step_batch(config, mesh, phase.batch_keys, n_d, batch_size, True, args.height, args.width)
    constants = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=replicated),
                                       phase.load_constants(abstract=True))
    state_sharding = jax.tree_util.tree_map(lambda a: a.sharding, state)
    step_fn = phase.step_fn()

    def train_step(state, batch, constants):  # the name XLA's dump files (and --buffers) look for
        return step_fn(state, batch, constants)

    step = jax.jit(train_step, in_shardings=(state_sharding, batch_sharding, replicated),
                   out_shardings=(state_sharding, replicated), donate_argnums=0)

    dump_dir = args.dump_dir or (tempfile.mkdtemp(prefix="jaxgan-aot-") if args.buffers else None)
    options = {"xla_dump_to": dump_dir, "xla_dump_hlo_as_text": True, "xla_dump_hlo_module_re": "train_step"} \
        if dump_dir else None
    t0 = time.perf_counter()
    error = None
    try:
        compiled = step.lower(state, batch, constants).compile(compiler_options=options)
    except jax.errors.JaxRuntimeError as e:  # an accelerator compiler refuses what exceeds the device memory
        if "RESOURCE_EXHAUSTED" not in str(e):
            raise
        compiled, error = None, str(e).strip().splitlines()[0]
    compile_s = time.perf_counter() - t0

    stats = compiled.memory_analysis() if compiled is not None else None
    stats = stats[0] if isinstance(stats, (list, tuple)) else stats
    mem = {k: (int(getattr(stats, k)) if stats is not None and getattr(stats, k, None) is not None else None)
           for k in MEMORY_FIELDS}
    peak = peak_estimate(mem)
    result = {
        "config": args.config, "backend": devices[0].platform, "device_kind": devices[0].device_kind,
        "topology": args.topology, "devices": n, "global_batch": batch_size, "per_device_batch": batch_size // n,
        "grad_accum_steps": config.train.get("grad_accum_steps"), "num_d_steps": n_d, "dtype": config.dtype,
        "image_hw": [args.height or config.data.image_size, args.width or config.data.image_size],
        **{f"params_{name}": count for name, count in trainer.param_counts(state).items()},
        "state_bytes": tree_bytes(state), **mem, "peak_estimate_bytes": peak,
        "peak_estimate_gib": round(peak / GIB, 3) if peak is not None else None, "compile_s": round(compile_s, 2),
        "error": error,
    }
    if args.buffers:
        result["largest_buffers"] = largest_buffers(dump_dir, args.buffers)
    if dump_dir and not args.dump_dir:
        import shutil

        shutil.rmtree(dump_dir, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    sys.exit(2 if main()["error"] else 0)
