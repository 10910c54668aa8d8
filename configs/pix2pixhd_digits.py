"""pix2pixHD's CPU quickstart: 64x64 canvases of 2-4 MNIST-5k digits drawn
from an 11-class label map (background and the ten digits, on each digit's
silhouette) and an instance map (one id per digit), with no download
(jaxgan.data.digit_canvas: 4000 training canvases, 500 held out). Half the
canvases hold two touching digits of one class: one blob of one label that
only the instance map splits in two.

    python -m jaxgan.main --config configs/pix2pixhd_digits.py --workdir runs/digits
    python benchmarks/pix2pixhd_quality.py --config configs/pix2pixhd_digits.py --workdir runs/digits

    # the same without instance maps (the reference's --no_instance):
    python -m jaxgan.main --config configs/pix2pixhd_digits.py --workdir runs/digits_no_inst \
        --config.data.instance=False

The reference's pix2pixHD training (jaxgan.configs.pix2pixhd: instance norm,
LSGAN, multi-scale D with feature matching, lambda_feat 10, Adam 2e-4 (0.5,
0.999), constant then linear decay) with a global G of NGF filters and
3 downsamplings (the reference: 64 and 4, for 1024x512 images) and D of
width 32 (64), on batches of BATCH instead of 1, and without the VGG loss
(the reference's --no_vgg_loss): its weights are a 548 MB download, and
VGG19 at every step would dominate a CPU step. EPOCHS epochs of 4000 / BATCH
steps, the second half decaying.
"""

from jaxgan.configs import pix2pixhd, with_variants

BATCH = 16
EPOCHS = 4
NGF = 16
STEPS_PER_EPOCH = 4000 // BATCH


@with_variants(smoke=pix2pixhd.smoke)
def get_config():
    c = pix2pixhd.get_config()
    c.data.source = "digit_canvas"
    c.data.split = "train"
    c.data.label_nc = 11
    c.data.instance = True
    c.data.image_size, c.data.load_size = 64, 0
    c.data.channels = 1
    c.data.random_flip = False  # mirrored digits are not digits
    c.data.num_workers = 0  # the canvases are arrays in memory: keep the cores for the step
    c.model.g.ngf = NGF
    c.model.g.n_downsample_global = 3
    c.model.d.ndf = 32
    c.loss.vgg = False
    c.train.batch_size = BATCH
    c.optim.epoch_steps = STEPS_PER_EPOCH
    c.train.num_steps = EPOCHS * STEPS_PER_EPOCH
    c.optim.decay_steps = EPOCHS // 2 * STEPS_PER_EPOCH
    c.eval.split = "test"
    c.eval.num_samples = 500
    c.eval.every_steps = STEPS_PER_EPOCH
    c.eval.batch_size = 50
    c.samples.num = 16
    c.samples.every_steps = STEPS_PER_EPOCH
    c.ckpt.every_steps = STEPS_PER_EPOCH
    c.log.every_steps = 25
    return c
