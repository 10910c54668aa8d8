"""TAC-GAN on CIFAR-10 with StudioGAN's settings (src/configs/CIFAR10/ACGAN-Mod-Big-TAC.yaml):
the AC-GAN (configs/studiogan_acgan_cifar10.py) plus the twin classifier, fitted
to the fakes' classes in D (weight 1) and fought by G (weight 1), as the paper
trains it (StudioGAN's code never fits it)."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    return biggan.studiogan_classifier_head("ac", "tac", weight=1.0, tac_d_weight=1.0, tac_g_weight=1.0)
