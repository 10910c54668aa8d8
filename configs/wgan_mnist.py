"""WGAN (weight clipping) on the embedded MNIST-5k digits, sized for a CPU.

    python -m jaxgan.main --config configs/wgan_mnist.py --workdir runs/wgan_mnist

DCGAN's networks as configs/dcgan_mnist.py at half the width (ngf = ndf =
32: G 369,600 and D 166,784 params) with the WGAN reference's training
(clamp 0.01, RMSProp, 5 critic iterations per G step, 100 in the first 25
and every 500th) but a learning rate of 2e-4 instead of 5e-5, on the shared
CPU budget (jaxgan.configs.classic.mnist5k). At 5e-5 the 2000 steps left
the critic's estimate far from converged and the samples short of ones
(2.1%, Frechet distance 4.6x below the untrained G's; benchmarks/
unconditional_quality.py); at 2e-4: every class at least 6.8%, 12x.
At full width a step of 5 critic iterations took 1.0 s on the 2-core CPU
(benchmarks/train_step.py), 2000 of them over half an hour.
"""

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    c = classic.mnist5k(classic.wgan(classic.get_config()))
    c.model.g.ngf = c.model.d.ndf = 32
    c.optim.g.lr = c.optim.d.lr = 2e-4
    return c
