"""CycleGAN on horse2zebra, as the reference trains it
(pytorch-CycleGAN-and-pix2pix's scripts/train_cyclegan.sh: --model cycle_gan
--dataset_mode unaligned --pool_size 50 --no_dropout, with the defaults
resnet_9blocks, basic D, instance norm, lsgan, lambda_A = lambda_B = 10,
lambda_identity 0.5, load 286, crop 256, flip, batch 1).

    python -m jaxgan.main --config configs/cyclegan_horse2zebra.py --workdir runs/horse2zebra \
        --config.data.folder=/data/horse2zebra
    python -m jaxgan.translate --workdir runs/horse2zebra --input horses/ --output zebras/
    python -m jaxgan.translate --workdir runs/horse2zebra --direction BtoA --input zebras/ --output horses/

The folder is the reference's datasets/horse2zebra (its download script:
datasets/download_cyclegan_dataset.sh horse2zebra): trainA (1067 horse
photos), trainB (1334 zebras), testA (120), testB (140). The reference's
epoch is max(|trainA|, |trainB|) = 1334 images (its unaligned dataset's
length; some horses come twice an epoch), so 1334 steps at batch 1; 100
epochs at 2e-4, 100 decaying. resnet_9blocks G 11,378,179 and basic D on 3
channels 2,764,737 parameters, two of each.

Evaluation (every 10 epochs): the cycle L1s on 100 test images of each
domain; unpaired folders have no truth, so there is no translation L1 and
no best/.
"""

from jaxgan.configs import cyclegan, with_variants

EPOCH_STEPS = 1334  # max(1067, 1334) at batch 1


@with_variants(smoke=cyclegan.smoke)
def get_config():
    c = cyclegan.get_config()
    c.optim.epoch_steps = EPOCH_STEPS
    c.train.num_steps = 200 * EPOCH_STEPS
    c.optim.decay_steps = 100 * EPOCH_STEPS
    c.eval.split = "test"
    c.eval.every_steps = 10 * EPOCH_STEPS
    return c
