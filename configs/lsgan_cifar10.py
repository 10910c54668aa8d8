"""LSGAN on CIFAR-10 32x32 (tfds `cifar10`): least squares (a=0, b=c=1) on
DCGAN's 32x32 networks (G 1,068,928, D 663,296 params), Adam 2e-4 (0.5, 0.999),
batch 64.
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    return classic.cifar10(classic.lsgan(classic.get_config()))
