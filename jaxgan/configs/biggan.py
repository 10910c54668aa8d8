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


# D's conditioning head (jaxgan.models.biggan.DiscriminatorOptions): BigGAN's
# projection; StudioGAN's classifier heads are 'ac', '2c' and 'd2dce' with
# aux_head 'tac' or 'adc' (d_cond_mtd, aux_cls_type, d_embed_dim, normalize_d_embed).
D_HEAD = dict(cond_head="projection", aux_head="", embed_dim=512, normalize_embed=False)


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
    # z's prior: normal N(0, I) (BigGAN) | uniform U(-1, 1) (StudioGAN's
    # z_prior "uniform", its LOGAN configs; LOGAN's step then clips z to [-1, 1]).
    c.model.z_prior = "normal"
    # The G and D constructors' keywords that model.*, data.num_classes and
    # dtype do not set (the trainer passes model.g and model.d as keywords).
    c.model.g = ml_collections.ConfigDict(dict(
        ch=96, dim_z=120, shared_dim=128, hier=True, attention=(64,), init_style="ortho",
        bn_momentum=0.9,  # flax's convention: torch's BatchNorm momentum 0.1
        activation="relu"))  # relu | elu | gelu | silu (jaxgan.models.layers.ACTIVATIONS)
    c.model.d = ml_collections.ConfigDict(dict(ch=96, attention=(64,), init_style="ortho", activation="relu",
                                               **D_HEAD))

    c.reg = ml_collections.ConfigDict()
    c.reg.ortho = 0.0  # BigGAN orthogonal regularisation strength (paper: 1e-4)
    c.reg.gp_weight = 0.0  # WGAN-GP lambda
    c.reg.r1_gamma = 0.0
    # Data-efficiency and consistency regularisers (all off: BigGAN has none),
    # with StudioGAN's names and values in its CIFAR-10 configs in comments.
    c.reg.diffaugment = ""  # DiffAugment policy, e.g. "color,translation,cutout" (StudioGAN: diffaug)
    c.reg.lecam_weight = 0.0  # LeCam lambda (0.3)
    c.reg.lecam_decay = 0.99  # the anchors' moving-average decay (lecam_ema_decay)
    c.reg.lecam_start_step = 1000  # anchors track the last batch before, LeCam applies after (lecam_ema_start_iter)
    c.reg.cr_weight = 0.0  # CR on reals, flip + translation (cr_lambda 10)
    c.reg.bcr_real_weight = 0.0  # bCR on reals (real_lambda 10)
    c.reg.bcr_fake_weight = 0.0  # bCR on fakes (fake_lambda 10)
    c.reg.zcr_radius = 0.0  # zCR's z perturbation: z + radius * N(0, I) (radius 0.05)
    c.reg.zcr_d_weight = 0.0  # zCR in D: D(G(z)) against D(G(z + eps)) (d_lambda 20)
    c.reg.zcr_g_weight = 0.0  # zCR in G: minus G(z) against G(z + eps) (g_lambda 0.5)

    # The weights of the classifier heads' losses (model.d.cond_head 'ac', '2c'
    # or 'd2dce', aux_head 'tac' or 'adc'), with StudioGAN's names and values.
    c.cond_loss = ml_collections.ConfigDict()
    c.cond_loss.weight = 1.0  # the head's loss, in D (reals) and G (fakes) (cond_lambda; ReACGAN 0.5)
    c.cond_loss.tac_d_weight = 1.0  # TAC's twin head fitted to fakes in D (tac_dis_lambda)
    c.cond_loss.tac_g_weight = 1.0  # minus the twin head's loss in G (tac_gen_lambda)
    c.cond_loss.temperature = 1.0  # 2C and D2D-CE (temperature; ReACGAN 0.5)
    c.cond_loss.margin = 0.98  # D2D-CE's positive margin (m_p)

    # LOGAN (Wu et al. 2019): latent optimisation, off with steps 0. Each z
    # takes natural-gradient steps dz = alpha g / (beta + |g|^2) up D(G(z))
    # (g = d D(G(z)) / dz per example), only a share `rate` of the examples
    # per step, before G(z) is used, in the D step, the G step and sampling;
    # the losses of both add cost_weight * sum over steps of mean |dz|^2, and
    # the gradients go through the steps. StudioGAN's names and CIFAR-10
    # values in comments (its src/configs/CIFAR10/LOGAN.yaml).
    c.logan = ml_collections.ConfigDict()
    c.logan.steps = 0  # latent steps in training, 0: LOGAN off (lo_steps4train 2: its loop takes 1)
    # Steps in samples and evaluation when LOGAN is on; unset: `steps` (lo_steps4eval 10).
    c.logan.eval_steps = config_dict.placeholder(int)
    c.logan.alpha = 0.9  # step size (lo_alpha)
    c.logan.beta = 0.1  # damping of the natural gradient (lo_beta)
    c.logan.rate = 0.8  # the share of examples that take each step (lo_rate)
    c.logan.cost_weight = 0.1  # weight of the steps' cost in the D and G losses (lo_lambda)

    # U-Net GAN (Schonfeld et al. 2020; jaxgan.unetgan), off by default: the
    # U-Net discriminator (jaxgan.models.unet_discriminator, built from
    # model.d's fields; BigGAN only), its per-pixel loss, and CutMix of reals
    # and fakes with the consistency term. The official code's flags in comments.
    c.unet = ml_collections.ConfigDict()
    c.unet.discriminator = False  # the U-Net D; D and G losses on its global and per-pixel outputs (--unet)
    # CutMix (needs the U-Net D): '' off; 'batch': with probability cutmix_rate
    # a D update trains on a CutMix batch alone (its encoder, decoder and
    # consistency losses; --unet_mixup --full_batch_mixup, the paper's and the
    # FFHQ script's); 'added': every D update adds those terms weighted by
    # cutmix_rate (--unet_mixup, the CelebA script's).
    c.unet.cutmix = ""
    c.unet.cutmix_rate = 0.5  # 'batch': the probability (0.5); 'added': the weight (1)
    c.unet.cutmix_warmup_steps = 0  # cutmix_rate ramps linearly from 0 over these steps (--slow_mixup --warmup_epochs)
    c.unet.consistency_weight = 1.0  # the consistency term's weight (--consistency_loss_and_augmentation: 1)

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
                                               blocks_per_stage=2, channel_ratio=4, **D_HEAD))
    return c


