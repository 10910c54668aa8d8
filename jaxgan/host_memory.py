"""Transparent huge pages for the host allocator, which XLA:CPU runs much faster with.

XLA:CPU allocates a step's temporaries afresh on every run of a compiled
program (11.5 GB for a BigGAN 128 step at batch 8), and glibc hands blocks this
large straight to mmap and back, so every run touches new 4 KiB pages. Measured
on the project's 2-core CPU with getrusage around each step: 4.1 million page
faults and 17-20 s of kernel time per 31.6 s step. With glibc's
`glibc.malloc.hugetlb=1` tunable, malloc asks for transparent huge pages
(madvise): 36 thousand faults, 7.5-8.6 s of kernel time, 25.6-26.0 s per step.

GLIBC_TUNABLES is read only when a process starts, so the command-line entry
points (python -m jaxgan.main, benchmarks/train_step.py) re-execute themselves
once with it set, before JAX is imported. Set JAXGAN_HUGE_PAGES=0 to keep the
process as started. This module must not import JAX.
"""

from __future__ import annotations

import os
import platform
import sys

TUNABLE = "glibc.malloc.hugetlb"
_THP_SETTING = "/sys/kernel/mm/transparent_hugepage/enabled"


def _glibc_supports_hugetlb() -> bool:
    libc, version = platform.libc_ver()
    if libc != "glibc":
        return False
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (2, 35)  # the tunable appeared in glibc 2.35


def _thp_available() -> bool:
    try:
        with open(_THP_SETTING) as f:
            return "[never]" not in f.read()
    except OSError:
        return False


def tunables_with_huge_pages(current: str | None) -> str | None:
    """GLIBC_TUNABLES with `glibc.malloc.hugetlb=1` added, or None when the
    current value already sets it."""
    current = current or ""
    if TUNABLE in current:
        return None
    return f"{current}:{TUNABLE}=1" if current else f"{TUNABLE}=1"


def reexec_with_huge_pages() -> None:
    """Replaces this process by the same command with huge pages enabled,
    unless they already are, JAXGAN_HUGE_PAGES=0, or the host cannot use them
    (not Linux, not glibc >= 2.35, transparent huge pages off). Returns only
    when it does nothing. Call before JAX is imported and before any threads start."""
    if os.environ.get("JAXGAN_HUGE_PAGES", "1") == "0" or not sys.platform.startswith("linux"):
        return
    tunables = tunables_with_huge_pages(os.environ.get("GLIBC_TUNABLES"))
    if tunables is None or not _glibc_supports_hugetlb() or not _thp_available():
        return
    env = dict(os.environ, GLIBC_TUNABLES=tunables)  # the new process finds the tunable set: no loop
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, list(sys.orig_argv), env)
