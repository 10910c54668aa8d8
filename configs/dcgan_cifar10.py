"""DCGAN on CIFAR-10 32x32 (tfds `cifar10`): the WGAN reference's DCGAN_G /
DCGAN_D at isize 32 (nz 100, ngf = ndf = 64: G 1,068,928 and D 663,296
params), the non-saturating loss, Adam 2e-4 (0.5, 0.999), batch 64.
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    return classic.cifar10(classic.dcgan(classic.get_config()))
