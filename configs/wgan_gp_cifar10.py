"""WGAN-GP on CIFAR-10 32x32 (tfds `cifar10`) as the reference's
gan_cifar_resnet.py trains it, unconditionally: the ResNet G (BatchNorm) and
critic (no normalisation) at DIM 128 (G 1,204,483 and D 1,053,825 params),
lambda 10, 5 critic iterations, Adam 2e-4 (0, 0.9) decaying linearly to 0 over
100k G steps, batch 64.
"""

import ml_collections

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    c = classic.cifar10(classic.wgan_gp_resnet(classic.get_config()))
    c.model.arch = "wgan_gp_resnet32"
    c.model.g = ml_collections.ConfigDict(dict(dim=128))
    c.model.d = ml_collections.ConfigDict(dict(dim=128))
    return c
