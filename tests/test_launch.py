"""Launch scripts: the TPU VM CLI's gcloud commands (dry run), its remote scripts run
locally under tmux, and the SLURM sbatch script run with a stand-in srun."""

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from launch import tpu_vm

REPO = Path(__file__).resolve().parents[1]
SBATCH = REPO / "launch" / "slurm_gpu.sbatch"
PREFIX = ["gcloud", "compute", "tpus", "tpu-vm"]
CONFIG = "configs/biggan_deep_256.py"
WORKDIR = "gs://my-bucket/biggan deep"  # a space: quoting must survive

# (what the user types, gcloud's type, hosts, runtime version)
TYPES = [
    ("v4-8", "v4-8", 1, "tpu-ubuntu2204-base"),
    ("v5e-16", "v5litepod-16", 4, "v2-alpha-tpuv5-lite"),
    ("v5p-128", "v5p-128", 16, "v2-alpha-tpuv5"),
]


@pytest.fixture(autouse=True)
def no_gcloud(monkeypatch):
    """No test runs the real gcloud: commands that would run are recorded instead."""
    ran = []
    monkeypatch.setattr(tpu_vm, "_have_gcloud", lambda: True)
    monkeypatch.setattr(tpu_vm, "_execute", lambda cmd: ran.append(cmd) or 0)
    return ran


def dry_run(capsys, command, *argv):
    """(commands as token lists, hosts printed or None, stderr) of `main([command, --dry-run, ...])`."""
    assert tpu_vm.main([command, "--dry-run", *argv]) == 0
    out, err = capsys.readouterr()
    lines = [l for l in out.splitlines() if l.strip()]
    comments = [l for l in lines if l.startswith("#")]
    commands = [shlex.split(l) for l in lines if not l.startswith("#")]
    assert commands, out
    for cmd in commands:
        assert cmd[:4] == PREFIX, cmd
    hosts = None
    if comments:
        (m,) = [re.search(r"(\d+) hosts?\b", c) for c in comments]
        hosts = int(m.group(1))
    return commands, hosts, err


def flag(cmd, name):
    values = [t.split("=", 1)[1] for t in cmd if t.startswith(name + "=")]
    assert len(values) == 1, (name, cmd)
    return values[0]


def common(acc):
    return ["--name", "my-tpu", "--zone", "us-west4-a", "--accelerator-type", acc]


@pytest.mark.parametrize("acc,gcloud_type,hosts,version", TYPES)
def test_create(capsys, acc, gcloud_type, hosts, version):
    (cmd,), printed_hosts, _ = dry_run(capsys, "create", *common(acc), "--spot")
    assert cmd[4:6] == ["create", "my-tpu"]
    assert flag(cmd, "--accelerator-type") == gcloud_type
    assert flag(cmd, "--zone") == "us-west4-a"
    assert flag(cmd, "--version") == version
    assert "--spot" in cmd and "--preemptible" not in cmd
    assert not any(t.startswith("--project") for t in cmd)  # gcloud's default project
    assert printed_hosts == hosts
    assert tpu_vm.parse_accelerator_type(acc).hosts == hosts


@pytest.mark.parametrize("acc,gcloud_type,hosts,version", TYPES)
def test_setup_copies_and_installs_on_all_workers(capsys, acc, gcloud_type, hosts, version):
    commands, printed_hosts, _ = dry_run(capsys, "setup", *common(acc), "--project", "my-proj")
    assert printed_hosts == hosts
    for cmd in commands:
        assert flag(cmd, "--worker") == "all"
        assert flag(cmd, "--project") == "my-proj"
    (scp,) = [c for c in commands if c[4] == "scp"]
    assert "--recurse" in scp
    sources = [Path(t) for t in scp[5:] if not t.startswith("--") and ":" not in t]
    assert {p.name for p in sources} >= {"pyproject.toml", "jaxgan", "configs"}
    assert all(p.exists() for p in sources)
    assert "my-tpu:jaxgan" in scp
    install = flag(commands[-1], "--command")
    assert '"jax[tpu]"' in install and "-e ~/jaxgan" in install

    commands, _, _ = dry_run(capsys, "setup", *common(acc), "--repo", "https://example.com/jaxgan.git")
    (cmd,) = commands
    assert flag(cmd, "--worker") == "all"
    assert "git clone --quiet https://example.com/jaxgan.git ~/jaxgan" in flag(cmd, "--command")


