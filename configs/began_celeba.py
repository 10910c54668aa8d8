"""BEGAN on CelebA 64x64 (tfds `celeb_a`), as the reference
(carpedm20/BEGAN-tensorflow) trains it: h 64, n 128 (G 1,716,611 and D
13,405,379 params), gamma 0.5, lambda_k 0.001, z uniform on [-1, 1], Adam 8e-5
(0.5, 0.999) halved every 100k steps to 2e-5, batch 16, 500k steps. The
reference crops a 128x128 box at (50, 25) before resizing; jaxgan's pipeline
takes the central square.
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    return classic.celeba(classic.began(classic.get_config()))
