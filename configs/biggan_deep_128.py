"""BigGAN-deep 128x128 on ImageNet (Brock et al. 2019, appendix B): the
settings of BigGAN-PyTorch's launch_BigGAN_deep.sh, in jaxgan.configs.biggan.biggan_deep
(shared by the 128, 256 and 512 files). Architecture equals DeepMind's released
BigGAN-deep 128 (see jaxgan.models.biggan_deep).
"""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    return biggan.biggan_deep(128)
