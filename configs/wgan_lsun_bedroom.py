"""WGAN on LSUN bedrooms 64x64 (tfds `lsun/bedroom`), as Arjovsky et al. trained
it: the WGAN reference's defaults (DCGAN_G / DCGAN_D at isize 64, clamp 0.01,
RMSProp 5e-5, 5 critic iterations, 100 in the first 25 G steps and every
500th, batch 64).
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    return classic.lsun_bedroom(classic.wgan(classic.get_config()))
