"""pix2pix's CPU quickstart: Sobel edge maps of the embedded MNIST-5k digits
to the digits (jaxgan.data.edges2digits: 4500 training pairs, 500 held out),
grey 32x32.

    python -m jaxgan.main --config configs/pix2pix_edges2digits.py --workdir runs/edges2digits
    python benchmarks/pix2pix_quality.py --config configs/pix2pix_edges2digits.py --workdir runs/edges2digits

The reference's pix2pix (jaxgan.configs.pix2pix: batch norm, dropout,
vanilla GAN loss, lambda_L1 100, Adam 2e-4 (0.5, 0.999), constant then linear
decay) with a U-Net of 5 levels for 32x32 (unet_32) and the 70x70 PatchGAN,
both at width 32 instead of 64 and on batches of 20 instead of 1, so that
it trains on a CPU in minutes: 4500 / 20 = 225 steps an epoch, EPOCHS epochs
with the second half decaying.
"""

from jaxgan.configs import pix2pix, with_variants

BATCH = 20
EPOCHS = 4
STEPS_PER_EPOCH = 4500 // BATCH


@with_variants(smoke=pix2pix.smoke)
def get_config():
    c = pix2pix.get_config()
    c.data.source = "edges2digits"
    c.data.split = "train"
    c.data.image_size, c.data.load_size = 32, 0
    c.data.channels = c.data.input_channels = 1
    c.data.random_flip = False  # mirrored digits are not digits
    c.data.num_workers = 0  # the pairs are arrays in memory: keep the cores for the step
    c.model.g.netG = "unet_32"
    c.model.g.ngf = c.model.d.ndf = 32
    c.train.batch_size = BATCH
    c.optim.epoch_steps = STEPS_PER_EPOCH
    c.train.num_steps = EPOCHS * STEPS_PER_EPOCH
    c.optim.decay_steps = EPOCHS // 2 * STEPS_PER_EPOCH
    c.eval.split = "test"
    c.eval.num_samples = 500
    c.eval.every_steps = STEPS_PER_EPOCH
    c.eval.batch_size = 100
    c.samples.num = 16
    c.samples.every_steps = STEPS_PER_EPOCH
    c.ckpt.every_steps = STEPS_PER_EPOCH
    c.log.every_steps = 25
    return c
