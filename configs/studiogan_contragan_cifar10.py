"""StudioGAN's ContraGAN on CIFAR-10 (src/configs/CIFAR10/ContraGAN.yaml): its
BigGAN (configs/studiogan_biggan_cifar10.py) with D's projection replaced by the
2C loss on a normalised 512-d embedding and class proxies (weight 1,
temperature 1)."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    return biggan.studiogan_classifier_head("2c", weight=1.0, temperature=1.0)
