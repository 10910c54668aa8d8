"""Two processes on this machine (coordinator on 127.0.0.1), 4 fake CPU devices
each, train a smoke config on the real MNIST-5k input pipeline with
jax.distributed: they agree, they equal one 8-device process on the same global
batches, and their checkpoint restores (and resumes) in a 1-process run."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(REPO, "tests", "multiprocess_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COORDINATOR")}
    env.update(extra)
    return env


def _load(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _run(*args, env=None):
    result = subprocess.run([sys.executable, WORKER, *args], cwd=REPO, env=env or _env(), capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multiprocess")
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, WORKER, "train", str(tmp / "two"), str(tmp / "two.npz"), "--devices", "4"],
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=_env(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2",
                                       JAX_PROCESS_ID=str(i)))
             for i in range(2)]
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=900)[0])
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-5000:]
    assert "process 1 of 2, 8 devices: done" in outputs[1]
    _run("reference", str(tmp / "one"), str(tmp / "one.npz"))
    restored = _run("restore", str(tmp / "two"), str(tmp / "restored.npz"))
    return tmp, restored


def test_both_processes_hold_the_same_state(runs):
    tmp, _ = runs
    a, b = _load(tmp / "two_0.npz"), _load(tmp / "two_1.npz")
    assert a.keys() == b.keys() and len(a) > 10
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_two_processes_equal_one_process_on_the_same_global_batches(runs):
    tmp, _ = runs
    two, one = _load(tmp / "two_0.npz"), _load(tmp / "one.npz")
    assert two.keys() == one.keys()
    assert int(two[".step"]) == int(one[".step"]) == 4
    for k in two:
        np.testing.assert_allclose(two[k], one[k], rtol=1e-5, atol=1e-5, err_msg=k)
    # Training moved the parameters: this is not a comparison of two initial states.
    import jax

    from jaxgan import config_base, parallel, train
    from jaxgan.trainers import get_trainer

    config = config_base.load(os.path.join(REPO, "configs", "quickstart.py:smoke"))
    initial, _ = train.create_state(get_trainer(config), config, parallel.make_mesh())
    kernel = ".g['params']['linear']['kernel']"
    assert np.abs(two[kernel] - np.asarray(jax.device_get(initial.g["params"]["linear"]["kernel"]))).max() > 1e-4

def test_two_process_checkpoint_restores_and_resumes_in_one_process(runs):
    tmp, restored = runs
    two, fresh = _load(tmp / "two_0.npz"), _load(tmp / "restored.npz")
    assert two.keys() == fresh.keys()
    for k in two:
        np.testing.assert_array_equal(two[k], fresh[k], err_msg=k)
    assert "resumed to step 6" in restored.stdout
    assert "written by 2 processes, this run has 1" in restored.stderr
