"""Defaults of ConSinGAN (`trainer = "consingan"`: jaxgan.trainers.consingan),
on top of jaxgan.configs.single_image: the reference's unconditional generation
(github.com/tohinz/ConSinGAN, ConSinGAN/config.py, main_train.py) unless a
comment says otherwise.

`train.iters_per_stage` steps per stage, one phase per stage
(`train.num_steps` is not read); `train.batch_size` is not read either (one
image): it only has to divide the number of devices.
"""

from __future__ import annotations

import ml_collections

from jaxgan.configs import single_image


def get_config() -> ml_collections.ConfigDict:
    c = single_image.base_config("consingan", "rocket")

    c.model = ml_collections.ConfigDict(dict(
        arch="consingan",
        nfc=64, num_layer=3, kernel_size=3,
        activation="lrelu", lrelu_alpha=0.05,  # lrelu | elu | prelu | selu
        batch_norm=False,  # the reference's harmonization / editing models only
        # generation | editing (the editing model: stage 0's input is the coarsest
        # image, tile-shuffled, plus noise_scaling x N(0, 1); variant :editing)
        train_mode="generation",
        noise_scaling=0.1,
        train_stages=6,  # pyramid levels = generator stages
        train_depth=3,  # stages trained together
        lr_scale=0.1,  # learning rate x lr_scale per stage below the newest
        min_size=25, max_size=250))  # max_size: see cpu()

    c.train.iters_per_stage = 2000  # niter; g_steps: Adam steps with one gradient
    # '600,600,600,300,300,200': each stage's iterations instead (the lr decays
    # at decay_at x its own), which the reference does not offer
    c.train.stage_iters = ""

    # Adam for G and D, new at each stage; lr x gamma from decay_at x
    # iters_per_stage on (MultiStepLR([0.8 niter], 0.1)).
    c.optim = ml_collections.ConfigDict(dict(lr_g=5e-4, lr_d=5e-4, b1=0.5, b2=0.999, eps=1e-8,
                                             decay_at=0.8, gamma=0.1))
    return c


def cpu(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The CPU default of configs/consingan.py: the image at 128 px (the
    reference's 250) and 300 iterations per stage (its 2000): the six stages
    train in 14 minutes on a 2-core CPU (README: Single-image GANs)."""
    c.model.max_size = 128
    c.train.iters_per_stage = 300
    c.ckpt.every_steps = c.samples.every_steps = 300
    return c


def editing(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The reference's editing model (README: `--train_mode editing
    --batch_norm --niter 1000`; noise_scaling 0.1), at the CPU default's
    128 px. Edit with `python -m jaxgan.singan editing` on the trained run."""
    c.model.train_mode = "editing"
    c.model.batch_norm = True
    c.train.iters_per_stage = 1000
    c.ckpt.every_steps = c.samples.every_steps = 1000
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Three stages of one step on a 40-pixel scikit-image photo, narrow networks."""
    single_image.smoke(c)
    c.model.nfc = 8
    c.model.train_stages = 3
    c.model.train_depth = 2
    c.train.iters_per_stage = 1
    c.train.num_steps = 3
    return c
