"""Defaults of the classic GANs (`trainer = "classic"`: jaxgan.trainers.classic):
DCGAN, LSGAN, WGAN, WGAN-GP, BEGAN and EBGAN, on top of jaxgan.configs.base.

`get_config()` is DCGAN at 64x64 as the WGAN reference builds it (nz 100,
ngf = ndf = 64, batch 64, Adam 2e-4 (0.5, 0.999)); each objective's function
below sets what its paper's reference code sets, and configs/<objective>_*.py
pick a dataset. `smoke(config)` is the `:smoke` variant of every classic config.
"""

from __future__ import annotations

import ml_collections

from jaxgan.configs import base


def _optim(name="adam", lr=2e-4, b1=0.5, b2=0.999, eps=1e-8, schedule="constant", halve_every=0, min_lr=0.0):
    """One network's optimizer: name adam | rmsprop (b2: rmsprop's alpha);
    schedule constant | linear (to 0 at train.num_steps) | halving (every
    `halve_every` G steps, not below `min_lr`), counted in G steps."""
    return ml_collections.ConfigDict(dict(name=name, lr=lr, b1=b1, b2=b2, eps=eps, schedule=schedule,
                                          halve_every=halve_every, min_lr=min_lr))


def get_config() -> ml_collections.ConfigDict:
    """The neutral fields plus the family's, at DCGAN 64x64's values."""
    c = base.base_config(trainer="classic")
    c.data.num_classes = 0  # unconditional

    # The objective and its constants (each read only by its objective).
    c.loss = ml_collections.ConfigDict(dict(
        name="dcgan",  # dcgan | lsgan | wgan | wgan_gp | began | ebgan
        clip=0.01,  # wgan: critic parameters clamped to [-clip, clip]
        gp_weight=10.0,  # wgan_gp: lambda
        gamma=0.5, lambda_k=0.001,  # began: diversity ratio, k's learning rate
        margin=1.0, pt_weight=0.1))  # ebgan: hinge margin on the fakes' energy, pulling-away weight

    # arch: dcgan | began | ebgan (DCGAN G, autoencoder D) | wgan_gp_mnist |
    # wgan_gp_resnet32 | wgan_gp_resnet64. model.g / model.d are the G and D
    # constructors' other keywords (jaxgan.models.*); the WGAN-GP reference's
    # networks have their resolution and channels built in.
    c.model = ml_collections.ConfigDict()
    c.model.arch = "dcgan"
    c.model.resolution = 64
    c.model.z_dim = 100
    c.model.z_dist = "normal"  # normal | uniform (on [-1, 1], BEGAN)
    c.model.sample_running_stats = False  # sample with BatchNorm's running statistics (the references: batch's)
    c.model.g = ml_collections.ConfigDict(dict(ngf=64, n_extra_layers=0))
    c.model.d = ml_collections.ConfigDict(dict(ndf=64, n_extra_layers=0))

    # D (critic) updates per G step; WGAN's schedule: warmup_d_steps instead in
    # the first warmup_until G steps and every warmup_every-th (0: off).
    c.train.num_steps = 100_000
    c.train.batch_size = 64
    c.train.num_d_steps = 1
    c.train.warmup_d_steps = 0
    c.train.warmup_until = 0
    c.train.warmup_every = 0

    c.optim = ml_collections.ConfigDict(dict(g=_optim(), d=_optim()))
    c.data.image_size = 64
    c.samples.num = 64
    return c


def dcgan(c):
    """DCGAN (Radford et al.; the WGAN reference's DCGAN_G / DCGAN_D): the
    non-saturating loss, Adam 2e-4 (0.5, 0.999), 1 D step."""
    c.loss.name = "dcgan"
    return c


def lsgan(c):
    """LSGAN (Mao et al.): least squares with a=0, b=c=1 on DCGAN's networks,
    Adam 2e-4 (0.5, 0.999) as the paper."""
    c.loss.name = "lsgan"
    return c


def wgan(c):
    """WGAN (Arjovsky et al.; martinarjovsky/WassersteinGAN defaults): clamp
    0.01, RMSProp 5e-5, 5 critic iterations, 100 in the first 25 G steps and
    every 500th, batch 64."""
    c.loss.name = "wgan"
    c.loss.clip = 0.01
    c.optim.g = _optim("rmsprop", lr=5e-5, b2=0.99)
    c.optim.d = _optim("rmsprop", lr=5e-5, b2=0.99)
    c.train.num_d_steps = 5
    c.train.warmup_d_steps, c.train.warmup_until, c.train.warmup_every = 100, 25, 500
    c.train.batch_size = 64
    return c


def wgan_gp(c):
    """WGAN-GP (Gulrajani et al.; gan_mnist.py / gan_cifar.py): lambda 10,
    5 critic iterations, Adam 1e-4 (0.5, 0.9)."""
    c.loss.name = "wgan_gp"
    c.loss.gp_weight = 10.0
    c.optim.g = _optim(lr=1e-4, b1=0.5, b2=0.9)
    c.optim.d = _optim(lr=1e-4, b1=0.5, b2=0.9)
    c.train.num_d_steps = 5
    return c


