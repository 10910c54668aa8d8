"""BigGAN 512x512 on ImageNet: biggan_128's settings at 512 (BigGAN-PyTorch's
512 channel table)."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    c = biggan.get_config()
    c.reg.ortho = 1e-4  # paper, section 3.1
    c.model.resolution = c.data.image_size = 512
    return c
