"""U-Net GAN on CelebA 128x128 (Schonfeld et al. 2020; the official
training_scripts/train_celeba.sh): BigGAN's G and the U-Net discriminator at
ch 64, unconditional, CutMix's losses and consistency term added to every D
update. Data: tfds celeb_a, the central square."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.unetgan_smoke)
def get_config():
    return biggan.unetgan("celeba")
