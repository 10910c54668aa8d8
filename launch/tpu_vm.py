"""Train jaxgan on a Cloud TPU VM (one host or a multi-host slice) with gcloud.

    python -m launch.tpu_vm create --name my-tpu --zone us-central2-b --accelerator-type v4-32
    python -m launch.tpu_vm setup  --name my-tpu --zone us-central2-b
    python -m launch.tpu_vm run    --name my-tpu --zone us-central2-b --accelerator-type v4-32 \\
        --config configs/biggan_deep_256.py --workdir gs://my-bucket/biggan_deep_256 \\
        -- --config.train.batch_size=2048
    python -m launch.tpu_vm tail   --name my-tpu --zone us-central2-b [--worker 1]
    python -m launch.tpu_vm stop   --name my-tpu --zone us-central2-b
    python -m launch.tpu_vm delete --name my-tpu --zone us-central2-b

Every command is one or more `gcloud compute tpus tpu-vm ...` calls; `--dry-run`
prints them (shell-quoted, one per line, ready to paste) instead of running them.
`--project` is passed on when given, else gcloud uses its configured project.

`setup` copies this checkout (or clones `--repo`) to ~/jaxgan on every worker
and installs it with jax[tpu] into ~/jaxgan-venv (Python from uv: the TPU
images are Ubuntu 22.04 with Python 3.10, jax and jaxgan need 3.11+). `run` starts
`python -m jaxgan.main` on all workers at once in a detached tmux session
`jaxgan`, each writing ~/jaxgan-logs/worker-<N>.log; the processes find each
other through jax.distributed (jaxgan/parallel.py), no coordinator flags.
A multi-host workdir must be shared by all hosts: use gs://.
`stop` sends Ctrl-C (jaxgan saves a checkpoint and exits), then kills the
session after --timeout seconds. Standard library only: no gcloud Python libs.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Copied to the workers by `setup` (README.md: pyproject.toml names it as the readme).
LOCAL_SOURCES = ("pyproject.toml", "README.md", "jaxgan", "configs", "benchmarks")
REMOTE_DIR = "jaxgan"  # relative to the home directory on each worker
VENV = "~/jaxgan-venv"
LOG_DIR = "~/jaxgan-logs"
SESSION = "jaxgan"
# The worker's index in its slice (0..hosts-1), the number `--worker` uses; JAX reads the same key.
WORKER_ID = ("$(curl -sf -m 10 -H Metadata-Flavor:Google "
             "http://metadata.google.internal/computeMetadata/v1/instance/attributes/agent-worker-number"
             " || hostname)")

# Runtime (software) versions for JAX, from Google's "TPU software versions" page,
# table "PyTorch and JAX": https://cloud.google.com/tpu/docs/runtimes
# (v6e: v2-alpha-tpuv6e, v5p: v2-alpha-tpuv5, v5e: v2-alpha-tpuv5-lite, v4 and older: tpu-ubuntu2204-base).
RUNTIME_VERSIONS = {
    "v4": "tpu-ubuntu2204-base",
    "v5litepod": "v2-alpha-tpuv5-lite",
    "v5p": "v2-alpha-tpuv5",
    "v6e": "v2-alpha-tpuv6e",
}
# Friendly names -> gcloud's generation prefix.
ALIASES = {"v4": "v4", "v5e": "v5litepod", "v5lite": "v5litepod", "v5litepod": "v5litepod", "v5p": "v5p",
           "v6e": "v6e", "trillium": "v6e"}
# Slice sizes of v5e and v6e (the number in the type counts chips; pods are 256 chips).
CHIP_COUNTED_SIZES = (1, 4, 8, 16, 32, 64, 128, 256)


@dataclasses.dataclass(frozen=True)
class TpuType:
    """A TPU slice: gcloud's accelerator type and its shape."""

    gcloud: str  # e.g. v5litepod-16
    generation: str  # v4, v5litepod, v5p, v6e
    count: int  # the number in the type: TensorCores (v4, v5p) or chips (v5e, v6e)
    chips: int
    hosts: int  # TPU VMs = JAX processes

    @property
    def runtime_version(self) -> str:
        return RUNTIME_VERSIONS[self.generation]

    def describe(self) -> str:
        unit = (f"{self.count} TensorCores = {self.chips} chips" if self.count != self.chips
                else f"{self.chips} chip{'s' * (self.chips != 1)}")
        return f"{self.gcloud}: {unit}, {self.hosts} host{'s' * (self.hosts != 1)}"