@pytest.mark.parametrize("acc,gcloud_type,hosts,version", TYPES)
def test_run_starts_jaxgan_in_tmux_on_all_workers(capsys, acc, gcloud_type, hosts, version):
    (cmd,), printed_hosts, err = dry_run(capsys, "run", *common(acc), "--config", CONFIG, "--workdir", WORKDIR,
                                         "--", "--config.train.batch_size=2048")
    assert printed_hosts == hosts
    assert cmd[4:6] == ["ssh", "my-tpu"]
    assert flag(cmd, "--worker") == "all"
    assert flag(cmd, "--zone") == "us-west4-a"
    remote = shlex.split(flag(cmd, "--command"))
    i = remote.index("new-session")
    assert remote[i - 1] == "tmux" and remote[i + 1:i + 4] == ["-d", "-s", "jaxgan"]
    inner = remote[i + 4]
    assert "python -m jaxgan.main --config" in inner
    tokens = shlex.split(inner)
    j = tokens.index("jaxgan.main")
    assert tokens[j - 2].endswith("/bin/python") and tokens[j - 1] == "-m"
    assert tokens[j + 1:j + 6] == ["--config", CONFIG, "--workdir", WORKDIR, "--config.train.batch_size=2048"]
    assert "~/jaxgan-logs/worker-$W.log" in inner
    assert "warning" not in err


def test_run_warns_about_a_local_workdir_on_several_hosts(capsys):
    _, _, err = dry_run(capsys, "run", *common("v5e-16"), "--config", CONFIG, "--workdir", "runs/bd256")
    assert "warning" in err and "4 hosts" in err and "gs://" in err
    _, _, err = dry_run(capsys, "run", *common("v4-8"), "--config", CONFIG, "--workdir", "runs/bd256")
    assert "warning" not in err


def test_tail_stop_delete(capsys):
    (cmd,), _, _ = dry_run(capsys, "tail", "--name", "my-tpu", "--zone", "z", "--worker", "3")
    assert flag(cmd, "--worker") == "3"
    assert shlex.split(flag(cmd, "--command")) == ["tail", "-n", "100", "-F", "~/jaxgan-logs/worker-3.log"]
    (cmd,), _, _ = dry_run(capsys, "stop", "--name", "my-tpu", "--zone", "z")
    assert flag(cmd, "--worker") == "all" and "tmux send-keys -t jaxgan C-c" in flag(cmd, "--command")
    (cmd,), _, _ = dry_run(capsys, "delete", "--name", "my-tpu", "--zone", "z", "--project", "p")
    assert cmd[4:6] == ["delete", "my-tpu"] and "--quiet" in cmd and flag(cmd, "--project") == "p"


@pytest.mark.parametrize("acc,message", [
    ("v3-8", "unknown TPU generation 'v3'"),
    ("v9x-8", "unknown TPU generation"),
    ("v4-12", "multiple of 8"),
    ("v5e-12", "sizes are 1, 4, 8, 16"),
    ("v5p", "not an accelerator type"),
    ("tpu", "not an accelerator type"),
])
def test_bad_accelerator_types_are_clear_errors(capsys, acc, message):
    with pytest.raises(SystemExit) as e:
        tpu_vm.main(["create", *common(acc), "--dry-run"])
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert message in err and "--accelerator-type" in err
    assert out == ""


def test_without_dry_run_the_commands_run_in_order_until_one_fails(capsys, monkeypatch, no_gcloud):
    argv = ["setup", "--name", "my-tpu", "--zone", "z"]
    expected, _, _ = dry_run(capsys, *argv)
    assert tpu_vm.main(argv) == 0
    assert no_gcloud == expected and len(expected) == 3
    assert "+ gcloud compute tpus tpu-vm ssh my-tpu" in capsys.readouterr().err
    no_gcloud.clear()
    monkeypatch.setattr(tpu_vm, "_execute", lambda cmd: no_gcloud.append(cmd) or 255)
    assert tpu_vm.main(argv) == 255 and no_gcloud == expected[:1]
    monkeypatch.setattr(tpu_vm, "_have_gcloud", lambda: False)
    assert tpu_vm.main(argv) == 1 and "gcloud not found" in capsys.readouterr().err


def test_a_dry_run_flag_after_the_overrides_still_means_dry_run(capsys, no_gcloud):
    argv = ["run", *common("v4-8"), "--config", CONFIG, "--workdir", WORKDIR, "--", "--config.seed=1"]
    assert tpu_vm.main([*argv, "--dry-run"]) == 0
    assert no_gcloud == []
    out = capsys.readouterr().out
    assert "--config.seed=1" in out and out.count("--dry-run") == 0


