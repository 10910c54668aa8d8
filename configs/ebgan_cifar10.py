"""EBGAN on CIFAR-10 32x32 (tfds `cifar10`): DCGAN's 32x32 G, the autoencoder D
at ndf 64, margin loss, pulling-away term 0.1, Adam 2e-4 (0.5, 0.999), batch 64.
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    return classic.cifar10(classic.ebgan(classic.get_config()))
