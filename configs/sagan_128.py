"""SAGAN 128x128 on ImageNet (Zhang et al. 2019) in the BigGAN code base.

Numbers: the SAGAN paper (hinge loss, SN in G and D, TTUR lr G 1e-4 / D 4e-4,
Adam betas (0, 0.9), batch 256, self-attention at 64 in G and D, 1 D step) with
BigGAN-PyTorch's launch_SAGAN_bs128x2_ema.sh for the rest (ch 64, per-BN class
embeddings instead of a shared embedding, no hierarchical z, dim_z 128, Xavier
init, batch 128 x 2 accumulations, EMA from 2000, SN eps 1e-8, Adam eps 1e-8).
"""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    c = biggan.get_config()
    c.model.sn_eps = 1e-8
    c.model.g.update(ch=64, dim_z=128, shared_dim=0, hier=False, attention=(64,), init_style="glorot")
    c.model.d.update(ch=64, attention=(64,), init_style="glorot")
    c.train.num_steps = 1_000_000
    c.train.batch_size = 256
    c.train.grad_accum_steps = 2
    for opt in (c.optim.g, c.optim.d):
        opt.b2, opt.eps = 0.9, 1e-8
    c.ema.start_step = 2000
    return c
