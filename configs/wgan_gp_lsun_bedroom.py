"""WGAN-GP at 64x64 on LSUN bedrooms (tfds `lsun/bedroom`) with the reference's
gan_64x64.py networks (GoodGenerator with BatchNorm, GoodDiscriminator with
LayerNorm, DIM 64: G 8,540,483 and D 7,491,841 params), lambda 10, 5 critic
iterations, Adam 2e-4 (0, 0.9) decaying linearly to 0 over 100k G steps,
batch 64. (The reference trained it on downsampled ImageNet 64x64:
`--config.data.name=...` or a folder picks other data.)
"""

import ml_collections

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    c = classic.lsun_bedroom(classic.wgan_gp_resnet(classic.get_config()))
    c.model.arch = "wgan_gp_resnet64"
    c.model.g = ml_collections.ConfigDict(dict(dim=64))
    c.model.d = ml_collections.ConfigDict(dict(dim=64))
    return c
