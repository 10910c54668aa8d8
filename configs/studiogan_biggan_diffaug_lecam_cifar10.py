"""StudioGAN's BigGAN-DiffAug-LeCam on CIFAR-10
(src/configs/CIFAR10/BigGAN-DiffAug-LeCam.yaml, FID 3.23 in its table):
DiffAugment (configs/studiogan_biggan_diffaug_cifar10.py) and LeCam
(configs/studiogan_biggan_lecam_cifar10.py) together, for 200k steps."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.lecam_smoke)
def get_config():
    c = biggan.studiogan_cifar10()
    c.reg.diffaugment = "color,translation,cutout"
    c.reg.lecam_weight, c.reg.lecam_decay, c.reg.lecam_start_step = 0.3, 0.99, 1000
    c.train.num_steps = 200_000
    return c
