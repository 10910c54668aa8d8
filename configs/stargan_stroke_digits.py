"""StarGAN's CPU quickstart: MNIST-5k digits in six stroke styles described
by three attributes, Thick, Thin (exclusive with Thick) and Slanted
(jaxgan.data.stroke_digits: each training digit shown in one style only, so
training is unpaired; 500 held-out digits whose true translation to every
style is known), grey 32x32, no download.

    python -m jaxgan.main --config configs/stargan_stroke_digits.py --workdir runs/stroke_digits
    python benchmarks/stargan_quality.py --config configs/stargan_stroke_digits.py --workdir runs/stroke_digits

The reference's StarGAN objective and optimisation (jaxgan.configs.stargan:
WGAN-GP 10, classification 1, reconstruction 10, 5 D updates per G update,
Adam (0.5, 0.999), batch 16, the rates decaying linearly over the second
half) with networks narrowed for 32x32 digits so that it trains on a CPU in
minutes: G conv_dim G_DIM with G_BLOCKS residual blocks (at 8x8), D conv_dim
D_DIM with 4 stride-2 convs (32 -> 2x2 features, a 2x2 classifier kernel,
as the reference's 128 -> 2x2), and LR, twice the reference's rate (at
1e-4 the same STEPS recognise too few translations: README), for STEPS G updates (7,500
iterations; the reference trains 200,000). The README's StarGAN section has
the measured result (benchmarks/stargan_quality.py) and the wall time.
"""

from jaxgan.configs import stargan, with_variants
from jaxgan.data import stroke_digits

G_DIM, G_BLOCKS = 32, 3
D_DIM = 32
LR = 2e-4
STEPS = 1500


@with_variants(smoke=stargan.smoke)
def get_config():
    c = stargan.get_config()
    c.data.source = "stroke_digits"
    c.data.attributes = stroke_digits.ATTRIBUTES
    c.data.exclusive = stroke_digits.EXCLUSIVE
    c.data.image_size, c.data.crop_size, c.data.channels = 32, 0, 1
    c.data.random_flip = False  # mirrored digits are not digits
    c.data.num_workers = 0  # the digits are arrays in memory: keep the cores for the step
    c.model.g.conv_dim, c.model.g.repeat_num = G_DIM, G_BLOCKS
    c.model.d.conv_dim, c.model.d.repeat_num = D_DIM, 4
    c.optim.g_lr = c.optim.d_lr = LR
    c.train.num_steps = STEPS
    c.optim.num_iters_decay = STEPS * c.optim.n_critic // 2
    c.optim.lr_update_step = 50 * c.optim.n_critic
    c.eval.split = "test"
    c.eval.num_samples = 500
    c.eval.batch_size = 100
    c.eval.every_steps = 250
    c.samples.num = 12
    c.samples.every_steps = 250
    c.ckpt.every_steps = 250
    c.log.every_steps = 25
    return c
