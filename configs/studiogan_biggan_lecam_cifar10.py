"""StudioGAN's BigGAN-LeCam on CIFAR-10 (src/configs/CIFAR10/BigGAN-LeCam.yaml):
the baseline (configs/studiogan_biggan_cifar10.py) with LeCam weight 0.3,
anchors decaying 0.99 from step 1000, for 200k steps."""

from jaxgan.configs import biggan, with_variants


@with_variants(smoke=biggan.lecam_smoke)
def get_config():
    c = biggan.studiogan_cifar10()
    c.reg.lecam_weight, c.reg.lecam_decay, c.reg.lecam_start_step = 0.3, 0.99, 1000
    c.train.num_steps = 200_000
    return c
