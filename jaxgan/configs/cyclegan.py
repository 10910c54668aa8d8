"""Defaults of CycleGAN (`trainer = "cyclegan"`: jaxgan.trainers.cyclegan), on
top of jaxgan.configs.base, at the reference's values
(junyanz/pytorch-CycleGAN-and-pix2pix, options/base_options.py,
options/train_options.py and models/cycle_gan_model.py): two resnet_9blocks
Gs (G_A: A -> B, G_B: B -> A) and two 70x70 PatchGANs ('basic', D_A judges
B images, D_B A images), instance norm without affine parameters, reflection
padding, no dropout (CycleGAN's --no_dropout default), the LSGAN loss,
lambda_A = lambda_B = 10 (cycle L1), lambda_identity 0.5, image pools of 50,
Adam 2e-4 (0.5, 0.999), one optimizer over both Gs and one over both Ds,
batch 1, unaligned data (load 286, crop 256, flip).

Learning rate: pix2pix's (jaxgan.configs.pix2pix): constant for n_epochs,
then linearly towards 0 over n_epochs_decay, per epoch of
optim.epoch_steps steps; train.num_steps = (n_epochs + n_epochs_decay) *
epoch_steps, optim.decay_steps = n_epochs_decay * epoch_steps. The
reference's unaligned epoch is max(|A|, |B|) images (jaxgan.data.unaligned).

CSGAN's cycle-synthesized loss: loss.lambda_cs > 0 (the paper's code: 30;
here 0, the reference CycleGAN).

`smoke(config)` is the `:smoke` variant of every CycleGAN config.
"""

from __future__ import annotations

import ml_collections

from jaxgan.configs import base


def get_config() -> ml_collections.ConfigDict:
    c = base.base_config(trainer="cyclegan")

    # arch 'cyclegan': jaxgan.models.pix2pix's define_G / define_D, whose
    # keywords are model.g (both Gs) / model.d (both Ds); output_nc is the
    # other domain's channels.
    c.model = ml_collections.ConfigDict(dict(
        arch="cyclegan",
        g=ml_collections.ConfigDict(dict(netG="resnet_9blocks", ngf=64, norm="instance", use_dropout=False)),
        d=ml_collections.ConfigDict(dict(netD="basic", ndf=64, n_layers_D=3, norm="instance"))))

    # gan_mode: lsgan (CycleGAN's; squares against 1/0) | vanilla | hinge.
    # lambda_A / lambda_B: cycle L1 weights (A -> B -> A, B -> A -> B);
    # lambda_identity: the identity losses' share of them (0: off);
    # lambda_cs: CSGAN's cycle-synthesized L1 (0: off).
    c.loss = ml_collections.ConfigDict(dict(gan_mode="lsgan", lambda_A=10.0, lambda_B=10.0, lambda_identity=0.5,
                                            lambda_cs=0.0))

    # horse2zebra: max(1067 horses, 1334 zebras) = 1334 steps an epoch at batch 1; 100 + 100 epochs.
    c.optim = ml_collections.ConfigDict(dict(lr=2e-4, b1=0.5, b2=0.999, eps=1e-8, epoch_steps=1334,
                                             decay_steps=100 * 1334))
    c.train.num_steps = 200 * 1334
    c.train.batch_size = 1
    c.train.pool_size = 50  # the reference's --pool_size: fakes D trains on are drawn from a history of this many

    c.data.source = "unaligned"
    c.data.name = ""
    c.data.split = "train"  # the reference's --phase: images under <folder>/<split>A and <folder>/<split>B
    c.data.num_classes = 0
    c.data.image_size = 256  # the reference's crop_size
    c.data.load_size = 286  # resized to this, then a random crop (0: no crop)
    c.data.channels = 3  # domain B's (output_nc)
    c.data.input_channels = 3  # domain A's (input_nc)
    c.data.direction = "AtoB"  # BtoA: <split>B is domain A (the input of G_A)
    c.data.random_flip = True  # the reference flips unless --no_flip

    # eval: on the first num_samples held-out images of eval.split, the cycle
    # L1s and, where B is A's truth (not for unaligned folders), L1 of the
    # translations (the lowest keeps best/).
    c.eval.split = "test"
    c.eval.num_samples = 100
    c.eval.batch_size = 10
    c.samples.num = 8  # grids of (real_A, fake_B, rec_A, real_B, fake_A, rec_B)
    c.samples.every_steps = 2000
    c.ckpt.every_steps = 5000
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """base.smoke (noise images, 4 steps of batch 4) with 32x32 images,
    width-4 networks, pools of 2 (full after the first step), the decay from
    step 3 and an evaluation (with best/) every 2 steps."""
    c = base.smoke(c)
    c.data.num_classes = 0
    c.data.image_size, c.data.load_size = 32, 0
    c.train.batch_size = 4
    c.train.pool_size = 2
    c.model.g.ngf = c.model.d.ndf = 4
    c.optim.epoch_steps, c.optim.decay_steps = 1, 2
    c.eval.every_steps, c.eval.num_samples, c.eval.batch_size = 2, 8, 4
    return c
