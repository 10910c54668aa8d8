"""pix2pix on CMP Facades, as the reference trains it (pytorch-CycleGAN-and-pix2pix's
scripts/train_pix2pix.sh: --model pix2pix --netG unet_256 --direction BtoA
--lambda_L1 100 --dataset_mode aligned --norm batch --pool_size 0).

    python -m jaxgan.main --config configs/pix2pix_facades.py --workdir runs/facades \
        --config.data.folder=/data/facades

The folder is the reference's datasets/facades (its download script:
datasets/download_pix2pix_dataset.sh facades): train/ (400 images), val/
(100), test/ (106), each a 512x256 JPEG with the photo (A) left of the label
map (B); BtoA translates label maps to photos. 400 pairs at batch 1 = 400
steps an epoch; 100 epochs at 2e-4, 100 decaying (jaxgan.configs.pix2pix).
unet_256 G 54,413,955 and basic D on 6 channels 2,768,705 parameters.
"""

from jaxgan.configs import pix2pix, with_variants


@with_variants(smoke=pix2pix.smoke)
def get_config():
    c = pix2pix.get_config()
    c.data.direction = "BtoA"
    c.optim.epoch_steps = 400
    c.train.num_steps = 200 * 400
    c.optim.decay_steps = 100 * 400
    c.eval.split = "val"
    c.eval.every_steps = 4000  # 10 epochs
    return c
