"""BEGAN on CIFAR-10 32x32 (tfds `cifar10`): the reference's networks at 32x32
(3 blocks, h 64, n 128) and its training (gamma 0.5, lambda_k 0.001, Adam 8e-5
(0.5, 0.999) halved every 100k steps to 2e-5, batch 16).
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    return classic.cifar10(classic.began(classic.get_config()))
