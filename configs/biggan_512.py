"""BigGAN 512x512 on ImageNet: biggan_128's settings at 512 (BigGAN-PyTorch's
512 channel table)."""

from jaxgan import config_base


def get_config(variant: str = ""):
    c = config_base.base_config()
    c.reg.ortho = 1e-4  # paper, section 3.1
    c.model.resolution = c.data.image_size = 512
    return config_base.smoke(c) if variant == "smoke" else c
