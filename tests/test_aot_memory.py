"""benchmarks/aot_memory.py: the per-device memory of a config's train step from
an ahead-of-time compile (8 fake CPU devices, see conftest.py)."""

import importlib.util
import json
import os
import math
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from jaxgan import configs
from jaxgan.trainers import get_trainer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "aot_memory.py"
CONFIG = "configs/biggan_128.py:smoke"
MEMORY = ("argument_size_in_bytes", "output_size_in_bytes", "alias_size_in_bytes", "temp_size_in_bytes",
          "peak_estimate_bytes")


def test_reports_per_device_memory_and_grows_with_the_batch(tmp_path):
    # --grad-accum 1: micro-batches of 8 and 16 both divide over the 8 devices, so
    # both steps shard the generator's batch and their memory compares like for like.
    run = subprocess.run([sys.executable, str(SCRIPT), "--config", CONFIG, "--devices", "8", "--batch", "8",
                          "--grad-accum", "1"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, run.stdout
    small = json.loads(lines[0])

    keys = {"config", "backend", "topology", "devices", "global_batch", "per_device_batch", "params_g", "params_d",
            "state_bytes", "generated_code_size_in_bytes", "peak_estimate_gib", "compile_s", *MEMORY}
    assert keys <= set(small)
    assert (small["config"], small["backend"], small["topology"]) == (CONFIG, "cpu", None)
    assert (small["devices"], small["global_batch"], small["per_device_batch"]) == (8, 8, 1)
    assert all(small[k] > 0 for k in ("params_g", "params_d", "state_bytes", *MEMORY))

    # The state is counted from its abstract shapes, and it is what each device
    # holds besides its shard of the batch; donated, it is aliased by the new state.
    config = configs.load(str(REPO / "configs/biggan_128.py") + ":smoke")
    abstract = jax.eval_shape(get_trainer(config).init_state, jax.random.key(config.seed))
    state_bytes = sum(math.prod(x.shape) * np.dtype(x.dtype).itemsize for x in jax.tree_util.tree_leaves(abstract))
    assert small["state_bytes"] == state_bytes
    n_d, res = config.train.num_d_steps, config.model.resolution
    batch_shard = n_d * small["per_device_batch"] * (res * res * 3 * 4 + 4)  # float32 images, int32 labels
    assert small["argument_size_in_bytes"] == state_bytes + batch_shard
    assert small["alias_size_in_bytes"] == state_bytes
    assert small["peak_estimate_bytes"] == (small["argument_size_in_bytes"] + small["output_size_in_bytes"]
                                            - small["alias_size_in_bytes"] + small["temp_size_in_bytes"])

    # Twice the batch, more activations.
    # --buffers reads XLA's dump, which a program from the persistent compilation cache does not write.
    env = {**os.environ, "JAX_ENABLE_COMPILATION_CACHE": "false"}
    run = subprocess.run([sys.executable, str(SCRIPT), "--config", CONFIG, "--devices", "8", "--batch", "16",
                          "--grad-accum", "1", "--buffers", "3", "--dump-dir", str(tmp_path / "dump")],
                         cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    large = json.loads([line for line in run.stdout.splitlines() if line.startswith("{")][-1])
    assert (large["global_batch"], large["per_device_batch"]) == (16, 2)
    assert large["state_bytes"] == state_bytes
    assert large["temp_size_in_bytes"] > small["temp_size_in_bytes"]
    assert large["peak_estimate_bytes"] > small["peak_estimate_bytes"]
    top = large["largest_buffers"]["top"]
    assert len(top) == 3 and all(b["bytes"] > 0 and b["op"] for b in top)
    # --dump-dir keeps XLA's dump of the step for a closer look.
    assert list((tmp_path / "dump").glob("*train_step*buffer-assignment.txt"))


@pytest.mark.skipif(importlib.util.find_spec("libtpu") is not None, reason="libtpu is installed")
def test_topology_without_libtpu_names_the_package():
    run = subprocess.run([sys.executable, str(SCRIPT), "--config", CONFIG, "--topology", "v5e:2x2"],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "libtpu" in run.stderr and "jax[tpu]" in run.stderr
