"""The command line's answers to mistakes, for every shipped config: one line
naming what is wrong, no traceback, before any work."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(f"configs/{p.name}" for p in (REPO / "configs").glob("*.py"))
# BigGAN's configs also take the model flags the README documents.
BIGGAN = {Path(c).stem for c in CONFIGS if Path(c).stem.startswith(("biggan", "sagan", "quickstart"))}


def _run_all(commands: list[list[str]], at_once: int = 4) -> list[subprocess.CompletedProcess]:
    """Runs the jaxgan.main commands, `at_once` side by side (each mostly
    imports; all of them at once would hold a Python with jax per config)."""
    out = []
    for start in range(0, len(commands), at_once):
        chunk = commands[start:start + at_once]
        procs = [subprocess.Popen([sys.executable, "-m", "jaxgan.main", *args], cwd=REPO, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for args in chunk]
        for args, proc in zip(chunk, procs):
            stdout, stderr = proc.communicate(timeout=300)
            out.append(subprocess.CompletedProcess(args, proc.returncode, stdout, stderr))
    return out


def _error_lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


def test_sample_mode_without_a_checkpoint_is_the_only_error_with_data_and_model_overrides(tmp_path):
    # Every field the README documents can be overridden on every config; the
    # one thing missing is a checkpoint, and that is said in one line.
    overrides = ["--config.data.tfds_data_dir=/tmp/x", "--config.data.folder=/tmp/y"]
    biggan = ["--config.model.g.activation=silu", "--config.model.d.activation=silu"]
    commands = [["--config", c, *overrides, *(biggan if Path(c).stem in BIGGAN else []), "--workdir",
                 str(tmp_path / Path(c).stem), "--mode", "sample"] for c in CONFIGS]
    for config, proc in zip(CONFIGS, _run_all(commands)):
        lines = _error_lines(proc)
        assert proc.returncode == 1, (config, proc.stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith("error: no checkpoint in "), (config, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr


def test_an_unknown_variant_fails_at_once_naming_the_variants(tmp_path):
    commands = [["--config", f"{c}:nosuchvariant", "--workdir", str(tmp_path)] for c in CONFIGS]
    for config, proc in zip(CONFIGS, _run_all(commands)):
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, (config, proc.stderr[-2000:])
        assert f"unknown variant 'nosuchvariant' of {config}; known: '' (the full run), 'smoke'" in proc.stderr
    assert not any(tmp_path.iterdir())  # nothing was started


@pytest.mark.parametrize("override, message", [
    ("--config.model.g.activatoin=silu", "has no field 'activatoin' (did you mean 'activation'?)"),
    ("--config.data.source=nosuchsource", "unknown data source 'nosuchsource' (config.data.source)"),
])
def test_a_misspelt_field_or_a_bad_value_is_one_line(tmp_path, override, message):
    proc, = _run_all([["--config", "configs/quickstart.py:smoke", override, "--workdir", str(tmp_path)]])
    assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
