"""DCGAN on the embedded MNIST-5k digits (grey 32x32), sized for a CPU.

    python -m jaxgan.main --config configs/dcgan_mnist.py --workdir runs/dcgan_mnist
    python benchmarks/unconditional_quality.py --config configs/dcgan_mnist.py --workdir runs/dcgan_mnist

The WGAN reference's DCGAN_G / DCGAN_D at 32x32 with one channel (nz 100,
ngf = ndf = 64: G 1,066,880 and D 661,248 params), the non-saturating loss,
Adam 2e-4 (0.5, 0.999), on the classic-GAN CPU budget that every *_mnist.py
config shares (jaxgan.configs.classic.mnist5k: batch 64, 2000 steps). The
README's classic-GAN table has its measured result.
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    c = classic.mnist5k(classic.dcgan(classic.get_config()))
    return c
