"""A model's initialisation noise from one random draw.

Why: XLA compiles every `jax.random` call as its own threefry computation, and
the compile time of an init grows with the number of those calls, not with
their sizes. Flax's `Module.init` makes one or two per parameter (a `fold_in`
for the parameter's key, then the draw): BigGAN-deep 256's generator init has
about 650, and compiling it took 37 s on a 2-core CPU (66 s together with D);
on GPUs, where threefry is unrolled, creating that state took 180 s on an H200.

`one_draw(init_fn)` runs `init_fn` (e.g. `module.init`) twice: abstractly
(`jax.eval_shape`), to record the sizes of the draws the initialisers make
through `standard_normal` and `uniform`, and then for real, serving those draws
in order from slices of a single `jax.random.normal` call. The flax keys the
initialisers are handed are then unused, and XLA drops their `fold_in`s.

Outside `one_draw`, `standard_normal` and `uniform` are `jax.random.normal` and
`jax.random.uniform` of the key they get, so a plain `module.init` gives the
same values as flax's own initialisers.
"""

from __future__ import annotations

import contextlib
import math
import threading
from typing import Any, Callable

import jax
import jax.numpy as jnp

_active = threading.local()  # the _Pool of the innermost one_draw being traced, per thread


class _Pool:
    """Records draw sizes (flat is None) or serves them from `flat` in the recorded order."""

    def __init__(self, sizes: list[int] | None = None, flat: jax.Array | None = None):
        self.sizes = [] if sizes is None else sizes
        self.flat = flat
        self.taken = 0  # draws served so far
        self.offset = 0

    def take(self, shape: tuple[int, ...]) -> jax.Array:
        n = math.prod(shape)
        if self.flat is None:
            self.sizes.append(n)
            return jnp.zeros(shape, jnp.float32)
        if self.taken >= len(self.sizes) or self.sizes[self.taken] != n:
            raise RuntimeError("one_draw: the init function drew differently on its second run (draw "
                               f"{self.taken} has {n} elements); it must be a deterministic trace")
        x = jax.lax.slice_in_dim(self.flat, self.offset, self.offset + n).reshape(shape)
        self.taken += 1
        self.offset += n
        return x


@contextlib.contextmanager
def _serving(pool: _Pool):
    outer = getattr(_active, "pool", None)
    _active.pool = pool
    try:
        yield pool
    finally:
        _active.pool = outer


def standard_normal(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """N(0, 1) samples: from the active `one_draw`, else `jax.random.normal(key, shape, dtype)`."""
    pool = getattr(_active, "pool", None)
    if pool is None:
        return jax.random.normal(key, shape, dtype)
    return pool.take(tuple(shape)).astype(dtype)


def uniform(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32, minval: float = 0.0,
            maxval: float = 1.0) -> jax.Array:
    """U(minval, maxval) samples: from the active `one_draw` (the normal CDF of its
    N(0, 1) samples, which is exactly uniform), else `jax.random.uniform`."""
    pool = getattr(_active, "pool", None)
    if pool is None:
        return jax.random.uniform(key, shape, dtype, minval, maxval)
    u = jax.scipy.special.ndtr(pool.take(tuple(shape)))
    return (minval + (maxval - minval) * u).astype(dtype)


def one_draw(init_fn: Callable[..., Any]) -> Callable[..., Any]:
    """`init_fn(key, *args)` with its initialisers' noise from one `jax.random.normal`.

    The result has the same structure, shapes and distributions as `init_fn`'s
    own, but other random values. Meant to be traced (under `jax.jit` or
    `jax.eval_shape`): `init_fn` must draw the same sizes in the same order
    whenever it is traced with the same shapes, as flax inits do.
    """

    def init(key: jax.Array, *args: Any, **kwargs: Any) -> Any:
        k_noise, k_init = jax.random.split(key)
        recorder = _Pool()
        with _serving(recorder):
            jax.eval_shape(lambda *a, **kw: init_fn(k_init, *a, **kw), *args, **kwargs)
        server = _Pool(recorder.sizes, jax.random.normal(k_noise, (sum(recorder.sizes),), jnp.float32))
        with _serving(server):
            out = init_fn(k_init, *args, **kwargs)
        if server.taken != len(recorder.sizes):
            raise RuntimeError(f"one_draw: the init function drew {server.taken} times on its second run, "
                               f"{len(recorder.sizes)} on its first; it must be a deterministic trace")
        return out

    return init