def studiogan_cifar10() -> ml_collections.ConfigDict:
    """BigGAN on CIFAR-10 as StudioGAN trains it (src/configs/CIFAR10/BigGAN.yaml
    with StudioGAN's config.py defaults), shared by configs/studiogan_biggan_*.py,
    whose FIDs StudioGAN's CIFAR-10 table reports.

    StudioGAN's big_resnet at 32x32: G ch 96 (g_conv_dim) x 4, dim_z 80 in
    hierarchical chunks of 20, shared embedding 128, attention after the second
    block (16x16); D d_conv_dim 96 x 2 = 192 channels per block, which is
    BigGAN-PyTorch's 32x32 D (x 4) at ch 48, attention after the first block;
    orthogonal init, SN eps 1e-6, BN eps 1e-4. G 9,416,196 and D 2,415,170
    params, as StudioGAN's Generator and Discriminator count them. Training:
    hinge loss, batch 64, 5 D updates per G update, Adam 2e-4 for both with
    betas (0.5, 0.999) and eps 1e-6, EMA 0.9999 from step 1000, 100k steps.
    """
    c = get_config()
    c.model.resolution = c.data.image_size = 32
    c.model.sn_eps, c.model.bn_eps = 1e-6, 1e-4
    c.model.g.update(ch=96, dim_z=80, shared_dim=128, hier=True, attention=(16,), init_style="ortho")
    c.model.d.update(ch=48, attention=(16,), init_style="ortho")
    c.train.num_steps = 100_000
    c.train.batch_size = 64
    c.train.num_d_steps = 5
    c.train.grad_accum_steps = 1
    for opt in (c.optim.g, c.optim.d):
        opt.lr, opt.b1, opt.b2, opt.eps = 2e-4, 0.5, 0.999, 1e-6
    c.ema.decay, c.ema.start_step = 0.9999, 1000
    c.data.name = "cifar10"
    c.data.num_classes = 10
    c.ckpt.every_steps = 2000
    c.samples.every_steps = 2000
    return c


def studiogan_classifier_head(cond_head: str, aux_head: str = "", **cond_loss) -> ml_collections.ConfigDict:
    """`studiogan_cifar10()` with D's projection replaced by a classifier head
    (StudioGAN's d_cond_mtd 'AC', '2C', 'D2DCE' and aux_cls_type 'TAC', 'ADC'),
    shared by configs/studiogan_{acgan,tacgan,adcgan,contragan,reacgan}_cifar10.py.
    2C and D2D-CE use a normalised 512-d embedding (d_embed_dim 512,
    normalize_d_embed True), as StudioGAN's ContraGAN and ReACGAN configs;
    `cond_loss` sets config.cond_loss fields."""
    c = studiogan_cifar10()
    c.model.d.cond_head, c.model.d.aux_head = cond_head, aux_head
    if cond_head in ("2c", "d2dce"):
        c.model.d.embed_dim, c.model.d.normalize_embed = 512, True
    c.cond_loss.update(cond_loss)
    return c


