"""BigGAN on CIFAR-10 32x32.

Numbers: BigGAN-PyTorch's launch_cifar_ema.sh (batch 50, 4 D steps per G step,
G and D lr 2e-4, N(0, 0.02) init, no attention, no shared embedding or
hierarchical z, ch 64, dim_z 128, EMA from 1000, 500 epochs = 125k iterations
of 4 x 50 images) with train.py's defaults for what it leaves out (betas
(0, 0.999), Adam eps 1e-8, SN eps 1e-8, BN eps 1e-5). G 4,304,387 and D
4,207,361 params, as BigGAN-PyTorch's.
"""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    c = biggan.get_config()
    c.model.resolution = c.data.image_size = 32
    c.model.sn_eps = 1e-8
    c.model.g.update(ch=64, dim_z=128, shared_dim=0, hier=False, attention=(), init_style="N02")
    c.model.d.update(ch=64, attention=(), init_style="N02")
    c.train.num_steps = 125_000
    c.train.batch_size = 50
    c.train.num_d_steps = 4
    c.train.grad_accum_steps = 1
    for opt in (c.optim.g, c.optim.d):
        opt.lr, opt.eps = 2e-4, 1e-8
    c.ema.start_step = 1000
    c.data.name = "cifar10"
    c.data.num_classes = 10
    c.ckpt.every_steps = 2000
    c.samples.every_steps = 2000
    return c
