"""BigGAN on CIFAR-10 with StudioGAN's settings (src/configs/CIFAR10/BigGAN.yaml;
see jaxgan.configs.biggan.studiogan_cifar10), the baseline of StudioGAN's
CIFAR-10 table (FID 4.16) beside its regularised variants
(configs/studiogan_biggan_{diffaug,lecam,diffaug_lecam,cr,icr}_cifar10.py)."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    return biggan.studiogan_cifar10()
