"""EBGAN on CelebA 64x64 (tfds `celeb_a`; the paper's CelebA and LSUN runs):
DCGAN's G, the autoencoder D ((64)4c2s-(128)4c2s-(256)4c2s down, mirrored up),
margin loss, pulling-away term 0.1, Adam 2e-4 (0.5, 0.999), batch 64.
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    return classic.celeba(classic.ebgan(classic.get_config()))
