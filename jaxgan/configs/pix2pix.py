"""Defaults of pix2pix (`trainer = "pix2pix"`: jaxgan.trainers.pix2pix), on
top of jaxgan.configs.base, at the reference's values
(junyanz/pytorch-CycleGAN-and-pix2pix, options/*.py and
models/pix2pix_model.py): unet_256 G, the 70x70 PatchGAN ('basic') D on the
concatenated pair, batch norm, dropout in G, the vanilla GAN loss,
lambda_L1 100, Adam 2e-4 (0.5, 0.999), batch 1, aligned data (load 286,
crop 256, flip).

Learning rate (the reference's lr_policy 'linear', counted in epochs of the
training set): constant for n_epochs, then linearly towards 0 over
n_epochs_decay. Here in steps: with N training pairs and batch B an epoch is
optim.epoch_steps = ceil(N / B) steps (the reference's DataLoader keeps the
last, short batch; our stream has full batches, so pick B dividing N for the
same epochs); train.num_steps = (n_epochs + n_epochs_decay) * epoch_steps and
optim.decay_steps = n_epochs_decay * epoch_steps. The rate is constant within
an epoch as the reference's scheduler (stepped at each epoch's end): epoch e
(0-based) has lr * (1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1)).
epoch_steps 1 gives the same ramp per step.

`smoke(config)` is the `:smoke` variant of every pix2pix config.
"""

from __future__ import annotations

import ml_collections

from jaxgan.configs import base


def get_config() -> ml_collections.ConfigDict:
    c = base.base_config(trainer="pix2pix")

    # arch 'pix2pix': jaxgan.models.pix2pix's define_G / define_D, whose
    # keywords are model.g / model.d (output_nc is config.data.channels).
    # sample_mode: how translations for grids, evaluation and --mode sample
    # run G: 'eval' (BatchNorm's running statistics, no dropout: the
    # reference's test.py --eval) or 'train' (each image normalised by its own
    # statistics, dropout on: the reference's test.py default at batch 1).
    c.model = ml_collections.ConfigDict(dict(
        arch="pix2pix", sample_mode="eval",
        g=ml_collections.ConfigDict(dict(netG="unet_256", ngf=64, norm="batch", use_dropout=True)),
        d=ml_collections.ConfigDict(dict(netD="basic", ndf=64, n_layers_D=3, norm="batch"))))

    # gan_mode: vanilla (BCE with logits against 1/0) | lsgan (squares against
    # 1/0) | hinge; G also minimises lambda_L1 * mean |G(A) - B|.
    c.loss = ml_collections.ConfigDict(dict(gan_mode="vanilla", lambda_L1=100.0))

    # facades: 400 training pairs at batch 1 = 400 steps an epoch; 100 + 100 epochs.
    c.optim = ml_collections.ConfigDict(dict(lr=2e-4, b1=0.5, b2=0.999, eps=1e-8, epoch_steps=400,
                                             decay_steps=40_000))
    c.train.num_steps = 80_000
    c.train.batch_size = 1

    c.data.source = "aligned"
    c.data.name = ""
    c.data.split = "train"  # the reference's --phase: images under <folder>/<split>
    c.data.num_classes = 0
    c.data.image_size = 256  # the reference's crop_size
    c.data.load_size = 286  # resized to this, then one random crop for both halves (0: no crop)
    c.data.channels = 3  # the target's (output_nc)
    c.data.input_channels = 3  # the input's (input_nc)
    c.data.direction = "AtoB"  # AtoB: the left half is the input; BtoA: the right
    c.data.random_flip = True  # the reference flips unless --no_flip

    # eval: L1 of G's translations of the first num_samples pairs of
    # eval.split (resized to image_size, no flip) against their targets; the
    # lowest keeps best/.
    c.eval.split = "val"
    c.eval.num_samples = 500
    c.eval.batch_size = 50
    c.samples.num = 8  # grids of (input, output, target)
    c.samples.every_steps = 2000
    c.ckpt.every_steps = 5000
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """base.smoke (noise pairs, 4 steps) with 32x32 images, width-4 networks
    (a U-Net of 5 levels for 32x32), the decay from step 3 and an L1
    evaluation (with best/) every 2 steps."""
    c = base.smoke(c)
    c.data.num_classes = 0
    c.data.image_size, c.data.load_size = 32, 0
    if c.model.g.netG.startswith("unet"):
        c.model.g.netG = "unet_32"
    c.model.g.ngf = c.model.d.ndf = 4
    c.optim.epoch_steps, c.optim.decay_steps = 1, 2
    c.eval.every_steps, c.eval.num_samples, c.eval.batch_size = 2, 8, 4
    return c