# The official U-Net GAN training scripts (boschresearch/unetgan,
# training_scripts/train_{ffhq,celeba}.sh): (resolution, batch, G lr, D lr,
# CutMix mode, its rate, warm-up epochs, the dataset's images).
UNETGAN_SCRIPTS = {
    "ffhq": (256, 20, 1e-4, 5e-4, "batch", 0.5, 100, 70_000),
    "celeba": (128, 50, 5e-5, 2e-4, "added", 1.0, 0, 202_599),
}


def unetgan(dataset: str) -> ml_collections.ConfigDict:
    """U-Net GAN (Schonfeld et al. 2020) as its official scripts train it,
    shared by configs/unetgan_{ffhq,celeba}.py: BigGAN's G and the U-Net D
    (config.unet.discriminator), both at ch 64, unconditional, without
    attention (--G_attn 0 --D_attn 0), dim_z 128 hierarchical, orthogonal
    init, SN eps 1e-6, BN eps 1e-5, the non-saturating (BCE) loss, one D step
    per G step, Adam betas (0, 0.999) eps 1e-6, EMA 0.9999 from step 21000,
    CutMix with the consistency term (--unet_mixup
    --consistency_loss_and_augmentation).

    'ffhq': 256x256 FFHQ (a folder of its images: --config.data.folder),
    batch 20, G 1e-4, D 5e-4; CutMix on whole batches with a probability that
    ramps from 0 to 0.5 over 100 epochs (--full_batch_mixup --slow_mixup), here
    in steps of 70,000 / 20 images.
    'celeba': 128x128 CelebA (tfds celeb_a, the central square), batch 50,
    G 5e-5, D 2e-4; CutMix's terms added to every D update at weight 1 (its
    --warmup_epochs 20 does nothing without --slow_mixup).
    The scripts run until stopped (num_epochs 10000): train.num_steps is ours.
    """
    if dataset not in UNETGAN_SCRIPTS:
        raise ValueError(f"unknown U-Net GAN dataset {dataset!r}; choose one of {sorted(UNETGAN_SCRIPTS)}")
    resolution, batch, g_lr, d_lr, cutmix, rate, warmup_epochs, images = UNETGAN_SCRIPTS[dataset]
    c = get_config()
    c.loss = "non_saturating"
    c.model.resolution = c.data.image_size = resolution
    c.model.sn_eps, c.model.bn_eps = 1e-6, 1e-5
    c.model.g.update(ch=64, dim_z=128, shared_dim=0, hier=True, attention=(), init_style="ortho")
    c.model.d.update(ch=64, attention=(), init_style="ortho")
    c.unet.discriminator = True
    c.unet.cutmix, c.unet.cutmix_rate = cutmix, rate
    c.unet.cutmix_warmup_steps = warmup_epochs * images // batch
    c.unet.consistency_weight = 1.0
    c.train.batch_size = batch
    c.train.num_d_steps = 1
    c.train.grad_accum_steps = 1
    c.train.num_steps = 500_000
    c.optim.g.lr, c.optim.d.lr = g_lr, d_lr
    for opt in (c.optim.g, c.optim.d):
        opt.b1, opt.b2, opt.eps = 0.0, 0.999, 1e-6
    c.ema.decay, c.ema.start_step = 0.9999, 21_000
    c.data.num_classes = 0
    if dataset == "ffhq":
        c.data.source, c.data.name = "folder", ""
    else:
        c.data.source, c.data.name = "tfds", "celeb_a"
    c.ckpt.every_steps = 10_000  # --save_every 10000
    c.samples.every_steps = 4000  # --sample_every 4000
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
    if "embed_dim" in c.model.d:  # 2C / D2D-CE's embedding
        c.model.d.embed_dim = min(c.model.d.embed_dim, 16)
    c.train.grad_accum_steps = min(c.train.grad_accum_steps, 2)
    c.ema.start_step = 2
    return c


def unetgan_smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The `:smoke` variant of a U-Net GAN config: `smoke`, with CutMix's
    warm-up over 2 steps so that its terms count within the run's 4."""
    c = smoke(c)
    c.unet.cutmix_warmup_steps = min(c.unet.cutmix_warmup_steps, 2)
    return c


def lecam_smoke(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """The `:smoke` variant of a config with LeCam: `smoke`, with the anchors
    tracking from step 1, so that LeCam applies from step 2 of the 4."""
    c = smoke(c)
    c.reg.lecam_start_step = 1
    return c
