"""WGAN-GP on the embedded MNIST-5k digits with the WGAN-GP reference's MNIST
networks (gan_mnist.py) on MNIST's own 28x28.

    python -m jaxgan.main --config configs/wgan_gp_mnist.py --workdir runs/wgan_gp_mnist

The reference's training (lambda 10, 5 critic iterations, Adam 1e-4
(0.5, 0.9)) on the shared CPU budget (jaxgan.configs.classic.mnist5k); its
networks at DIM 16 instead of 64 (G 196,545 and D 65,537 params instead of
1,554,177 and 1,030,145: a step at DIM 64 takes 3.2 s on the 2-core CPU, at
16 0.33 s; benchmarks/train_step.py). `--config.model.g.dim=64
--config.model.d.dim=64` is the reference's size.
"""

import ml_collections

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    c = classic.mnist5k(classic.wgan_gp(classic.get_config()), resolution=28)
    c.model.arch = "wgan_gp_mnist"
    c.model.z_dim = 128
    c.model.g = ml_collections.ConfigDict(dict(dim=16))
    c.model.d = ml_collections.ConfigDict(dict(dim=16))
    return c
