"""BigGAN 256x256 on ImageNet: biggan_128's settings at 256 (G 82.1M, D 99.2M
params with BigGAN-PyTorch's 256 channel table)."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    c = biggan.get_config()
    c.reg.ortho = 1e-4  # paper, section 3.1
    c.model.resolution = c.data.image_size = 256
    return c
