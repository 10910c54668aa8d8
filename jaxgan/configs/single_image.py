"""What the defaults of the single-image GANs (jaxgan.configs.singan,
jaxgan.configs.consingan) share: one training image and no batches, the
WGAN-GP and reconstruction weights both references use, and the scores,
checkpoints and samples of a run."""

from __future__ import annotations

import ml_collections

from jaxgan.configs import base


def base_config(trainer: str, image: str) -> ml_collections.ConfigDict:
    c = base.base_config(trainer=trainer)
    c.data.source = "single_image"
    c.data.image = image  # a file, or a scikit-image sample (jaxgan.data.single_image)
    c.data.num_classes = 0
    c.data.image_size = 0  # not read: the pyramid keeps the image's aspect ratio

    c.train.num_steps = 0  # not read: the phases' steps (scales or stages x iterations)
    c.train.batch_size = 1  # not read (one image, no batches): it only has to divide the devices
    c.train.d_steps = 3  # Dsteps
    c.train.g_steps = 3  # Gsteps

    c.loss = ml_collections.ConfigDict(dict(
        gp_weight=0.1,  # lambda_grad: WGAN-GP on the per-pixel gradient norm, as the references
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
    """A 40-pixel scikit-image photo, few samples (the families narrow their networks)."""
    base.smoke(c)
    c.data.source = "single_image"
    c.data.image = "coffee"
    c.model.max_size = 40
    c.samples.num = 4
    c.eval.num_samples = c.eval.batch_size = 4
    return c
