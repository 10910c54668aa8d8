"""Test setup: 8 fake CPU devices and a persistent XLA compilation cache, set
before anything imports jax (subprocesses started by tests inherit both).

The cache lets tests that build the same program (e.g. the identical smoke
variants of several configs, or a resumed run in a subprocess) compile it once.
"""
import os
import tempfile

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "jaxgan-test-xla-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
