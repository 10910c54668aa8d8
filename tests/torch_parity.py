"""Helpers of the tests that compare jaxgan's networks with torch modules
written after a reference: weights that make the comparison meaningful, the
state dict as numpy, layouts, inputs and parameter counts on both sides."""

import jax
import numpy as np
import torch

from jaxgan.state import count_params

tnn = torch.nn


def randomize(module, seed):
    """Weights that keep activations O(1) (so that errors are measured on
    outputs far from constant), conv biases large enough to matter, and
    non-trivial BatchNorm parameters and running statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (tnn.Conv2d, tnn.ConvTranspose2d)):
                fan_in = m.weight[0].numel() if isinstance(m, tnn.Conv2d) else m.weight[:, 0].numel()
                m.weight.normal_(0.0, 1.0 / fan_in ** 0.5, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-0.3, 0.3, generator=gen)
            elif isinstance(m, tnn.BatchNorm2d):
                m.weight.normal_(1.0, 0.2, generator=gen)
                m.bias.normal_(0.0, 0.2, generator=gen)
                m.running_mean.normal_(0.0, 0.2, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
    return module


def state_dict(module):
    """The module's state dict as numpy arrays (what a .pth file holds)."""
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


def nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def images(n, c, size, seed=0):
    """n standard-normal NCHW inputs of c channels, size x size."""
    return np.random.default_rng(seed).standard_normal((n, c, size, size)).astype(np.float32)


def flax_count_on(module, *inputs):
    """Parameters of a flax module on these inputs, without compiling (eval_shape)."""
    init = lambda k: module.init(k, *inputs, train=False)
    return count_params(jax.eval_shape(init, jax.random.key(0))["params"])


def torch_count(module_fn):
    """Parameters of the torch module module_fn() builds, on the meta device (no memory)."""
    with torch.device("meta"):
        return sum(p.numel() for p in module_fn().parameters())
