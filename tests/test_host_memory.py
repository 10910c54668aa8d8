"""The command-line entry points re-execute themselves once with glibc's
huge-page tunable (jaxgan.host_memory), and only when the host can use it."""

import os
import subprocess
import sys
from pathlib import Path

from jaxgan import host_memory

REPO = Path(__file__).resolve().parents[1]
# Prints what the process ends up with; runs the re-exec first, as the CLIs do.
PROBE = ("from jaxgan import host_memory; host_memory.reexec_with_huge_pages(); "
         "import os, sys; print(os.environ.get('GLIBC_TUNABLES')); print(sys.argv[1:])")


def _probe(**env):
    base = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "JAXGAN_HUGE_PAGES")}
    out = subprocess.run([sys.executable, "-c", PROBE, "--flag", "x y"], cwd=REPO, env={**base, **env},
                         capture_output=True, text=True, timeout=60, check=True)
    tunables, argv = out.stdout.strip().splitlines()
    return tunables, argv


def test_tunable_is_added_to_what_is_set():
    assert host_memory.tunables_with_huge_pages(None) == "glibc.malloc.hugetlb=1"
    assert host_memory.tunables_with_huge_pages("glibc.malloc.arena_max=2") == \
        "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
    assert host_memory.tunables_with_huge_pages("glibc.malloc.hugetlb=0") is None  # the user's choice stands


def test_reexec_sets_the_tunable_once_and_keeps_the_arguments():
    supported = (sys.platform.startswith("linux") and host_memory._glibc_supports_hugetlb()
                 and host_memory._thp_available())
    tunables, argv = _probe()
    assert tunables == ("glibc.malloc.hugetlb=1" if supported else "None")
    assert argv == "['--flag', 'x y']"
    # A user's own tunables are kept beside it.
    tunables, _ = _probe(GLIBC_TUNABLES="glibc.malloc.arena_max=2")
    assert tunables == ("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1" if supported
                        else "glibc.malloc.arena_max=2")


def test_opt_out_keeps_the_process_as_started():
    tunables, _ = _probe(JAXGAN_HUGE_PAGES="0")
    assert tunables == "None"
