"""StudioGAN's LOGAN on CIFAR-10 (src/configs/CIFAR10/LOGAN.yaml with the
defaults of its src/config.py): latent optimisation (Wu et al. 2019) on an
unconditional SN-GAN ResNet, hinge loss, z ~ U(-1, 1).

The networks: the yaml sets no backbone, so StudioGAN's models/resnet.py at
32x32 (g_conv_dim 64, d_conv_dim 64, z_dim 128, no conditioning, no
attention), which is BigGAN's 32x32 layout unconditional with plain
BatchNorm: G ch 64 (256 channels per block), D ch 32 (128 channels per block,
downsampling in the first two), G 4,276,739 and D 1,053,825 params as
StudioGAN counts them. Orthogonal init, SN eps 1e-6, BN eps 1e-4. One
difference: StudioGAN's resnet G has no spectral norm (apply_g_sn False),
jaxgan's BigGAN G always has it (no parameters, only the normalisation).
(StudioGAN's README lists LOGAN with cBN and PD; its yaml is unconditional.)

Training: StudioGAN's defaults, batch 64, 5 D updates per G update, Adam
2e-4 for both with betas (0.5, 0.999) and eps 1e-6, 100k steps, no EMA
(ema.decay 0: the EMA G is G, which the grids and FID then sample).

LOGAN: alpha 0.9, beta 0.1, rate 0.8, cost weight 0.1; lo_steps4train 2 and
lo_steps4eval 10 count as its loop does, range(lo_steps - 1): 1 latent step
in training and 9 at sampling. Its loop returns after the first step whatever
is set, so StudioGAN's own samples took 1; config.logan.eval_steps=1 is that.
"""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    c = biggan.get_config()
    c.model.resolution = c.data.image_size = 32
    c.model.sn_eps, c.model.bn_eps = 1e-6, 1e-4
    c.model.z_prior = "uniform"
    c.model.g.update(ch=64, dim_z=128, shared_dim=0, hier=False, attention=(), init_style="ortho")
    c.model.d.update(ch=32, attention=(), init_style="ortho")
    c.data.name = "cifar10"
    c.data.num_classes = 0  # unconditional
    c.train.num_steps = 100_000
    c.train.batch_size = 64
    c.train.num_d_steps = 5
    c.train.grad_accum_steps = 1
    for opt in (c.optim.g, c.optim.d):
        opt.lr, opt.b1, opt.b2, opt.eps = 2e-4, 0.5, 0.999, 1e-6
    c.ema.decay, c.ema.start_step = 0.0, 0
    c.logan.update(steps=1, eval_steps=9, alpha=0.9, beta=0.1, rate=0.8, cost_weight=0.1)
    c.ckpt.every_steps = 2000
    c.samples.every_steps = 2000
    return c
