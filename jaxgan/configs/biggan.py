"""Defaults of the BigGAN family (`trainer = "biggan"`: jaxgan.trainers.biggan):
BigGAN, BigGAN-deep and SAGAN-style models, on top of jaxgan.configs.base.

`get_config()` is BigGAN 128 of BigGAN-PyTorch's ImageNet scripts
(launch_BigGAN_bs256x8.sh); `biggan_deep(resolution)` is BigGAN-deep;
`smoke(config)` is the `:smoke` variant of every BigGAN config.
"""

from __future__ import annotations

import ml_collections
from ml_collections import config_dict

from jaxgan.configs import base


def get_config() -> ml_collections.ConfigDict:
    """The neutral fields plus the family's, at BigGAN 128's values."""
    c = base.base_config(trainer="biggan")
    c.loss = "hinge"  # hinge | non_saturating | wasserstein | least_squares

    # BigGAN 128 of BigGAN-PyTorch's ImageNet scripts (launch_BigGAN_bs256x8.sh).
    c.model = ml_collections.ConfigDict()
    c.model.arch = "biggan"  # biggan | biggan_deep
    c.model.resolution = 128
    c.model.sn_eps = 1e-6
    c.model.sn_iters = 1
    c.model.bn_eps = 1e-5
    # The G and D constructors' keywords that model.*, data.num_classes and
    # dtype do not set (the trainer passes model.g and model.d as keywords).
    c.model.g = ml_collections.ConfigDict(dict(
        ch=96, dim_z=120, shared_dim=128, hier=True, attention=(64,), init_style="ortho",
        bn_momentum=0.9,  # flax's convention: torch's BatchNorm momentum 0.1
        activation="relu"))  # relu | elu | gelu | silu (jaxgan.models.layers.ACTIVATIONS)
    c.model.d = ml_collections.ConfigDict(dict(ch=96, attention=(64,), init_style="ortho", activation="relu"))

    c.reg = ml_collections.ConfigDict()
    c.reg.ortho = 0.0  # BigGAN orthogonal regularisation strength (paper: 1e-4)
    c.reg.gp_weight = 0.0  # WGAN-GP lambda
    c.reg.r1_gamma = 0.0

    c.train.num_d_steps = 1
    c.train.grad_accum_steps = 8  # 2048 = 8 x 256, as BigGAN-PyTorch's bs256x8 script

    # TTUR Adam per network (BigGAN-PyTorch ImageNet scripts: G 1e-4, D 4e-4,
    # betas (0, 0.999), eps 1e-6); decay: constant | cosine | linear (to 0 by
    # train.num_steps, after warmup_steps).
    c.optim = ml_collections.ConfigDict()
    c.optim.g = ml_collections.ConfigDict(dict(lr=1e-4, b1=0.0, b2=0.999, eps=1e-6, warmup_steps=0,
                                               decay="constant"))
    c.optim.d = ml_collections.ConfigDict(dict(lr=4e-4, b1=0.0, b2=0.999, eps=1e-6, warmup_steps=0,
                                               decay="constant"))

    c.ema = ml_collections.ConfigDict(dict(decay=0.9999, start_step=20_000))
    return c


def biggan_deep(resolution: int) -> ml_collections.ConfigDict:
    """BigGAN-deep at `resolution` on ImageNet (Brock et al. 2019, appendix B),
    shared by configs/biggan_deep_{128,256,512}.py.

    Numbers: BigGAN-PyTorch's launch_BigGAN_deep.sh (batch 256 x 8 accumulations
    = 2048, G lr 1e-4, D lr 4e-4, betas (0, 0.999), Adam eps 1e-6, SN eps 1e-6,
    BN eps 1e-5, ch 128, dim_z 128, shared_dim 128, attention at 64, EMA from
    20k, no orthogonal regularisation). The architecture equals DeepMind's
    released BigGAN-deep at 128, 256 and 512 (see jaxgan.models.biggan_deep).
    """
    c = get_config()
    c.model.arch = "biggan_deep"
    c.model.resolution = c.data.image_size = resolution
    c.model.g = ml_collections.ConfigDict(dict(
        ch=128, dim_z=128, shared_dim=128, attention=(64,), init_style="ortho", bn_momentum=0.9, activation="relu",
        blocks_per_stage=2, channel_ratio=4,
        to_rgb_features=config_dict.placeholder(int)))  # unset: as many as the last stage, as both references
    c.model.d = ml_collections.ConfigDict(dict(ch=128, attention=(64,), init_style="ortho", activation="relu",
                                               blocks_per_stage=2, channel_ratio=4))
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The `:smoke` variant: base.smoke, and G and D at width 4 and at most 32x32
    (attention at 16 where the config has any). The architecture kind stays."""
    c = base.smoke(c)
    c.model.g.ch = 4
    c.model.d.ch = 4
    c.model.g.dim_z = min(c.model.g.dim_z, 24)
    if c.model.g.shared_dim:
        c.model.g.shared_dim = 8
    c.model.resolution = c.data.image_size = min(c.model.resolution, 32)
    attention = (16,) if c.model.g.attention else ()
    c.model.g.attention = c.model.d.attention = attention
    c.train.grad_accum_steps = min(c.train.grad_accum_steps, 2)
    c.ema.start_step = 2
    return c
