"""BEGAN on the embedded MNIST-5k digits (grey 32x32), sized for a CPU.

    python -m jaxgan.main --config configs/began_mnist.py --workdir runs/began_mnist

The reference's networks (carpedm20/BEGAN-tensorflow) at 32x32 with one
channel and n = 32 instead of 128 (h 64), its training (gamma 0.5, lambda_k
0.001, z uniform on [-1, 1], Adam 8e-5 (0.5, 0.999), batch 16) for the
shared CPU budget's 2000 steps (jaxgan.configs.classic.mnist5k); at batch 64
a step took 1.3 s on the 2-core CPU (benchmarks/train_step.py).
"""

import ml_collections

from jaxgan.configs import classic, with_variants


@with_variants(smoke=classic.smoke)
def get_config():
    c = classic.mnist5k(classic.began(classic.get_config()))
    c.model.g = ml_collections.ConfigDict(dict(hidden=32))
    c.model.d = ml_collections.ConfigDict(dict(hidden=32))
    c.train.batch_size = 16
    return c
