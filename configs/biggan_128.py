"""BigGAN 128x128 on ImageNet (Brock et al. 2019).

Numbers: BigGAN-PyTorch's launch_BigGAN_bs256x8.sh (batch 256 x 8 accumulations
= 2048, G lr 1e-4, D lr 4e-4, betas (0, 0.999), Adam eps 1e-6, SN eps 1e-6,
BN eps 1e-5, ch 96, dim_z 120, shared_dim 128, hier, attention at 64, EMA from
20k); orthogonal regularisation 1e-4 from the paper (section 3.1; the script
sets G_ortho 0).
"""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    c = biggan.get_config()
    c.reg.ortho = 1e-4
    return c
