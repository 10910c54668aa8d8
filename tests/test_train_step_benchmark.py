"""benchmarks/train_step.py: the JSON line it prints, and --fit-memory's search
for the largest batch under a memory limit (given explicitly on the CPU, whose
backend reports none)."""

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
KEYS = {"config", "backend", "devices", "global_batch", "num_d_steps", "params_g", "params_d", "compile_s",
        "step_s_median", "images_per_s", "flops_per_step", "mfu", "peak_mem_bytes", "compiled_mem_bytes", "xla_flops"}


def _run(argv):
    spec = importlib.util.spec_from_file_location("train_step_benchmark", REPO / "benchmarks" / "train_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        module.main(argv)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_fit_memory_measures_the_probe_then_a_larger_batch_that_fits():
    lines, log = _run(["--config", "configs/biggan_128.py:smoke", "--batch", "8", "--steps", "1",
                       "--fit-memory", "--memory-limit-gib", "0.25", "--peak-tflops", "1"])
    assert len(lines) == 2, log
    probe, fitted = lines
    assert KEYS <= set(probe) and probe["global_batch"] == 8 and probe["backend"] == "cpu"
    assert probe["step_s_median"] > 0 and probe["flops_per_step"] > 0 and probe["mfu"] > 0
    # The fitted batch is larger than the probe, a multiple of 8 per device, and
    # its compiled step fits the limit; FLOPs grow with the batch.
    assert fitted["global_batch"] > 8 and fitted["global_batch"] % (8 * fitted["devices"]) == 0, log
    assert fitted["compiled_mem_bytes"] <= 0.25 * 2**30
    assert fitted["flops_per_step"] > probe["flops_per_step"]
    assert "fit-memory: 8 needs" in log


def test_dry_run_counts_every_network_of_a_full_size_config_without_compiling():
    # BigGAN-deep 256 at its full batch of 2048: abstract state and batch only
    # (the real batch alone would be 1.6 GB); counts as DeepMind's released G
    # (tests/test_models.py) and the D of the same architecture.
    lines, log = _run(["--config", "configs/biggan_deep_256.py", "--dry-run", "--config.model.d.activation=silu"])
    result, = lines
    assert result["params"] == {"g": 55_880_833, "d": 38_247_426}
    assert result["params_g"] == 55_880_833 and result["params_d"] == 38_247_426
    assert result["global_batch"] == 2048 and result["flops_per_step"] > 0
    assert result["compile_s"] is None and "compiled" not in log
