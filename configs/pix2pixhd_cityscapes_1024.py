"""pix2pixHD's second stage on Cityscapes (NVIDIA/pix2pixHD,
scripts/train_1024p_24G.sh): the local enhancer (ngf 32) around the global
generator, num_D 3, 50 + 50 epochs, the first 10 training only the local
enhancer (niter_fix_global 10), on 1024 crops of the images scaled to width
2048 (the reference trains on whole 2048x1024 images, --resize_or_crop none).

    python -m jaxgan.main --config configs/pix2pixhd_cityscapes_1024.py --workdir runs/label2city_1024p \
        --config.data.folder=/data/cityscapes

The reference starts it from the 512p run's weights (--load_pretrain); here a
run starts from scratch unless its workdir holds a checkpoint. Local G on 36
inputs 182,857,059 and D (num_D 3, 39 inputs) 8,404,803 parameters.
"""

from jaxgan.configs import pix2pixhd, with_variants

EPOCH = 2975


@with_variants(smoke=pix2pixhd.smoke)
def get_config():
    c = pix2pixhd.get_config()
    c.model.g.netG = "local"
    c.model.g.ngf = 32
    c.model.d.num_D = 3
    c.data.image_size, c.data.load_size = 1024, 2048
    c.optim.epoch_steps = EPOCH
    c.train.num_steps = 100 * EPOCH
    c.optim.decay_steps = 50 * EPOCH
    c.optim.fix_global_steps = 10 * EPOCH
    c.eval.every_steps = 10 * EPOCH
    c.eval.batch_size = 1
    return c
