"""Building blocks of the experiment files in configs/ and the one loader that
every entry point reads them with.

- jaxgan.configs.base: the fields of every config, whatever the GAN family
  (seed, dtype, trainer, train.num_steps, train.batch_size, data, eval, ckpt,
  log, samples), and their smoke-run shrink.
- jaxgan.configs.<family> (biggan, classic): `get_config()`, the base plus the fields
  that family's trainer reads (model, loss, reg, optim, ema, ...), and
  `smoke(config)`, the family's `:smoke` variant.
- jaxgan.configs.variants: `@with_variants(smoke=...)` turns a file's full-run
  `get_config()` into `get_config(variant)`, which refuses unknown variants.
- jaxgan.configs.loader: `load("configs/NAME.py[:variant]", ["--config.FIELD=VALUE", ...])`,
  `DEFINE_config_file` (absl) and `parse_args` (argparse).

Every field that code reads is declared, so that every field can be set with
`--config.FIELD=VALUE` (the configs are locked: an undeclared field is an error).

A new family declares what its trainer reads in jaxgan/configs/<family>.py:

    def get_config():
        c = base.base_config(trainer="wgan")  # the name it is registered under in jaxgan.trainers
        c.model = ml_collections.ConfigDict(dict(arch="dcgan", ch=64, dim_z=128))
        c.optim = ml_collections.ConfigDict(dict(lr=5e-5, clip=0.01))
        c.train.num_critic_steps = 5
        return c

    def smoke(c):
        c = base.smoke(c)
        c.model.ch = 4
        return c

and each experiment file is `@with_variants(smoke=wgan.smoke) def get_config():
c = wgan.get_config(); ...; return c`.
"""

from jaxgan.configs.loader import DEFINE_config_file, from_file, load, load_with_overrides, parse_args
from jaxgan.configs.variants import UnknownVariantError, with_variants

__all__ = ["DEFINE_config_file", "UnknownVariantError", "from_file", "load", "load_with_overrides", "parse_args",
           "with_variants"]