def parse_accelerator_type(text: str) -> TpuType:
    """`v4-8`, `v5e-16` / `v5litepod-16`, `v5p-128`, `v6e-8` -> TpuType; ValueError with the reason otherwise.

    Hosts (TPU VMs), from Google's configuration pages:
    - v4 (https://cloud.google.com/tpu/docs/v4) and v5p (https://cloud.google.com/tpu/docs/v5p):
      the number counts TensorCores, 2 per chip, 4 chips per host: v4-8 is one host,
      v5p-128 is 64 chips on 16 hosts (the v5p table: 4x4x4, 128 cores, 64 chips, 16 machines).
    - v5e (https://cloud.google.com/tpu/docs/v5e) and v6e (https://cloud.google.com/tpu/docs/v6e):
      the number counts chips; 1, 4 and 8 chips are one VM, larger slices are made of
      4-chip VMs (machine type ct5lp-hightpu-4t / ct6e-standard-4t): v5litepod-16 is 4 hosts.
      (The docs' v5e table counts 8-chip physical hosts, e.g. 2 for 4x4; the VMs you ssh
      into and that each run one JAX process are the 4-chip ones.)
    """
    m = re.fullmatch(r"\s*([a-z][a-z0-9]*)-(\d+)\s*", text.lower())
    if not m:
        raise ValueError(f"{text!r} is not an accelerator type like v4-8, v5e-16 (= v5litepod-16), v5p-128 or v6e-8")
    name, count = m.group(1), int(m.group(2))
    if name not in ALIASES:
        raise ValueError(f"unknown TPU generation {name!r} in {text!r}; supported: v4, v5e (v5litepod), v5p, v6e")
    generation = ALIASES[name]
    if generation in ("v4", "v5p"):
        if count < 8 or count % 8:
            raise ValueError(f"{text!r}: {generation} types count TensorCores (2 per chip, 8 per host), "
                             f"so the number must be a multiple of 8 (e.g. {generation}-8, {generation}-32)")
        chips, hosts = count // 2, count // 8
    else:
        if count not in CHIP_COUNTED_SIZES:
            shown = "v5e" if generation == "v5litepod" else generation
            sizes = ", ".join(map(str, CHIP_COUNTED_SIZES))
            raise ValueError(f"{text!r}: {shown} types count chips; sizes are {sizes}")
        chips, hosts = count, (1 if count <= 8 else count // 4)
    return TpuType(gcloud=f"{generation}-{count}", generation=generation, count=count, chips=chips, hosts=hosts)


def _accelerator_type_arg(text: str) -> TpuType:
    try:
        return parse_accelerator_type(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _name_arg(text: str) -> str:
    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", text):
        raise argparse.ArgumentTypeError(f"{text!r}: TPU names are lowercase letters, digits and hyphens, "
                                         "start with a letter, at most 63 characters")
    return text


# ---------------------------------------------------------------------------------------------- commands


def _gcloud(args: argparse.Namespace, verb: str, *positional: str, flags: tuple[str, ...] = ()) -> list[str]:
    cmd = ["gcloud", "compute", "tpus", "tpu-vm", verb, *positional, f"--zone={args.zone}"]
    if args.project:
        cmd.append(f"--project={args.project}")
    return cmd + list(flags)


def _ssh(args: argparse.Namespace, worker: str, script: str) -> list[str]:
    return _gcloud(args, "ssh", args.name, flags=(f"--worker={worker}", f"--command={script}"))


def create_commands(args: argparse.Namespace, extra: list[str]) -> list[list[str]]:
    version = args.runtime_version or args.accelerator_type.runtime_version
    cmd = _gcloud(args, "create", args.name,
                  flags=(f"--accelerator-type={args.accelerator_type.gcloud}", f"--version={version}"))
    if args.spot:
        cmd.append("--spot")
    if args.preemptible:
        cmd.append("--preemptible")
    return [cmd + extra]


def setup_commands(args: argparse.Namespace) -> list[list[str]]:
    q = shlex.quote
    install = " && ".join([
        "(command -v tmux >/dev/null || (sudo apt-get update -qq && sudo apt-get install -y -qq tmux))",
        "python3 -m pip install --user --quiet --upgrade uv",
        f"([ -x {VENV}/bin/python ] || python3 -m uv venv --python {q(args.python)} {VENV})",
        f'python3 -m uv pip install --python {VENV}/bin/python --upgrade "jax[tpu]" -e ~/{REMOTE_DIR}',
        f"{VENV}/bin/python -c \"import jax, jaxgan; print(jax.__version__)\"",
        'echo "$(hostname): jax[tpu] and jaxgan installed"',
    ])
    if args.repo:
        ref = f" --branch {q(args.branch)}" if args.branch else ""
        git = f"git -C ~/{REMOTE_DIR}"
        update = (f"{git} fetch --quiet origin && {git} checkout --quiet {q(args.branch)} && "
                  f"{git} merge --quiet --ff-only origin/{q(args.branch)}" if args.branch
                  else f"{git} pull --quiet --ff-only")
        fetch = (f"if [ -d ~/{REMOTE_DIR}/.git ]; then {update}; "
                 f"else git clone --quiet{ref} {q(args.repo)} ~/{REMOTE_DIR}; fi")
        return [_ssh(args, "all", f"{fetch} && {install}")]
    sources = [REPO_ROOT / s for s in LOCAL_SOURCES if (REPO_ROOT / s).exists()]
    # Old copies of the code go (a local workdir under ~/jaxgan stays); then the fresh copy comes.
    clean = f"mkdir -p ~/{REMOTE_DIR} && cd ~/{REMOTE_DIR} && rm -rf {' '.join(s.name for s in sources)}"
    return [
        _ssh(args, "all", clean),
        _gcloud(args, "scp", *map(str, sources), f"{args.name}:{REMOTE_DIR}", flags=("--recurse", "--worker=all")),
        _ssh(args, "all", install),
    ]


def run_commands(args: argparse.Namespace, overrides: list[str]) -> list[list[str]]:
    q = shlex.quote
    train = shlex.join(["python", "-m", "jaxgan.main", "--config", args.config, "--workdir", args.workdir,
                        *overrides])
    train = f"{VENV}/bin/{train}"  # ~ left unquoted so that the shell expands it
    log = f"{LOG_DIR}/worker-$W.log"
    # What the tmux session runs: one log per worker (appended to, so a resumed run keeps its history).
    # JAXGAN_DISTRIBUTED=1: a plain TPU VM sets no variable that says it is one host of a slice
    # (JAX asks the metadata server), so jaxgan.parallel is told to call jax.distributed.initialize().
    inner = (f"W={WORKER_ID}; cd ~/{REMOTE_DIR} && export PYTHONUNBUFFERED=1 JAXGAN_DISTRIBUTED=1 && "
             f"echo \"=== $(date -u) {SESSION} start\" >> {log} && exec {train} >> {log} 2>&1")
    script = (f"mkdir -p {LOG_DIR} && if tmux has-session -t {SESSION} 2>/dev/null; then "
              f"echo \"$(hostname): a tmux session {SESSION} is running already; stop it first\" >&2; exit 1; fi; "
              f"tmux new-session -d -s {SESSION} {q(inner)} && "
              f"echo \"$(hostname): started in tmux session {SESSION}, log in {LOG_DIR}/\"")
    return [_ssh(args, "all", script)]


def tail_commands(args: argparse.Namespace) -> list[list[str]]:
    follow = "" if args.no_follow else " -F"
    return [_ssh(args, str(args.worker), f"tail -n {args.lines}{follow} {LOG_DIR}/worker-{args.worker}.log")]


def stop_commands(args: argparse.Namespace) -> list[list[str]]:
    gone = f"! tmux has-session -t {SESSION} 2>/dev/null"
    if args.kill:
        script = f"tmux kill-session -t {SESSION} 2>/dev/null; echo \"$(hostname): stopped\""
    else:
        # Ctrl-C: jaxgan saves a checkpoint after the current step and exits; the session ends with it.
        script = (f"if {gone}; then echo \"$(hostname): no {SESSION} session\"; exit 0; fi; "
                  f"tmux send-keys -t {SESSION} C-c; "
                  f"for i in $(seq {args.timeout}); do if {gone}; then echo \"$(hostname): stopped\"; exit 0; fi; "
                  f"sleep 1; done; tmux kill-session -t {SESSION}; "
                  f"echo \"$(hostname): killed after {args.timeout} s\"")
    return [_ssh(args, "all", script)]


def delete_commands(args: argparse.Namespace) -> list[list[str]]:
    return [_gcloud(args, "delete", args.name, flags=("--quiet",))]


# ---------------------------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--name", required=True, type=_name_arg, help="TPU VM name")
    common.add_argument("--zone", required=True, help="zone, e.g. us-central2-b (v4), us-west4-a (v5e)")
    common.add_argument("--project", help="Google Cloud project (default: gcloud's configured one)")
    common.add_argument("--dry-run", action="store_true", help="print the gcloud commands instead of running them")

    def accelerator(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("--accelerator-type", required=required, type=_accelerator_type_arg,
                       help="v4-8, v4-32, v5e-16 (= v5litepod-16), v5p-128, v6e-8, ...")

    parser = argparse.ArgumentParser(
        prog="python -m launch.tpu_vm", description=__doc__.split("\n\n")[0],
        epilog="Arguments after `--` go to `gcloud ... create` (create) or to jaxgan.main as "
               "config overrides (run). Multi-worker ssh needs your key in ssh-agent: "
               "ssh-add ~/.ssh/google_compute_engine.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("create", parents=[common], help="create the TPU VM")
    accelerator(p, True)
    p.add_argument("--runtime-version", help="TPU software version (default: Google's JAX choice for the generation)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--spot", action="store_true", help="a Spot TPU (cheaper, may be preempted)")
    kind.add_argument("--preemptible", action="store_true", help="a preemptible TPU")

    p = sub.add_parser("setup", parents=[common], help="copy the code to every worker and install it with jax[tpu]")
    accelerator(p, False)
    p.add_argument("--repo", help="git URL to clone on the workers instead of copying this checkout")
    p.add_argument("--branch", help="with --repo: the branch to check out")
    p.add_argument("--python", default="3.11", help="Python version of the workers' venv (default 3.11)")

    p = sub.add_parser("run", parents=[common], help="start training on all workers in a detached tmux session")
    accelerator(p, True)
    p.add_argument("--config", required=True, help="configs/NAME.py[:variant], relative to the repo root")
    p.add_argument("--workdir", required=True, help="gs://bucket/path (shared by all hosts)")

    p = sub.add_parser("tail", parents=[common], help="follow one worker's log")
    accelerator(p, False)
    p.add_argument("--worker", type=int, default=0, help="worker index (default 0)")
    p.add_argument("--lines", type=int, default=100, help="lines of history to show (default 100)")
    p.add_argument("--no-follow", action="store_true", help="print and exit instead of following")

    p = sub.add_parser("stop", parents=[common], help="stop the run on all workers (Ctrl-C: checkpoint, then exit)")
    accelerator(p, False)
    p.add_argument("--timeout", type=int, default=300, help="seconds to wait before killing (default 300)")
    p.add_argument("--kill", action="store_true", help="kill at once, without the final checkpoint")

    p = sub.add_parser("delete", parents=[common], help="delete the TPU VM")
    accelerator(p, False)
    return parser


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _have_gcloud() -> bool:
    return shutil.which("gcloud") is not None


def _execute(cmd: list[str]) -> int:
    """Runs one command, its output streaming to this terminal; its exit status."""
    return subprocess.run(cmd).returncode


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    # Neither gcloud create nor jaxgan.main has a --dry-run: one typed after `--` is ours.
    dry_run_late = "--dry-run" in extra
    extra = [a for a in extra if a != "--dry-run"]
    parser = build_parser()
    args = parser.parse_args(argv)
    args.dry_run = args.dry_run or dry_run_late
    if extra and args.command not in ("create", "run"):
        parser.error(f"{args.command} takes no arguments after `--` (got {shlex.join(extra)})")
    if args.command == "setup" and args.branch and not args.repo:
        parser.error("--branch needs --repo")
    if args.command in ("tail", "stop") and (getattr(args, "worker", 0) < 0 or getattr(args, "timeout", 1) < 1):
        parser.error("--worker must be >= 0 and --timeout >= 1")

    tpu: TpuType | None = args.accelerator_type
    if tpu is not None and args.command == "tail" and args.worker >= tpu.hosts:
        parser.error(f"--worker {args.worker}: {tpu.gcloud} has workers 0..{tpu.hosts - 1}")

    if args.command == "create":
        commands = create_commands(args, extra)
    elif args.command == "setup":
        commands = setup_commands(args)
    elif args.command == "run":
        bad = [o for o in extra if not o.startswith("--")]
        if bad:
            parser.error(f"overrides after `--` look like --config.FIELD=VALUE, got {shlex.join(bad)}")
        if tpu.hosts > 1 and not args.workdir.startswith("gs://"):
            _warn(f"{tpu.gcloud} has {tpu.hosts} hosts but --workdir {args.workdir!r} is not gs://: each host "
                  "would write its own local directory, and checkpoints of a multi-host run need one shared "
                  "place (e.g. gs://my-bucket/run)")
        config_file = REPO_ROOT / args.config.split(":")[0]
        if not args.config.split(":")[0].endswith(".py") or not config_file.is_file():
            _warn(f"--config {args.config!r}: no such file in this checkout ({config_file}); "
                  "the path is relative to the repo root on the workers")
        commands = run_commands(args, extra)
    elif args.command == "tail":
        commands = tail_commands(args)
    elif args.command == "stop":
        commands = stop_commands(args)
    else:
        commands = delete_commands(args)

    if tpu is not None:  # a comment line: the dry run's output stays a runnable script
        note = f", runtime {args.runtime_version or tpu.runtime_version}" if args.command == "create" else ""
        print(f"# {tpu.describe()}{note}", flush=True)
    if args.dry_run:
        for cmd in commands:
            print(shlex.join(cmd))
        return 0
    if not _have_gcloud():
        print("error: gcloud not found: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install) "
              "or use --dry-run to see the commands", file=sys.stderr)
        return 1
    for cmd in commands:
        print(f"+ {shlex.join(cmd)}", file=sys.stderr, flush=True)
        rc = _execute(cmd)
        if rc:
            print(f"error: the command above exited with status {rc}", file=sys.stderr)
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main())
