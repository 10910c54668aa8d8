"""StudioGAN's BigGAN-DiffAug on CIFAR-10 (src/configs/CIFAR10/BigGAN-DiffAug.yaml,
FID 3.35 in its table): the baseline (configs/studiogan_biggan_cifar10.py)
with DiffAugment's color, translation and cutout on every image D sees, for
200k steps."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.smoke)
def get_config():
    c = biggan.studiogan_cifar10()
    c.reg.diffaugment = "color,translation,cutout"
    c.train.num_steps = 200_000
    return c
