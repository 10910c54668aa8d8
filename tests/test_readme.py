"""The README's first command, run as written (relative paths) from a copy of
the repository, as a user runs it after cloning."""

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def _quickstart_line() -> str:
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return next(line for line in block.splitlines() if "jaxgan.main" in line)


def _copy_of_the_repository(destination: Path) -> Path:
    """The files a clone has (tracked, plus new ones not yet committed and not ignored)."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    for name in files:
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    return destination


def test_quickstart_line_trains_from_a_fresh_copy_with_relative_paths(tmp_path):
    install, _, command = _quickstart_line().partition(" && ")
    assert install == "pip install -e ."  # this environment has the package installed already
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "jaxgan.main"], argv
    config = argv.index("--config") + 1
    argv[config] += ":smoke"  # the same command at smoke size: 4 steps
    workdir = Path(argv[argv.index("--workdir") + 1])
    assert not workdir.is_absolute(), "the README's workdir is relative: that is what this test checks"
    clone = _copy_of_the_repository(tmp_path / "jaxgan")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, *argv[1:]], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "done: step 4" in proc.stdout
    run = clone / workdir
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["samples_ema_00000002.png",
                                                                       "samples_ema_00000004.png"]
    assert sorted(int(p.name) for p in (run / "checkpoints").iterdir() if p.name.isdigit()) == [2, 4]
