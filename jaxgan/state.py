"""What every family's state has: `step` and `rng`, owned by the loop.

A family's state is one pytree (one checkpoint) with any fields of its own
beside these two (jaxgan/trainers/protocol.py). `rng` is raw key data
(uint32), so the state holds only plain arrays and checkpoints as such; each
step's key is fold_in(rng, step), so a resumed run draws the numbers an
uninterrupted run would.
"""

from __future__ import annotations

import math
from typing import Any

import jax


def step_key(state: Any) -> jax.Array:
    """The key of the step that `state` is about to take."""
    return jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)


def count_params(params: Any) -> int:
    """Number of scalars in a params pytree of arrays or ShapeDtypeStructs
    (torch's sum(p.numel()))."""
    return sum(math.prod(p.shape) for p in jax.tree_util.tree_leaves(params))
