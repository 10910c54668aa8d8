"""LSGAN (least squares, a=0, b=c=1) on the embedded MNIST-5k digits, sized for a CPU.

    python -m jaxgan.main --config configs/lsgan_mnist.py --workdir runs/lsgan_mnist

DCGAN's networks as configs/dcgan_mnist.py (ngf = ndf = 64), Adam 2e-4
(0.5, 0.999), on the shared CPU budget (jaxgan.configs.classic.mnist5k) but
3000 G steps: at 2000 its samples held too few ones (3.3%, benchmarks/
unconditional_quality.py), at 2500 and later every class held at least 5.8%.
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    c = classic.mnist5k(classic.lsgan(classic.get_config()))
    c.train.num_steps = 3000
    return c
