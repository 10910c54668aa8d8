"""Shared defaults for the experiment files in configs/.

Each configs/NAME.py builds on `base_config()`, sets what its paper or launch
script says (with the source in a comment) and accepts a variant argument:
`configs/NAME.py:smoke` shrinks width, batch and steps so it trains on a CPU in
seconds on synthetic data (`smoke(config)`).

Fields that scripts and users rely on, in every config: seed, dtype,
train.num_steps, train.batch_size (global), train.num_d_steps, optim.g,
optim.d, data, eval, ckpt.every_steps, log.every_steps.
"""

from __future__ import annotations

import importlib.util
import os

import ml_collections


def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dtype = "float32"  # compute dtype: 'float32' or 'bfloat16' (params and statistics stay float32)
    c.trainer = "biggan"
    c.loss = "hinge"  # hinge | non_saturating | wasserstein | least_squares

    # BigGAN 128 of BigGAN-PyTorch's ImageNet scripts (launch_BigGAN_bs256x8.sh).
    c.model = ml_collections.ConfigDict()
    c.model.arch = "biggan"  # biggan | biggan_deep
    c.model.resolution = 128
    c.model.sn_eps = 1e-6
    c.model.sn_iters = 1
    c.model.bn_eps = 1e-5
    c.model.g = ml_collections.ConfigDict(dict(ch=96, dim_z=120, shared_dim=128, hier=True, attention=(64,),
                                               init_style="ortho"))
    c.model.d = ml_collections.ConfigDict(dict(ch=96, attention=(64,), init_style="ortho"))

    c.reg = ml_collections.ConfigDict()
    c.reg.ortho = 0.0  # BigGAN orthogonal regularisation strength (paper: 1e-4)
    c.reg.gp_weight = 0.0  # WGAN-GP lambda
    c.reg.r1_gamma = 0.0

    c.train = ml_collections.ConfigDict()
    c.train.num_steps = 200_000
    c.train.batch_size = 2048  # global, per update
    c.train.num_d_steps = 1
    c.train.grad_accum_steps = 8  # 2048 = 8 x 256, as BigGAN-PyTorch's bs256x8 script

    # TTUR Adam per network (BigGAN-PyTorch ImageNet scripts: G 1e-4, D 4e-4,
    # betas (0, 0.999), eps 1e-6).
    c.optim = ml_collections.ConfigDict()
    c.optim.g = ml_collections.ConfigDict(dict(lr=1e-4, b1=0.0, b2=0.999, eps=1e-6, warmup_steps=0,
                                               decay="constant"))
    c.optim.d = ml_collections.ConfigDict(dict(lr=4e-4, b1=0.0, b2=0.999, eps=1e-6, warmup_steps=0,
                                               decay="constant"))

    c.ema = ml_collections.ConfigDict(dict(decay=0.9999, start_step=20_000))

    c.data = ml_collections.ConfigDict()
    c.data.source = "tfds"
    c.data.name = "imagenet2012"
    c.data.split = "train"
    c.data.image_size = 128
    c.data.num_classes = 1000  # 0 for unconditional
    c.data.channels = 3

    # FID/IS/KID of EMA-G samples every `every_steps` (0: never during training;
    # `--mode eval` still works); 50k samples as the BigGAN paper reports.
    # inception_weights: pytorch-fid's .pth or a converted .npz; empty = download
    # once into $JAXGAN_CACHE. stats_dir: where the data's statistics are cached
    # (empty = the workdir).
    c.eval = ml_collections.ConfigDict(dict(every_steps=0, num_samples=50_000, batch_size=200,
                                            inception_weights="", stats_dir=""))
    c.ckpt = ml_collections.ConfigDict(dict(every_steps=1000, max_to_keep=3))
    c.log = ml_collections.ConfigDict(dict(every_steps=50))
    c.samples = ml_collections.ConfigDict(dict(every_steps=1000, num=64))  # EMA-G grids, fixed z and classes
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Shrinks a config to run a few steps on a CPU in seconds, on synthetic data
    of the config's resolution and classes. The architecture kind stays."""
    c.model.g.ch = 4
    c.model.d.ch = 4
    c.model.g.dim_z = min(c.model.g.dim_z, 24)
    if "shared_dim" in c.model.g and c.model.g.shared_dim:
        c.model.g.shared_dim = 8
    res = c.model.resolution
    c.model.resolution = c.data.image_size = min(res, 32)
    attention = (16,) if c.model.g.attention else ()
    c.model.g.attention = c.model.d.attention = attention
    c.data.source = "synthetic"
    c.data.num_classes = min(c.data.num_classes, 10)
    c.train.num_steps = 4
    c.train.batch_size = 8
    c.train.grad_accum_steps = min(c.train.grad_accum_steps, 2)
    c.ema.start_step = 2
    c.eval.every_steps = 0
    c.ckpt.every_steps = 2
    c.log.every_steps = 1
    c.samples.every_steps = 2
    c.samples.num = 4
    return c


def load(path: str) -> ml_collections.ConfigDict:
    """The config of an experiment file, `configs/NAME.py[:variant]`, as
    `--config` reads it (for scripts that take a config path)."""
    path, _, variant = path.partition(":")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no config file {path}")
    spec = importlib.util.spec_from_file_location(f"jaxgan_config_{os.path.basename(path)[:-3]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(variant)
