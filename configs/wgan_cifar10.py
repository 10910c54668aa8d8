"""WGAN on CIFAR-10 32x32 (tfds `cifar10`): the WGAN reference's defaults
(DCGAN_G / DCGAN_D at isize 32, clamp 0.01, RMSProp 5e-5, 5 critic iterations,
100 in the first 25 G steps and every 500th, batch 64).
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    return classic.cifar10(classic.wgan(classic.get_config()))
