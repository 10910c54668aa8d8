"""pix2pixHD on Cityscapes label maps, the reference's first stage
(NVIDIA/pix2pixHD, scripts/train_512p.sh: the global generator, 35 labels
with instance maps, num_D 2, feature matching and VGG losses, batch 1, 100 +
100 epochs), here on square 512 crops of the images scaled to width 1024
(the reference's --resize_or_crop scale_width_and_crop; its 512p script
trains on whole 1024x512 images).

    python -m jaxgan.main --config configs/pix2pixhd_cityscapes.py --workdir runs/label2city_512p \
        --config.data.folder=/data/cityscapes

The folder is the reference's datasets/cityscapes layout: train_label/ (label
ids 0..34 as grey PNGs), train_inst/ (instance ids, 16- or 32-bit PNGs),
train_img/ (photos), and test_label/, test_inst/, test_img/ for evaluation
(2975 and 500 images). Global G on 36 inputs 182,546,755 and D (num_D 2, 39
inputs) 5,603,202 parameters (jaxgan.models.pix2pixhd).
"""

from jaxgan.configs import pix2pixhd, with_variants


@with_variants(smoke=pix2pixhd.smoke)
def get_config():
    c = pix2pixhd.get_config()
    c.eval.every_steps = 10 * 2975  # 10 epochs
    return c
