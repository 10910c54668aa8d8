"""Defaults of SinGAN (`trainer = "singan"`: jaxgan.trainers.singan), on top
of jaxgan.configs.base: the reference's (github.com/tamarott/SinGAN,
config.py and SinGAN/training.py) unless a comment says otherwise.

The pyramid, and so the number of training steps, comes from the image:
`train.iters_per_scale` steps per scale, one phase per scale
(`train.num_steps` is not read). `train.batch_size` is not read either (one
image, no batches): it only has to divide the number of devices.
"""

from __future__ import annotations

import ml_collections

from jaxgan.configs import base


def get_config() -> ml_collections.ConfigDict:
    c = base.base_config(trainer="singan")
    c.data.source = "single_image"
    c.data.image = "astronaut"  # a file, or a scikit-image sample (jaxgan.data.single_image)
    c.data.num_classes = 0
    c.data.image_size = 0  # not read: the pyramid keeps the image's aspect ratio

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

    c.train.num_steps = 0  # not read: scales x iters_per_scale
    c.train.batch_size = 1  # not read (see the module docstring)
    c.train.iters_per_scale = 2000  # niter
    c.train.d_steps = 3  # Dsteps
    c.train.g_steps = 3  # Gsteps

    # Adam per network and scale (fresh at each scale), lr x gamma from
    # iteration decay_at (MultiStepLR([1600], 0.1), stepped before the updates).
    c.optim = ml_collections.ConfigDict(dict(lr_g=5e-4, lr_d=5e-4, b1=0.5, b2=0.999, eps=1e-8,
                                             decay_at=1600, gamma=0.1))
    c.loss = ml_collections.ConfigDict(dict(
        gp_weight=0.1,  # lambda_grad: WGAN-GP on the per-pixel gradient norm, as the reference
        alpha=10.0,  # reconstruction weight
        noise_amp=0.1))  # noise_amp_init: noise std = noise_amp x the RMSE of the upsampled reconstruction

    c.eval.every_steps = 0
    c.eval.num_samples = 16
    c.eval.batch_size = 16
    # SIFID in the scores: '' (off: the CPU checks use the patch SWD), 'torchvision' (the
    # paper's: torchvision's ImageNet Inception, downloaded once) or a torch Inception-v3 .pth
    c.eval.sifid_weights = ""
    c.ckpt.every_steps = 500
    c.log.every_steps = 100
    c.samples.every_steps = 500
    c.samples.num = 16
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """Two scales of 2 steps on a 40-pixel scikit-image photo, narrow networks."""
    base.smoke(c)
    c.data.source = "single_image"
    c.data.image = "coffee"
    c.model.nfc = c.model.min_nfc = 8
    c.model.max_nfc = 16
    c.model.max_size = 40
    c.train.iters_per_scale = 2
    c.train.num_steps = 4
    c.samples.num = 4
    c.eval.num_samples = c.eval.batch_size = 4
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
