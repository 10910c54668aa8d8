"""StudioGAN's BigGAN-CR on CIFAR-10 (src/configs/CIFAR10/BigGAN-CR.yaml):
the baseline (configs/studiogan_biggan_cifar10.py) with consistency
regularisation on reals, weight 10, against random flips and translations
of up to 1/8 of the image (reflect padding)."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    c = biggan.studiogan_cifar10()
    c.reg.cr_weight = 10.0
    return c
