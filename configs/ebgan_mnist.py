"""EBGAN on the embedded MNIST-5k digits (grey 32x32), sized for a CPU.

    python -m jaxgan.main --config configs/ebgan_mnist.py --workdir runs/ebgan_mnist

DCGAN's G as configs/dcgan_mnist.py (ngf 64) and the autoencoder D at
ndf 64, margin loss and pulling-away term 0.1, Adam 2e-4 (0.5, 0.999), on
the shared CPU budget (jaxgan.configs.classic.mnist5k).
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    c = classic.mnist5k(classic.ebgan(classic.get_config()))
    return c
