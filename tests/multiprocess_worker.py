"""One process of tests/test_multiprocess.py (run as a script, not collected).

    python tests/multiprocess_worker.py MODE WORKDIR OUT_NPZ [MODE WORKDIR OUT_NPZ ...] [--devices N]
                                        [--set FIELD=VALUE ...]

MODE:
- train: a training run as one process of several; the coordinator, process
  count and id come from JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES /
  JAX_PROCESS_ID, which jaxgan.parallel reads.
- reference: one process whose input yields, at every step, the concatenation
  of the batches that processes 0 and 1 of a 2-process run read: the same
  global batches, on one process. Also writes the initial state's leaves to
  OUT_NPZ with `_initial` before `.npz`.
- restore: one process restores the latest checkpoint of WORKDIR, saves it, then
  trains two steps more from it.
- preempt: no model: one process of several loops over a tiny collective step,
  asking jaxgan.preemption.Preemption after each whether to stop, and prints
  the step it stopped after (WORKDIR and OUT_NPZ are not used).
Writes the final state's leaves to OUT_NPZ (process 0's file only names it).
Several MODE WORKDIR OUT_NPZ triples run one after the other in this process
(`reference ... restore ...`: one start-up, and with a compilation cache the
restore reuses the reference's programs, which are the same).
`--set train.num_steps=100` changes a field of the config (a Python literal).
"""

import ast
import os
import sys
import time

DEVICES = int(sys.argv[sys.argv.index("--devices") + 1]) if "--devices" in sys.argv else 8
# Before jax is imported: this process's own number of fake CPU devices.
flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if "force_host_platform_device_count" not in f]
os.environ["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={DEVICES}"])
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxgan import configs, train  # noqa: E402
from jaxgan.data import build_input  # noqa: E402

CONFIG = "configs/quickstart.py:smoke"  # the MNIST-5k digits through the real input pipeline


def save_state(state, path):
    leaves = jax.tree_util.tree_leaves_with_path(state)
    np.savez(path, **{jax.tree_util.keystr(k): np.asarray(v.addressable_data(0)) for k, v in leaves})


class BothShards:
    """Yields process 0's and process 1's host batches (of a 2-process run) as one batch."""

    def __init__(self, data_config, *, batch_size, seed, process_index, process_count):
        assert (process_index, process_count) == (0, 1)
        self.shards = [build_input(data_config, batch_size=batch_size // 2, seed=seed, process_index=i,
                                   process_count=2) for i in range(2)]
        self.num_classes, self.image_shape = self.shards[0].num_classes, self.shards[0].image_shape

    def __iter__(self):
        return self

    def __next__(self):
        parts = [next(s) for s in self.shards]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def get_state(self):
        return {"shards": [s.get_state() for s in self.shards]}

    def set_state(self, state):
        for s, st in zip(self.shards, state["shards"]):
            s.set_state(st)


def overrides(argv):
    """{'train.num_steps': 100, ...} from the `--set FIELD=VALUE` arguments."""
    pairs = [argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--set"]
    return {field: ast.literal_eval(value) for field, value in pairs}


def preempt_loop():
    from jax.sharding import NamedSharding, PartitionSpec

    from jaxgan import parallel
    from jaxgan.preemption import Preemption

    parallel.maybe_initialize_distributed()
    mesh = parallel.make_mesh()
    x = parallel.global_batch(np.ones((jax.local_device_count(), 16), np.float32), mesh)
    step = jax.jit(lambda x: x * 0.5 + x.mean(), out_shardings=NamedSharding(mesh, PartitionSpec("data")))
    preemption = Preemption()
    print(f"process {jax.process_index()} agrees by {preemption.agreement}", flush=True)
    deadline = time.time() + 120
    try:
        for s in range(1, 10**9):
            x = step(x)
            x.block_until_ready()  # couples the processes as the gradient all-reduce does
            if preemption.stop_requested(s):
                print(f"process {jax.process_index()} stopped after step {s}", flush=True)
                break
            if s == 2:
                print(f"process {jax.process_index()} looping", flush=True)
            if time.time() > deadline:
                raise SystemExit(f"process {jax.process_index()}: no stop after {s} steps")
            time.sleep(0.002)
    finally:
        preemption.restore()
    later = Preemption()  # the sync point is used up: a later run in these processes all-gathers
    later.restore()
    print(f"process {jax.process_index()} then agrees by {later.agreement}", flush=True)


def runs(argv):
    """The (MODE, WORKDIR, OUT_NPZ) triples before the first option."""
    positional = argv[1:next((i for i, a in enumerate(argv) if a.startswith("--")), len(argv))]
    if not positional or len(positional) % 3:
        raise SystemExit(__doc__)
    return [tuple(positional[i:i + 3]) for i in range(0, len(positional), 3)]


def main():
    for mode, workdir, out in runs(sys.argv):
        run(mode, workdir, out)


def run(mode, workdir, out):
    if mode == "preempt":
        preempt_loop()
        return
    config = configs.load(CONFIG)
    with config.unlocked():
        # Gradient rounding differs with the order of the all-reduce (gloo across
        # processes, in-process otherwise), and some gradients are zero up to that
        # rounding (G's conv biases feed BatchNorm) or nearly so. Adam divides by
        # |g| + eps: with a small eps it turns such noise into lr-sized steps of
        # random sign (eps 1e-6 gave 1e-4 differences; eps 1e-3 still did once G's
        # batch was sharded, adding G's all-reduce). With eps 0.1 a gradient below
        # 0.1 moves its parameter by lr * g / 0.1: noise stays noise-sized, and the
        # real gradients still move the parameters.
        config.optim.g.eps = config.optim.d.eps = 0.1
        # ReLU's gradient jumps at 0: when rounding moves a pre-activation across
        # 0, a gradient changes by that unit's whole share (tests/test_train.py's
        # sharded-vs-single test shows it). SiLU's gradient is continuous.
        config.model.g.activation = config.model.d.activation = "silu"
        for field, value in overrides(sys.argv).items():
            *parents, name = field.split(".")
            node = config
            for parent in parents:
                node = node[parent]
            node[name] = value
    if mode == "train":
        summary = train.train_and_evaluate(config, workdir)
        print(f"process {jax.process_index()} trained to step {summary['step']}", flush=True)
        _, _, state = train.restore_latest(config, workdir)
        save_state(state, out.replace(".npz", f"_{jax.process_index()}.npz"))
    elif mode == "reference":
        from jaxgan import parallel
        from jaxgan.trainers import get_trainer

        mesh = parallel.make_mesh()
        initial, _ = train.create_state(get_trainer(config, mesh), config, mesh)
        save_state(initial, out.replace(".npz", "_initial.npz"))
        build_input, train.build_input = train.build_input, BothShards
        try:
            train.train_and_evaluate(config, workdir)
        finally:
            train.build_input = build_input
        _, _, state = train.restore_latest(config, workdir)
        save_state(state, out)
    elif mode == "restore":
        _, _, state = train.restore_latest(config, workdir)
        save_state(state, out)
        with config.unlocked():
            config.train.num_steps += 2
        summary = train.train_and_evaluate(config, workdir)
        print(f"resumed to step {summary['step']}", flush=True)
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(f"process {jax.process_index()} of {jax.process_count()}, {jax.device_count()} devices: done", flush=True)


if __name__ == "__main__":
    main()
