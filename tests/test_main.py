"""The command line's answers to mistakes, for every shipped config: one line
naming what is wrong, no traceback, before any work.

Every config is checked in this process, along the path jaxgan.main takes
(its --config flag parser with the same overrides, the family's sample options
at their flag defaults, train.sample); the command line itself, its exit code
and its whole stderr, is checked for one config of each trainer family, since a
`python -m jaxgan.main` costs seconds of imports per config."""

import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from absl import flags

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(f"configs/{p.name}" for p in (REPO / "configs").glob("*.py"))
# BigGAN's configs also take the model flags the README documents.
BIGGAN = {Path(c).stem for c in CONFIGS if Path(c).stem.startswith(("biggan", "sagan", "quickstart"))}
# Every field the README documents can be overridden on every config; the one
# thing missing in --mode sample is a checkpoint, and that is said in one line.
OVERRIDES = ["--config.data.tfds_data_dir=/tmp/x", "--config.data.folder=/tmp/y"]
BIGGAN_OVERRIDES = ["--config.model.g.activation=silu", "--config.model.d.activation=silu"]


def _overrides(config: str) -> list[str]:
    return [*OVERRIDES, *(BIGGAN_OVERRIDES if Path(config).stem in BIGGAN else [])]


def _variant_message(config: str) -> str:
    return f"unknown variant 'nosuchvariant' of {config}; known: '' (the full run), 'smoke'"


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


def _parse_config(argv: list[str]):
    """The config jaxgan.main's --config flag gives for argv (`prog --config
    FILE[:variant] OVERRIDES...`): the same parser, on flags of its own."""
    from jaxgan import configs

    flag_values = flags.FlagValues()
    holder = configs.DEFINE_config_file("config", "config file", flag_values, sys_argv=argv)
    flag_values(argv)
    return holder.value


class _SampleFlagDefaults:
    """jaxgan.main's --mode sample flags as given none of them: their defaults."""

    def __getattr__(self, name):
        return flags.FLAGS[name].default


@pytest.mark.parametrize("config", CONFIGS)
def test_sample_mode_without_a_checkpoint_is_the_only_error_with_data_and_model_overrides(
        config, tmp_path, monkeypatch, capfd, caplog):
    from jaxgan import train, trainers

    monkeypatch.chdir(REPO)
    caplog.set_level(logging.INFO)
    trainers.define_sample_flags()  # as jaxgan.main does (a flag defined already is kept)
    workdir = tmp_path / Path(config).stem
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = _parse_config(["jaxgan", "--config", config, *_overrides(config)])
        options = trainers.trainer_class(c.trainer).sample_options(_SampleFlagDefaults())
        with pytest.raises(FileNotFoundError) as e:  # what jaxgan.main says in one line
            train.sample(c, str(workdir), **options)
    assert str(e.value).startswith("no checkpoint in ") and "\n" not in str(e.value), str(e.value)
    # Nothing else said: jaxgan.main logs at INFO (absl's and jax's loggers at WARNING).
    said = [r for r in caplog.records if r.levelno >= logging.WARNING or r.name.split(".")[0] not in ("absl", "jax")]
    assert not said, [r.getMessage() for r in said]
    assert not capfd.readouterr().err
    shown = [w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    assert not shown, [str(w.message) for w in shown]


@pytest.mark.parametrize("config", CONFIGS)
def test_an_unknown_variant_fails_at_once_naming_the_variants(config, monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(flags.IllegalFlagValueError) as e:
        _parse_config(["jaxgan", "--config", f"{config}:nosuchvariant"])
    # The variants after 'smoke' (SinGAN's applications) are the file's own.
    assert str(e.value).startswith(f"--config: {_variant_message(config)}") and "\n" not in str(e.value), str(e.value)


def test_the_command_line_says_both_in_one_line_for_one_config_of_each_family(tmp_path):
    """The same two mistakes on the real command line, for the first config
    of each trainer family: the exit code, the one stderr line, no traceback,
    and an unknown variant fails before anything is created."""
    from jaxgan import configs

    first = {}  # config.trainer: its first config
    for config in CONFIGS:
        first.setdefault(configs.from_file(str(REPO / config)).trainer, config)
    picked = sorted(first.values())
    sample = [["--config", c, *_overrides(c), "--workdir", str(tmp_path / "sample" / Path(c).stem),
               "--mode", "sample"] for c in picked]
    (tmp_path / "variant").mkdir()
    variant = [["--config", f"{c}:nosuchvariant", "--workdir", str(tmp_path / "variant")] for c in picked]
    procs = _run_all(sample + variant)
    for config, proc in zip(picked, procs[:len(picked)]):
        lines = _error_lines(proc)
        assert proc.returncode == 1, (config, proc.stderr[-2000:])
        assert len(lines) == 1 and lines[0].startswith("error: no checkpoint in "), (config, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
    for config, proc in zip(picked, procs[len(picked):]):
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, (config, proc.stderr[-2000:])
        assert _variant_message(config) in proc.stderr, (config, proc.stderr[-2000:])
    assert not any((tmp_path / "variant").iterdir())  # nothing was started


@pytest.mark.parametrize("override, message", [
    ("--config.model.g.activatoin=silu", "has no field 'activatoin' (did you mean 'activation'?)"),
    ("--config.data.source=nosuchsource", "unknown data source 'nosuchsource' (config.data.source)"),
])
def test_a_misspelt_field_or_a_bad_value_is_one_line(tmp_path, override, message):
    proc, = _run_all([["--config", "configs/quickstart.py:smoke", override, "--workdir", str(tmp_path)]])
    assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
