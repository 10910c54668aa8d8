"""How long a resumed run takes to get its state back, with and without
initialising a fresh state first.

    python benchmarks/resume_time.py --config configs/biggan_deep_256.py --workdir /tmp/resume

Writes one checkpoint of the config's initial state into --workdir (unless it
has one), then times in fresh subprocesses (each process compiles afresh;
JAX_ENABLE_COMPILATION_CACHE=false):
- `restore`: what train.restore_or_create does now, the abstract state from
  jax.eval_shape and the checkpoint restored into it;
- `init_then_restore`: a jitted init of the full state first, then the same
  restore (what resuming cost before).
Prints one JSON line: {config, restore_s, init_then_restore_s, params}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
import jax
from jaxgan import checkpoint, configs, parallel, train
from jaxgan.trainers import get_trainer
config = configs.load(sys.argv[1], sys.argv[4:])
mesh = parallel.make_mesh()
trainer = get_trainer(config, mesh)
ckpt = checkpoint.Checkpointer(sys.argv[2], config.ckpt.max_to_keep)
t0 = time.perf_counter()
if sys.argv[3] == "init_then_restore":
    jax.block_until_ready(train.create_state(trainer, config, mesh)[0])
state, _ = ckpt.restore(train.abstract_state(trainer, config, mesh))
jax.block_until_ready(state)
seconds = time.perf_counter() - t0
ckpt.close()
print(json.dumps({"seconds": seconds, "params": trainer.param_counts(state)}))
"""


def _child(args, mode: str) -> dict:
    env = {**os.environ, "JAX_ENABLE_COMPILATION_CACHE": "false"}
    proc = subprocess.run([sys.executable, "-c", CHILD, args.config, args.workdir, mode, *args.config_argv], env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="configs/NAME.py[:variant]; --config.FIELD=VALUE overrides "
                                                        "as for jaxgan.main")
    parser.add_argument("--workdir", required=True, help="where the checkpoint is written (and reused)")
    from jaxgan import configs

    args, config = configs.parse_args(parser, argv)

    from jaxgan import checkpoint, parallel, train
    from jaxgan.trainers import get_trainer

    ckpt = checkpoint.Checkpointer(args.workdir, config.ckpt.max_to_keep)
    if ckpt.latest_step() is None:
        t0 = time.perf_counter()
        mesh = parallel.make_mesh()
        state, _ = train.create_state(get_trainer(config, mesh), config, mesh)
        ckpt.save(0, state, {}, force=True)
        print(f"checkpoint of the initial state written in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    ckpt.close()
    restore = _child(args, "restore")
    init = _child(args, "init_then_restore")
    print(json.dumps({"config": args.config, "restore_s": round(restore["seconds"], 2),
                      "init_then_restore_s": round(init["seconds"], 2), "params": restore["params"]}))


if __name__ == "__main__":
    main()
