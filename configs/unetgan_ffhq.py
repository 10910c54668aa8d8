"""U-Net GAN on FFHQ 256x256 (Schonfeld et al. 2020; the official
training_scripts/train_ffhq.sh): BigGAN's G and the U-Net discriminator at
ch 64, unconditional, CutMix of reals and fakes on whole batches with the
consistency term, its probability ramping from 0 to 0.5 over 100 epochs.

    python -m jaxgan.main --config configs/unetgan_ffhq.py --workdir runs/unetgan_ffhq \\
        --config.data.folder=/data/ffhq256
"""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.unetgan_smoke)
def get_config():
    return biggan.unetgan("ffhq")
