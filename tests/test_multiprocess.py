"""Two processes on this machine (coordinator on 127.0.0.1), 4 fake CPU devices
each, train a smoke config on the real MNIST-5k input pipeline with
jax.distributed: they agree, they equal one 8-device process on the same global
batches, and their checkpoint restores (and resumes) in a 1-process run. A
SIGTERM to one of them stops both after the same step, saved, and the rerun
resumes exactly."""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(REPO, "tests", "multiprocess_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra):
    # No persistent compilation cache: with the cache warm from the rest of the
    # suite, the 2-process runs aborted in gloo at their first step ("Received
    # data size doesn't match expected size", 3 times in a row), a collective
    # mismatch between the processes; with no cache they pass. (A 1-process run
    # may pass a cache of its own in `extra`.)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COORDINATOR", "JAX_COMPILATION_CACHE"))}
    env.update({"JAX_ENABLE_COMPILATION_CACHE": "false", **extra})
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
    # Both 1-process runs in one process (no gloo there), with a compilation
    # cache of its own, empty at the start: the restore's programs (the same
    # config on the same 8 devices) are the reference's, compiled once.
    restored = _run("reference", str(tmp / "one"), str(tmp / "one.npz"),
                    "restore", str(tmp / "two"), str(tmp / "restored.npz"),
                    env=_env(JAX_ENABLE_COMPILATION_CACHE="true", JAX_COMPILATION_CACHE_DIR=str(tmp / "xla")))
    return tmp, restored


@pytest.mark.slow
def test_both_processes_hold_the_same_state(runs):
    tmp, _ = runs
    a, b = _load(tmp / "two_0.npz"), _load(tmp / "two_1.npz")
    assert a.keys() == b.keys() and len(a) > 10
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.slow
def test_two_processes_equal_one_process_on_the_same_global_batches(runs):
    tmp, _ = runs
    two, one = _load(tmp / "two_0.npz"), _load(tmp / "one.npz")
    assert two.keys() == one.keys()
    assert int(two[".step"]) == int(one[".step"]) == 4
    for k in two:
        np.testing.assert_allclose(two[k], one[k], rtol=1e-5, atol=1e-5, err_msg=k)
    # Training moved the parameters: this is not a comparison of two initial
    # states (the reference process wrote its initial state, from the same
    # seed, before training).
    initial = _load(tmp / "one_initial.npz")
    assert initial.keys() == two.keys() and int(initial[".step"]) == 0
    kernel = ".g['params']['linear']['kernel']"
    assert np.abs(two[kernel] - initial[kernel]).max() > 1e-4

@pytest.mark.slow
def test_two_process_checkpoint_restores_and_resumes_in_one_process(runs):
    tmp, restored = runs
    two, fresh = _load(tmp / "two_0.npz"), _load(tmp / "restored.npz")
    assert two.keys() == fresh.keys()
    for k in two:
        np.testing.assert_array_equal(two[k], fresh[k], err_msg=k)
    assert "resumed to step 6" in restored.stdout
    assert "written by 2 processes, this run has 1" in restored.stderr


def _start_two(tmp, name, mode, *args, **env):
    """Processes 0 and 1 of a 2-process `mode` run, each logging to tmp/<name>_<i>.log."""
    port = _free_port()
    logs = [tmp / f"{name}_{i}.log" for i in range(2)]
    procs = []
    for i, log in enumerate(logs):
        with open(log, "w") as f:
            procs.append(subprocess.Popen(
                [sys.executable, WORKER, mode, *args, "--devices", "4"], cwd=REPO, stdout=f,
                stderr=subprocess.STDOUT, text=True,
                env=_env(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(i),
                         **env)))
    return procs, logs


def _wait_for(procs, logs, pattern, timeout=600):
    """Waits until every log in `logs` has a line matching `pattern`; kills the
    processes if that does not come."""
    deadline = time.time() + timeout
    try:
        while not all(re.search(pattern, log.read_text(), re.MULTILINE) for log in logs):
            for p, log in zip(procs, logs):
                assert p.poll() is None, log.read_text()[-5000:]
            assert time.time() < deadline, [log.read_text()[-2000:] for log in logs]
            time.sleep(0.2)
    except AssertionError:
        for p in procs:
            p.kill()
        raise


def _finish(procs, logs, timeout=600):
    """Both processes' output, once both have exited 0."""
    try:
        for p in procs:
            p.wait(timeout=timeout)
    finally:
        for p in procs:
            p.kill()
    outputs = [log.read_text() for log in logs]
    for p, out in zip(procs, outputs):
        # A crash's own traceback comes before the other process's shutdown errors.
        traceback = out[out.find("Traceback"):][:4000] if "Traceback" in out else ""
        assert p.returncode == 0, traceback + "\n...\n" + out[-3000:]
    return outputs


@pytest.mark.parametrize("service, sig, signalled", [
    ("true", "SIGTERM", (1,)), ("true", "SIGTERM", (0,)), ("true", "SIGINT", (0, 1)), ("false", "SIGTERM", (1,))])
def test_a_signal_to_some_processes_stops_all_after_the_same_step(service, sig, signalled, tmp_path):
    # Without the model: jax's preemption sync point (the signal on the coordinator's
    # process, the other, or Ctrl-C on both as `launch/tpu_vm.py stop` sends it),
    # and with jax's preemption service off the all-gather of the flags instead.
    procs, logs = _start_two(tmp_path, "loop", "preempt", "-", "-", JAX_ENABLE_PREEMPTION_SERVICE=service)
    _wait_for(procs, logs, r"^process \d looping")
    for i in signalled:
        procs[i].send_signal(getattr(signal, sig))
    outputs = _finish(procs, logs, timeout=120)
    agreement = "sync point" if service == "true" else "all-gather"
    steps = []
    for i, out in enumerate(outputs):
        assert f"process {i} agrees by {agreement}" in out and f"process {i} then agrees by all-gather" in out
        assert (f"{sig} received" in out) == (i in signalled)
        steps.append(re.findall(rf"^process {i} stopped after step (\d+)$", out, re.MULTILINE))
    assert steps[0] == steps[1] and len(steps[0]) == 1, outputs


@pytest.mark.slow
def test_sigterm_to_one_process_saves_the_same_step_on_both_and_the_rerun_resumes_exactly(runs, tmp_path):
    # Checkpoints and samples change no state: to step 4 this trains as `runs` does.
    common = ["--set", "ckpt.every_steps=100000", "--set", "samples.every_steps=0"]

    def run_to(num_steps, workdir, name):
        return _start_two(tmp_path, name, "train", str(tmp_path / workdir), str(tmp_path / f"{name}.npz"), *common,
                          "--set", f"train.num_steps={num_steps}")

    procs, logs = run_to(100000, "preempted", "preempted")
    _wait_for(procs, logs[:1], r"^step 1/")  # only process 0 writes; the steps are collective
    procs[1].send_signal(signal.SIGTERM)  # process 0 gets no signal
    outputs = _finish(procs, logs)
    assert "SIGTERM received" in outputs[1] and "SIGTERM received" not in outputs[0]
    stopped = [re.findall(r"stopping at step (\d+)", out) for out in outputs]
    assert stopped[0] == stopped[1] and len(stopped[0]) == 1, outputs
    step = int(stopped[0][0])
    saved = sorted(p.name for p in (tmp_path / "preempted" / "checkpoints").iterdir() if p.name.isdigit())
    assert saved == [str(step)] and step >= 1
    a, b = _load(tmp_path / "preempted_0.npz"), _load(tmp_path / "preempted_1.npz")
    assert int(a[".step"]) == step
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)

    # The uninterrupted run to compare with: the module's run to step 4 where the
    # stop came before it (usually), else one more run.
    target = 4 if step < 4 else step + 2
    outputs = _finish(*run_to(target, "preempted", "resumed"))
    assert all(f"trained to step {target}" in out for out in outputs)
    assert re.findall(r"^step (\d+)/", outputs[0], re.MULTILINE) == [str(s) for s in range(step + 1, target + 1)]
    if target == 4:
        straight = _load(runs[0] / "two_0.npz")
    else:
        _finish(*run_to(target, "straight", "straight"))
        straight = _load(tmp_path / "straight_0.npz")
    resumed = _load(tmp_path / "resumed_0.npz")
    assert straight.keys() == resumed.keys() and int(resumed[".step"]) == target
    for k in straight:
        np.testing.assert_array_equal(straight[k], resumed[k], err_msg=k)
