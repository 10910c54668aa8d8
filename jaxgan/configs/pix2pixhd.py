"""Defaults of pix2pixHD (`trainer = "pix2pixhd"`: jaxgan.trainers.pix2pixhd),
on top of jaxgan.configs.base, at the reference's training options
(NVIDIA/pix2pixHD, options/base_options.py and train_options.py): the global
generator (ngf 64, 4 downsamplings, 9 blocks), instance norm, the multi-scale
D (num_D 2, n_layers_D 3, ndf 64) with feature matching, the VGG loss,
lambda_feat 10, LSGAN, Adam 2e-4 (0.5, 0.999), batch 1, 100 + 100 epochs,
Cityscapes' 35 labels with instance maps.

Learning rate, in steps (an epoch is optim.epoch_steps = ceil(N / B) steps
for N training examples at batch B): constant for n_epochs, then down by lr /
n_epochs_decay after each of the n_epochs_decay epochs (the reference's
update_learning_rate); train.num_steps = (n_epochs + n_epochs_decay) *
epoch_steps, optim.decay_steps = n_epochs_decay * epoch_steps,
optim.fix_global_steps = niter_fix_global * epoch_steps (train only the
outermost local enhancer first; needs model.g.netG 'local').

The VGG19 weights are torchvision's published file, downloaded into the cache
on first use; offline, `--config.loss.vgg_weights=PATH` names the .pth (or the
converted .npz); `--config.loss.vgg=False` is the reference's --no_vgg_loss.

`smoke(config)` is the `:smoke` variant of every pix2pixHD config.
"""

from __future__ import annotations

import ml_collections

from jaxgan.configs import base


def get_config() -> ml_collections.ConfigDict:
    c = base.base_config(trainer="pix2pixhd")

    # arch 'pix2pixhd': jaxgan.models.pix2pixhd's define_G (model.g: netG
    # 'global' or 'local' and its sizes) and define_D (model.d). instance_feat
    # adds the instance-feature encoder (model.e) and its feat_num channels to
    # G's input. sample_mode: 'eval' (BatchNorm's running statistics) or
    # 'train' (the reference's test.py, which never switches to eval mode; the
    # same with instance norm).
    c.model = ml_collections.ConfigDict(dict(
        arch="pix2pixhd", sample_mode="eval", instance_feat=False,
        g=ml_collections.ConfigDict(dict(netG="global", ngf=64, n_downsample_global=4, n_blocks_global=9,
                                         n_local_enhancers=1, n_blocks_local=3, norm="instance")),
        d=ml_collections.ConfigDict(dict(ndf=64, n_layers_D=3, num_D=2, norm="instance")),
        e=ml_collections.ConfigDict(dict(nef=16, n_downsample_E=4, feat_num=3))))

    # gan_mode: lsgan (the reference's default) | vanilla (--no_lsgan) | hinge.
    # feat_matching: D's feature matching (off: --no_ganFeat_loss); vgg: the
    # VGG19 loss (off: --no_vgg_loss); both weighted by lambda_feat.
    c.loss = ml_collections.ConfigDict(dict(gan_mode="lsgan", feat_matching=True, vgg=True, lambda_feat=10.0,
                                            vgg_weights=""))

    # Cityscapes: 2975 training images at batch 1; 100 + 100 epochs.
    c.optim = ml_collections.ConfigDict(dict(lr=2e-4, b1=0.5, b2=0.999, eps=1e-8, epoch_steps=2975,
                                             decay_steps=100 * 2975, fix_global_steps=0))
    c.train.num_steps = 200 * 2975
    c.train.batch_size = 1

    c.data.source = "pix2pixhd"
    c.data.name = ""
    c.data.split = "train"  # the reference's --phase: <folder>/<split>_label, _inst, _img
    c.data.num_classes = 0
    c.data.label_nc = 35  # label ids in [0, label_nc); 0: RGB inputs from <split>_A
    c.data.instance = True  # read <split>_inst and give G and D its edges (off: --no_instance)
    c.data.image_size = 512  # the crop's side
    c.data.load_size = 1024  # images scaled to this width first (0: as they are)
    c.data.channels = 3
    c.data.input_channels = 3  # with label_nc 0
    c.data.random_flip = True

    c.eval.split = "test"
    c.eval.num_samples = 500
    c.eval.batch_size = 4
    c.samples.num = 8
    c.samples.every_steps = 5000
    c.ckpt.every_steps = 5000
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """base.smoke (synthetic label maps, instance maps and images, 4 steps) at
    32x32 with width-4 networks, the decay from step 3, an L1 evaluation (with
    best/) every 2 steps; the VGG loss off (its weights are a download)."""
    c = base.smoke(c)
    c.data.num_classes = 0
    c.data.image_size, c.data.load_size = 32, 0
    c.data.label_nc = min(c.data.label_nc, 5)
    c.model.g.ngf = 4 if c.model.g.netG == "global" else 2
    c.model.g.n_downsample_global = 2
    c.model.g.n_blocks_global = c.model.g.n_blocks_local = 1
    c.model.d.ndf = 4
    c.model.e.nef = 4
    c.model.e.n_downsample_E = 2
    c.loss.vgg = False
    c.optim.epoch_steps, c.optim.decay_steps = 1, 2
    c.optim.fix_global_steps = min(c.optim.fix_global_steps, 2)
    c.eval.every_steps, c.eval.num_samples, c.eval.batch_size = 2, 8, 4
    return c
