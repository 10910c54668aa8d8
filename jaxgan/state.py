"""The GAN state: one pytree, one checkpoint.

{step, rng, g, d, g_opt, d_opt, g_ema}; g, d and g_ema are flax variable dicts
({'params', 'batch_stats', 'spectral'} as the models have them). Only `params`
are differentiated; the other collections are side outputs of train-mode calls.
`rng` is raw key data (uint32), so the state holds only plain arrays and
checkpoints as such; per-step keys are fold_in(rng, step), so a resumed run
draws the same numbers.
"""

from __future__ import annotations

from typing import Any

import flax
import jax


@flax.struct.dataclass
class GANState:
    step: jax.Array
    rng: jax.Array
    g: Any
    d: Any
    g_opt: Any
    d_opt: Any
    g_ema: Any

    def key(self) -> jax.Array:
        """This step's key."""
        return jax.random.fold_in(jax.random.wrap_key_data(self.rng), self.step)