def test_module_entry_point():
    run = lambda *a: subprocess.run([sys.executable, "-m", "launch.tpu_vm", *a], cwd=REPO, capture_output=True,
                                    text=True, timeout=60)
    r = run("create", *common("v5e-16"), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "--accelerator-type=v5litepod-16" in r.stdout and "4 hosts" in r.stdout
    r = run("create", *common("v5x-16"), "--dry-run")
    assert r.returncode == 2 and "unknown TPU generation 'v5x'" in r.stderr


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_run_and_stop_scripts_work_under_tmux(capsys, tmp_path):
    """The remote scripts of `run` and `stop`, run here by bash: a stand-in python gets the
    arguments, logs to worker-<id>.log, and gets Ctrl-C from `stop`."""
    home, bin_dir = tmp_path / "home", tmp_path / "bin"
    (home / "jaxgan").mkdir(parents=True)
    _executable(bin_dir / "curl", "#!/bin/sh\necho 3\n")  # the metadata server: this is worker 3
    _executable(home / "jaxgan-venv" / "bin" / "python",
                "#!/usr/bin/env bash\ntrap 'echo got SIGINT, saving; exit 0' INT\n"
                'echo "cwd $(pwd) unbuffered $PYTHONUNBUFFERED distributed $JAXGAN_DISTRIBUTED"\nprintf "arg %s\\n" "$@"\n'
                "while true; do sleep 0.1; done\n")
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    env.update(HOME=str(home), PATH=f"{bin_dir}:{env['PATH']}", TMUX_TMPDIR=str(tmp_path), SHELL="/bin/sh")

    def remote(*argv):
        (cmd,), _, _ = dry_run(capsys, *argv)
        return subprocess.run(["bash", "-c", flag(cmd, "--command")], env=env, capture_output=True, text=True,
                              timeout=30)

    log = home / "jaxgan-logs" / "worker-3.log"
    try:
        r = remote("run", *common("v4-8"), "--config", CONFIG, "--workdir", WORKDIR, "--", "--config.seed=1")
        assert r.returncode == 0, r.stderr
        for _ in range(100):
            if log.exists() and "arg --config.seed=1" in log.read_text():
                break
            time.sleep(0.1)
        text = log.read_text()
        assert f"cwd {home / 'jaxgan'} unbuffered 1 distributed 1" in text
        args = [l[4:] for l in text.splitlines() if l.startswith("arg ")]
        assert args == ["-m", "jaxgan.main", "--config", CONFIG, "--workdir", WORKDIR, "--config.seed=1"]
        r = remote("run", *common("v4-8"), "--config", CONFIG, "--workdir", WORKDIR)
        assert r.returncode == 1 and "running already" in r.stderr  # one run at a time
        r = remote("stop", "--name", "my-tpu", "--zone", "z", "--timeout", "20")
        assert r.returncode == 0 and "stopped" in r.stdout, (r.stdout, r.stderr)
        assert "got SIGINT, saving" in log.read_text()
        r = remote("stop", "--name", "my-tpu", "--zone", "z")
        assert r.returncode == 0 and "no jaxgan session" in r.stdout
    finally:
        subprocess.run(["tmux", "kill-server"], env=env, capture_output=True)


# ---------------------------------------------------------------------------------------------- SLURM


def test_sbatch_script_parses_and_launches_one_process_per_gpu():
    assert subprocess.run(["bash", "-n", str(SBATCH)], capture_output=True).returncode == 0
    text = SBATCH.read_text()
    directives = dict(re.findall(r"^#SBATCH --([\w-]+)=(\S+)", text, re.M))
    assert directives["ntasks-per-node"] == directives["gpus-per-node"]  # one process per GPU
    assert {"nodes", "time"} <= directives.keys()
    srun = [l for l in text.splitlines() if l.startswith("srun ")]
    assert len(srun) == 1
    assert re.search(r'-m jaxgan\.main --config "\$CONFIG" --workdir "\$WORKDIR" "\$@"$', srun[0])


def _sbatch(tmp_path, extra_env, *args):
    _executable(tmp_path / "bin" / "srun",
                '#!/usr/bin/env bash\nprintf "%s\\n" "$@"\necho "JAX_LOCAL_DEVICE_IDS=${JAX_LOCAL_DEVICE_IDS:-}"\n')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SLURM_") and k not in ("CONFIG", "WORKDIR", "JAX_LOCAL_DEVICE_IDS", "PYTHON")}
    env.update(PATH=f"{tmp_path / 'bin'}:{env['PATH']}", **extra_env)
    return subprocess.run(["bash", str(SBATCH), *args], env=env, capture_output=True, text=True, timeout=60)


def test_sbatch_script_runs_srun_with_config_and_workdir(tmp_path):
    r = _sbatch(tmp_path, {"WORKDIR": "/shared/x"})
    assert r.returncode != 0 and "set CONFIG=" in r.stderr
    r = _sbatch(tmp_path, {"CONFIG": CONFIG})
    assert r.returncode != 0 and "set WORKDIR" in r.stderr

    env = {"CONFIG": CONFIG, "WORKDIR": "/shared/my run", "SLURM_NTASKS_PER_NODE": "8", "SLURM_GPUS_ON_NODE": "8"}
    r = _sbatch(tmp_path, env, "--config.train.batch_size=64")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1:] == ["--kill-on-bad-exit=1", "python", "-m", "jaxgan.main", "--config", CONFIG, "--workdir",
                         "/shared/my run", "--config.train.batch_size=64", "JAX_LOCAL_DEVICE_IDS="]
    # One process per node: it is given all the node's GPUs.
    r = _sbatch(tmp_path, {**env, "SLURM_NTASKS_PER_NODE": "1", "SLURM_GPUS_ON_NODE": "4"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "JAX_LOCAL_DEVICE_IDS=0,1,2,3"
