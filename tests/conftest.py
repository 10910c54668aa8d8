"""Test setup: 8 fake CPU devices and a persistent XLA compilation cache, set
before anything imports jax (subprocesses started by tests inherit both).

The cache lets tests that build the same program (e.g. the identical smoke
variants of several configs, or a resumed run in a subprocess) compile it once.
Each pytest run compiles into a new directory, removed at exit, so that a run
never executes programs that an earlier run (of other code, other flags) left
behind; set JAX_COMPILATION_CACHE_DIR to keep one across runs.
"""
import atexit
import os
import shutil
import tempfile

# Eigen runs single-threaded: with 8 fake devices on 2 cores, XLA:CPU can
# continue a device's program after a loop of parallel Eigen products (the CPU
# kernel gradient's tap loop, jaxgan/models/conv_forms.py) on a worker of
# Eigen's shared pool, which then waits in an all-reduce; with every worker so
# held the other devices' products never ran and XLA aborted after 40 s.
#
# A collective waits up to 15 minutes for every device's thread instead of
# XLA's 40 s, after which XLA aborts the whole process: 8 fake devices share
# the CI's 2 cores, and on a loaded host one device's share of a slow step
# (bfloat16 convolutions are emulated on the CPU) can arrive late without any
# deadlock.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8 --xla_cpu_multi_thread_eigen=false"
    " --xla_cpu_collective_call_terminate_timeout_seconds=900"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="jaxgan-test-xla-cache-")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")

# The README's command runs the suite on two workers (`pytest -n 2 --dist
# loadfile`: each test module on one worker, so a module's trained fixture is
# built once). Workers take modules in collection order (with
# --no-loadscope-reorder: xdist would otherwise order them by their number of
# tests); these, the longest, go first so that neither worker is left running
# one of them alone at the end.
_LONGEST_MODULES_FIRST = (  # by their summed test times in a CI run (--junitxml), longest first
    "test_train.py",
    "test_singan.py",
    "test_multiprocess.py",
    "test_consingan.py",
    "test_biggan_regularizers.py",
    "test_classic.py",
    "test_pix2pixhd.py",
    "test_biggan_heads.py",
    "test_biggan_logan.py",
    "test_unetgan.py",
    "test_cyclegan.py",
    "test_seqgan.py",
    "test_biggan_trainer.py",
    "test_stargan.py",
    "test_conv_forms.py",
    "test_pix2pix.py",
    "test_train_step_benchmark.py",
    "test_models.py",
    "test_aot_memory.py",
    "test_generator.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(_LONGEST_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a module's tests stay together
