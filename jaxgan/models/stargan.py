"""StarGAN's networks as the reference builds them (yunjey/stargan,
model.py): one generator for every domain, conditioned on the target
domain's label vector tiled over the image, and a PatchGAN discriminator with
a second, domain-classification head.

Generator(conv_dim 64, c_dim 5, repeat_num 6), input NHWC in [-1, 1] and c
[N, c_dim] (float: attribute values or a one-hot domain):
concat(x, c tiled over H, W) -> 7x7 conv to conv_dim, IN, ReLU; two 4x4
stride-2 convs (padding 1) doubling the width, each IN, ReLU; repeat_num
ResidualBlocks x + [3x3 conv, IN, ReLU, 3x3 conv, IN]; two 4x4 stride-2
transposed convs (padding 1) halving it, each IN, ReLU; 7x7 conv to the image
channels, tanh. Every conv without a bias; IN is InstanceNorm2d(affine=True):
per image and channel over H, W (eps 1e-5), then a learned scale and bias.
Sides divisible by 4.

Discriminator(image_size 128, conv_dim 64, c_dim 5, repeat_num 6):
repeat_num 4x4 stride-2 convs (padding 1, with biases) doubling the width
from conv_dim, each followed by LeakyReLU(0.01), no normalisation; then two
heads on the last features: `conv1`, a 3x3 conv (padding 1) to one channel,
the real/fake patch map [N, image_size / 2^repeat_num (both sides), 1], and
`conv2`, a conv with kernel image_size / 2^repeat_num and no padding to c_dim
channels, the domain logits [N, c_dim]. Neither head has a bias. The input's
side must be image_size (conv2 covers exactly the last features).

Parameters (the reference's counts, 128x128, c_dim 5, defaults): G
8,430,528, D 44,762,048 (`count_params`); RaFD's c_dim 8 adds 9,408 to G and
24,576 to D.

Init: torch's defaults, which the reference keeps: conv kernels (and D's
biases) U(-1/sqrt(fan_in), 1/sqrt(fan_in)), IN scale 1 and bias 0.

The reference never calls .eval(): its InstanceNorm2d layers are built with
track_running_stats=True but always run in training mode, so they normalise
each image by its own statistics when training and when testing; the running
statistics they accumulate (in its checkpoints) are never used, and are not
kept here.

Flax names are the reference's state-dict names by pix2pix's rule
(jaxgan.models.pix2pix.flax_path): `main.9.main.3.weight` (a ResidualBlock's
second conv) is params `main_9/main_3/kernel`, `main.1.weight` (an IN's) is
`main_1/scale`; D's heads are `conv1/kernel`, `conv2/kernel`. So
`pix2pix.params_from_torch_state_dict` reads the reference's `*-G.ckpt` /
`*-D.ckpt` state dicts (`params_from_torch`).

Computes in `dtype` (float32 parameters; the norms' statistics in float32)
as pix2pix's networks do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.pix2pix import Conv2d, ConvTranspose2d, SequentialNames, instance_norm

Array = jax.Array


class InstanceNorm2d(nn.Module):
    """torch's InstanceNorm2d(affine=True) in training mode (module
    docstring): instance statistics, scale 1 and bias 0 at init."""

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (c,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (c,), jnp.float32)
        y = instance_norm(x, dtype=jnp.float32) * scale + bias
        return y.astype(self.dtype)


def _conv(features: int, kernel: int, stride: int, padding: int, name: str, dtype: Any, bias: bool = False):
    return Conv2d(features, kernel, stride, padding, use_bias=bias, bias_init="torch", dtype=dtype,
                  kernel_init="torch", name=name)


class ResidualBlock(nn.Module):
    """x + main(x), main = [3x3 conv, IN, ReLU, 3x3 conv, IN] (no biases)."""

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = x.shape[-1]
        h = _conv(c, 3, 1, 1, "main_0", self.dtype)(x)
        h = nn.relu(InstanceNorm2d(self.dtype, name="main_1")(h))
        h = _conv(c, 3, 1, 1, "main_3", self.dtype)(h)
        return x.astype(self.dtype) + InstanceNorm2d(self.dtype, name="main_4")(h)


class Generator(nn.Module):
    """The reference's Generator (module docstring); `channels` the image's
    (the reference: 3)."""

    conv_dim: int = 64
    c_dim: int = 5
    repeat_num: int = 6
    channels: int = 3
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, c: Array) -> Array:
        n, h, w, _ = x.shape
        if h % 4 or w % 4:
            raise ValueError(f"StarGAN's generator needs sides divisible by 4, got {h}x{w}")
        if c.shape != (n, self.c_dim):
            raise ValueError(f"StarGAN's generator takes labels [N, c_dim={self.c_dim}], got {c.shape}")
        dtype = self.dtype
        c = jnp.broadcast_to(c.astype(x.dtype)[:, None, None, :], (n, h, w, self.c_dim))
        x = jnp.concatenate([x, c], axis=-1).astype(dtype)
        names = SequentialNames("main")

        def conv_norm_relu(x, layer):
            x = InstanceNorm2d(dtype, name=names.next())(layer(x))
            names.skip()  # ReLU
            return nn.relu(x)

        x = conv_norm_relu(x, _conv(self.conv_dim, 7, 1, 3, names.next(), dtype))
        width = self.conv_dim
        for _ in range(2):
            width *= 2
            x = conv_norm_relu(x, _conv(width, 4, 2, 1, names.next(), dtype))
        for _ in range(self.repeat_num):
            x = ResidualBlock(dtype, name=names.next())(x)
        for _ in range(2):
            width //= 2
            x = conv_norm_relu(x, ConvTranspose2d(width, 4, 2, 1, 0, use_bias=False, dtype=dtype,
                                                  kernel_init="torch", name=names.next()))
        return jnp.tanh(_conv(self.channels, 7, 1, 3, names.next(), dtype)(x))


class Discriminator(nn.Module):
    """The reference's Discriminator (module docstring): returns (out_src
    [N, s, s, 1], out_cls [N, c_dim]), s = image_size / 2^repeat_num."""

    image_size: int = 128
    conv_dim: int = 64
    c_dim: int = 5
    repeat_num: int = 6
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array) -> tuple[Array, Array]:
        kernel = self.image_size // 2 ** self.repeat_num
        if kernel < 1 or kernel * 2 ** self.repeat_num != self.image_size:
            raise ValueError(f"StarGAN's discriminator needs image_size divisible by 2^repeat_num = "
                             f"{2 ** self.repeat_num}, got {self.image_size}")
        if x.shape[1:3] != (self.image_size, self.image_size):
            raise ValueError(f"StarGAN's discriminator is built for {self.image_size}x{self.image_size} images, "
                             f"got {x.shape[1]}x{x.shape[2]}")
        names = SequentialNames("main")
        h, width = x.astype(self.dtype), self.conv_dim
        for i in range(self.repeat_num):
            h = _conv(width, 4, 2, 1, names.next(), self.dtype, bias=True)(h)
            h = nn.leaky_relu(h, 0.01)
            names.skip()
            width *= 2
        out_src = _conv(1, 3, 1, 1, "conv1", self.dtype)(h)
        out_cls = _conv(self.c_dim, kernel, 1, 0, "conv2", self.dtype)(h)
        return out_src, out_cls.reshape(x.shape[0], self.c_dim)


def params_from_torch(state_dict: Mapping[str, Any], like: Any = None) -> dict[str, Any]:
    """{'params': ...} of the Generator or Discriminator whose reference state
    dict (`200000-G.ckpt`, `200000-D.ckpt`) this is; the InstanceNorms'
    running statistics are dropped (module docstring). With `like` (the
    network's variables or their eval_shape) the structure and shapes must
    match, else ValueError names the difference."""
    from jaxgan.models import pix2pix

    variables = pix2pix.params_from_torch_state_dict(state_dict)
    variables = {"params": variables["params"]}
    if like is not None:
        pix2pix._check_like(variables, {"params": dict(like)["params"]})
    return variables
