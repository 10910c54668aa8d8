"""Defaults of SinGAN (`trainer = "singan"`: jaxgan.trainers.singan), on top
of jaxgan.configs.single_image: the reference's (github.com/tamarott/SinGAN,
config.py and SinGAN/training.py) unless a comment says otherwise.

The pyramid, and so the number of training steps, comes from the image:
`train.iters_per_scale` steps per scale, one phase per scale
(`train.num_steps` is not read). `train.batch_size` is not read either (one
image, no batches): it only has to divide the number of devices.
"""

from __future__ import annotations

import ml_collections

from jaxgan.configs import single_image


def get_config() -> ml_collections.ConfigDict:
    c = single_image.base_config("singan", "astronaut")

    c.model = ml_collections.ConfigDict(dict(
        arch="singan",
        nfc=32, min_nfc=32,  # widths at the coarsest scale, doubled every 4 scales up to max_nfc
        max_nfc=128,
        num_layer=5, kernel_size=3,
        # the pyramid: coarsest shorter side min_size, finest longer side at
        # most max_size, the ratio between scales recomputed from scale_factor
        min_size=25, max_size=250, scale_factor=0.75,
        # sr_factor > 0: the super-resolution model of SR.py (variant sr): the
        # ratio between scales is that factor's step (imresize.singan_sr_scale)
        # and the pyramid adjust_scales2image_SR's
        sr_factor=0.0,
        # the animation model (animation.py's animation_train, variant
        # animation): noise drawn over the zero padding of G's input too
        noise_padding=False))

    c.train.iters_per_scale = 2000  # niter

    # Adam per network and scale (fresh at each scale), lr x gamma from
    # iteration decay_at (MultiStepLR([1600], 0.1), stepped before the updates).
    c.optim = ml_collections.ConfigDict(dict(lr_g=5e-4, lr_d=5e-4, b1=0.5, b2=0.999, eps=1e-8,
                                             decay_at=1600, gamma=0.1))
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Two scales of 2 steps on a 40-pixel scikit-image photo, narrow networks."""
    single_image.smoke(c)
    c.model.nfc = c.model.min_nfc = 8
    c.model.max_nfc = 16
    c.train.iters_per_scale = 2
    c.train.num_steps = 4
    return c


def sr(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """SR.py's model for x4 super-resolution (`python -m jaxgan.singan sr`):
    min_size 18, reconstruction weight 100, the scales 4^(1/6) apart."""
    c.model.sr_factor = 4.0
    c.model.min_size = 18
    c.loss.alpha = 100.0
    return c


def animation(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """animation.py's model (`python -m jaxgan.singan animation`): min_size
    20, noise over the padding."""
    c.model.min_size = 20
    c.model.noise_padding = True
    return c


def sr_smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The super-resolution model's smoke run: `smoke` at 28 px, which with
    min_size 18 makes two scales, one step each."""
    smoke(sr(c))
    c.model.max_size = 28
    c.train.iters_per_scale = 1
    c.train.num_steps = 2
    return c
