"""Test setup: 8 fake CPU devices and a persistent XLA compilation cache, set
before anything imports jax (subprocesses started by tests inherit both).

The cache lets tests that build the same program (e.g. the identical smoke
variants of several configs, or a resumed run in a subprocess) compile it once.
"""
import os
import tempfile

# Eigen runs single-threaded: with 8 fake devices on 2 cores, XLA:CPU can
# continue a device's program after a loop of parallel Eigen products (the CPU
# kernel gradient's tap loop, jaxgan/models/conv_forms.py) on a worker of
# Eigen's shared pool, which then waits in an all-reduce; with every worker so
# held the other devices' products never ran and XLA aborted after 40 s.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8 --xla_cpu_multi_thread_eigen=false"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "jaxgan-test-xla-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
