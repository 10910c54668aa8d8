"""Trainers: one module per GAN family. Each provides a class with
`init_state(key)`, `train_step(state, batch)`, `sample(variables, z, y)`,
`sample_inputs(key, n)` and `num_batches_per_step`; the loop in jaxgan/train.py
drives any of them the same way."""

from __future__ import annotations

from typing import Any


def get_trainer(config: Any, mesh: Any = None):
    """The trainer for `config.trainer`. With a `mesh`, the batches a step draws
    itself (z and classes) are sharded over its `data` axis like the real ones."""
    name = config.trainer
    if name == "biggan":
        from jaxgan.trainers.biggan import BigGANTrainer

        return BigGANTrainer(config, mesh)
    raise ValueError(f"unknown trainer {name!r} (config.trainer); known: 'biggan'")
