"""ADC-GAN on CIFAR-10 with StudioGAN's settings (src/configs/CIFAR10/ACGAN-Mod-Big-ADC.yaml;
FID 3.93 in StudioGAN's table): the AC-GAN (configs/studiogan_acgan_cifar10.py)
with 20 classes, real class y as 2y and fake as 2y + 1; G's term is the loss at
2y minus the loss at 2y + 1 (weight 1)."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    return biggan.studiogan_classifier_head("ac", "adc", weight=1.0)
