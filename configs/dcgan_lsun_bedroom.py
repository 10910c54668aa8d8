"""DCGAN on LSUN bedrooms 64x64 (tfds `lsun/bedroom`), as Radford et al. trained
it: the WGAN reference's DCGAN_G / DCGAN_D (nz 100, ngf = ndf = 64: G 3,576,704
and D 2,765,568 params), the non-saturating loss, Adam 2e-4 (0.5, 0.999),
batch 64. `--config.data.source=folder --config.data.folder=DIR` trains on a
folder of images instead (e.g. CelebA).
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    return classic.lsun_bedroom(classic.dcgan(classic.get_config()))
