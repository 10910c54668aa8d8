"""BigGAN-deep 128x128 on ImageNet (Brock et al. 2019, appendix B).

Numbers: BigGAN-PyTorch's launch_BigGAN_deep.sh (batch 256 x 8 accumulations =
2048, G lr 1e-4, D lr 4e-4, betas (0, 0.999), Adam eps 1e-6, SN eps 1e-6, BN eps
1e-5, ch 128, dim_z 128, shared_dim 128, attention at 64, EMA from 20k, no
orthogonal regularisation). Architecture equals DeepMind's released
BigGAN-deep 128 (see jaxgan.models.biggan_deep).
"""

from jaxgan import config_base


def get_config(variant: str = ""):
    c = config_base.base_config()
    c.model.arch = "biggan_deep"
    c.model.resolution = c.data.image_size = 128
    c.model.g = dict(ch=128, dim_z=128, shared_dim=128, attention=(64,), init_style="ortho")
    c.model.d = dict(ch=128, attention=(64,), init_style="ortho")
    return config_base.smoke(c) if variant == "smoke" else c