def wgan_gp_resnet(c):
    """WGAN-GP's ResNet scripts (gan_cifar_resnet.py, gan_64x64.py): Adam 2e-4
    (0, 0.9) decaying linearly to 0, 5 critic iterations, batch 64."""
    c = wgan_gp(c)
    c.optim.g = _optim(lr=2e-4, b1=0.0, b2=0.9, schedule="linear")
    c.optim.d = _optim(lr=2e-4, b1=0.0, b2=0.9, schedule="linear")
    c.train.batch_size = 64
    c.model.z_dim = 128
    return c


def began(c):
    """BEGAN (Berthelot et al.; carpedm20/BEGAN-tensorflow defaults): h 64,
    n 128, z uniform on [-1, 1], gamma 0.5, lambda_k 0.001, Adam 8e-5
    (0.5, 0.999) halved every 100k steps to 2e-5, batch 16."""
    c.loss.name = "began"
    c.loss.gamma, c.loss.lambda_k = 0.5, 0.001
    c.model.arch = "began"
    c.model.z_dim = 64
    c.model.z_dist = "uniform"
    c.model.g = ml_collections.ConfigDict(dict(hidden=128))
    c.model.d = ml_collections.ConfigDict(dict(hidden=128))
    c.optim.g = _optim(lr=8e-5, b1=0.5, b2=0.999, schedule="halving", halve_every=100_000, min_lr=2e-5)
    c.optim.d = _optim(lr=8e-5, b1=0.5, b2=0.999, schedule="halving", halve_every=100_000, min_lr=2e-5)
    c.train.batch_size = 16
    c.train.num_steps = 500_000
    return c


def ebgan(c):
    """EBGAN (Zhao et al.): DCGAN's G, the autoencoder D, margin loss on the
    fakes' energy, pulling-away term 0.1, Adam 2e-4 (0.5, 0.999)."""
    c.loss.name = "ebgan"
    c.loss.pt_weight = 0.1
    c.model.arch = "ebgan"
    c.model.d = ml_collections.ConfigDict(dict(ndf=64, num_layers=3))
    return c


def _tfds(c, name: str, resolution: int):
    c.data.source = "tfds"
    c.data.name = name
    c.data.num_classes = 0
    c.data.channels = 3
    if c.model.arch in ("dcgan", "began", "ebgan"):  # the WGAN-GP networks have their size built in
        c.model.resolution = resolution
    c.data.image_size = resolution
    c.ckpt.every_steps = 5000
    c.samples.every_steps = 1000
    return c


def cifar10(c):
    """CIFAR-10's 50k training images, 32x32, unconditional."""
    return _tfds(c, "cifar10", 32)


def lsun_bedroom(c):
    """LSUN bedrooms (tfds `lsun/bedroom`), central square at 64x64."""
    return _tfds(c, "lsun/bedroom", 64)


def celeba(c):
    """CelebA (tfds `celeb_a`), central square at 64x64."""
    return _tfds(c, "celeb_a", 64)


def mnist5k(c, resolution: int = 32):
    """The embedded MNIST-5k digits (grey, padded to 32x32; MNIST's 28x28 at
    resolution 28) and the CPU budget that every configs/*_mnist.py shares, so
    that their results compare: batch 64, 2000 G steps (the README's table)."""
    c.data.source = "mnist5k"
    c.data.name = ""
    c.data.channels = 1
    c.data.num_classes = 0
    c.data.num_workers = 0  # decoding small digits is cheap; keep the cores for the step
    c.data.image_size = c.model.resolution = resolution
    c.train.batch_size = 64
    c.train.num_steps = 2000
    c.ckpt.every_steps = 500
    c.log.every_steps = 50
    c.samples.every_steps = 500
    c.eval.num_samples = 5000
    return c


def smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The `:smoke` variant: base.smoke and networks of width 4 (the
    architecture kind and the objective stay); WGAN's warm-up critic
    iterations shrink to 3, so the smoke run compiles both step shapes."""
    c = base.smoke(c)
    c.data.num_classes = 0
    for net in (c.model.g, c.model.d):
        for width in ("ngf", "ndf", "hidden", "dim"):
            if width in net:
                net[width] = 4
    if c.model.arch in ("dcgan", "began", "ebgan"):
        c.model.resolution = c.data.image_size = min(c.model.resolution, 16 if c.model.arch != "began" else 8)
    c.model.z_dim = min(c.model.z_dim, 8)
    if c.train.warmup_d_steps:
        c.train.warmup_d_steps, c.train.warmup_until, c.train.warmup_every = 3, 1, 3
    c.train.num_d_steps = min(c.train.num_d_steps, 2)
    return c
