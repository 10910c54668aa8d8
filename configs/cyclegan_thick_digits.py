"""CycleGAN's CPU quickstart: unpaired translation from MNIST-5k digits to
the same kind of digits morphologically thickened (jaxgan.data.thick_digits:
A from one half of edges2digits' 4500 training digits, B the thickened other
half, so no pair is ever seen; 500 held-out digits with their thickened
versions as the truth), grey 32x32, no download.

    python -m jaxgan.main --config configs/cyclegan_thick_digits.py --workdir runs/thick_digits
    python benchmarks/cyclegan_quality.py --config configs/cyclegan_thick_digits.py --workdir runs/thick_digits

The reference's CycleGAN (jaxgan.configs.cyclegan: instance norm, no
dropout, LSGAN, lambda_A = lambda_B = 10, lambda_identity 0.5, pools of 50,
Adam 2e-4 (0.5, 0.999), constant then linear decay) with resnet_6blocks Gs
of width NGF and 70x70 PatchGANs of width NDF (the reference: resnet_9blocks,
64 and 64, for 256x256 photos), on batches of BATCH instead of 1, so that it
trains on a CPU in minutes: 2250 / BATCH steps an epoch, EPOCHS epochs with
the second half decaying.

The README's CycleGAN section has the measured result
(benchmarks/cyclegan_quality.py) and the wall time.
"""

from jaxgan.configs import cyclegan, with_variants

BATCH = 16
EPOCHS = 6
NGF = 16
NDF = 16
STEPS_PER_EPOCH = 2250 // BATCH


@with_variants(smoke=cyclegan.smoke)
def get_config():
    c = cyclegan.get_config()
    c.data.source = "thick_digits"
    c.data.split = "train"
    c.data.image_size, c.data.load_size = 32, 0
    c.data.channels = c.data.input_channels = 1
    c.data.random_flip = False  # mirrored digits are not digits
    c.data.num_workers = 0  # the digits are arrays in memory: keep the cores for the step
    c.model.g.netG = "resnet_6blocks"
    c.model.g.ngf, c.model.d.ndf = NGF, NDF
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
