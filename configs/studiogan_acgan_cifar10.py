"""StudioGAN's AC-GAN on CIFAR-10 (src/configs/CIFAR10/ACGAN-Mod-Big.yaml): its
BigGAN (configs/studiogan_biggan_cifar10.py) with D's projection replaced by an
auxiliary classifier (an SN linear to the 10 classes, cross-entropy on reals in
D and on fakes in G, weight 1)."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    return biggan.studiogan_classifier_head("ac", weight=1.0)
