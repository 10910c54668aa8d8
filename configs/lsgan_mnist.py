"""LSGAN (least squares, a=0, b=c=1) on the embedded MNIST-5k digits, sized for a CPU.

    python -m jaxgan.main --config configs/lsgan_mnist.py --workdir runs/lsgan_mnist

DCGAN's networks as configs/dcgan_mnist.py (ngf = ndf = 64), Adam 2e-4
(0.5, 0.999), on the shared CPU budget (jaxgan.configs.classic.mnist5k).
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    c = classic.mnist5k(classic.lsgan(classic.get_config()))
    return c
