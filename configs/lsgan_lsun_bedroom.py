"""LSGAN on LSUN bedrooms 64x64 (tfds `lsun/bedroom`; the paper's LSUN scenes):
least squares (a=0, b=c=1) on DCGAN's 64x64 networks (G 3,576,704, D 2,765,568
params), Adam 2e-4 (0.5, 0.999), batch 64.
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    return classic.lsun_bedroom(classic.lsgan(classic.get_config()))
