"""StudioGAN's BigGAN-ICR on CIFAR-10 (src/configs/CIFAR10/BigGAN-ICR.yaml):
the baseline (configs/studiogan_biggan_cifar10.py) with improved consistency
regularisation: bCR on reals and fakes (weights 10 and 10, CR's flips and
translations) and zCR (z + 0.05 * eps; D weight 20, G weight 0.5)."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    c = biggan.studiogan_cifar10()
    c.reg.bcr_real_weight = c.reg.bcr_fake_weight = 10.0
    c.reg.zcr_radius, c.reg.zcr_d_weight, c.reg.zcr_g_weight = 0.05, 20.0, 0.5
    return c
