"""SinGAN's per-scale generator and discriminator (Shaham et al. 2019), as the
reference builds them (github.com/tamarott/SinGAN, SinGAN/models.py:
GeneratorConcatSkip2CleanAdd, WDiscriminator; defaults from config.py).

Each scale of the pyramid has its own G and D, both fully convolutional:
- a head ConvBlock (3x3 conv, no padding, + BatchNorm + LeakyReLU 0.2) from
  the image's 3 channels to `nfc`, `num_layer - 2` body ConvBlocks, and a
  tail 3x3 conv (to 3 channels and tanh in G, to 1 channel in D);
- body widths max(nfc / 2^(i+1), min_nfc): with SinGAN's min_nfc = nfc
  (both follow min(32 * 2^floor(scale / 4), 128)) every layer is nfc wide;
- no padding anywhere: G's input (noise + the upsampled previous scale) is
  zero-padded by num_layer once outside, so G's output has the image's size,
  while D's score map is 2 * num_layer pixels smaller than its input;
- G is residual: its output is tanh(tail) + the centre crop of the previous
  scale's image `prev` (which the tail's size leaves after the padding).

Initialisation as the reference's weights_init: conv weights N(0, 0.02),
conv biases torch's default U(+-1/sqrt(fan_in)) (weights_init leaves them),
BatchNorm scales N(1, 0.02) and biases 0. BatchNorm is torch's (batch
statistics in train mode, running ones with the unbiased variance, momentum
0.1); SinGAN samples with the running statistics (G.eval()).

Parameters per scale (nfc = min_nfc, 5 layers): G / D 29,763 / 29,185 at 32,
114,819 / 113,665 at 64, 450,819 / 448,513 at 128.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models.pix2pix import BatchNorm2d, Conv2d

Array = jax.Array


def scale_width(scale: int, init: int = 32, cap: int = 128) -> int:
    """SinGAN's nfc (and min_nfc) at pyramid level `scale` (0 the coarsest):
    min(init * 2^floor(scale / 4), cap)."""
    return min(init * 2 ** math.floor(scale / 4), cap)


def body_widths(nfc: int, min_nfc: int, num_layer: int) -> list[int]:
    """Output widths of the head and the body blocks, as the reference's loop:
    block i (1-based) has max(int(nfc / 2^i), min_nfc) channels."""
    return [nfc] + [max(int(nfc / 2 ** (i + 1)), min_nfc) for i in range(num_layer - 2)]


class ConvBlock(nn.Module):
    """The reference's ConvBlock: conv (no padding) + BatchNorm + LeakyReLU 0.2."""

    features: int
    kernel_size: int = 3
    slope: float = 0.2

    @nn.compact
    def __call__(self, x: Array, train: bool) -> Array:
        x = Conv2d(self.features, self.kernel_size, bias_init="torch", name="conv")(x)
        x = BatchNorm2d(name="norm")(x, train)
        return nn.leaky_relu(x, self.slope)


def _trunk(x: Array, train: bool, nfc: int, min_nfc: int, num_layer: int, out_channels: int,
           kernel_size: int) -> Array:
    """head + body blocks + tail conv, shared by G and D; called inside a
    compact __call__, so the layers are the caller's: head, block1.., tail
    (the reference's state_dict names head.*, body.block1.*, tail.*)."""
    widths = body_widths(nfc, min_nfc, num_layer)
    x = ConvBlock(widths[0], kernel_size, name="head")(x, train)
    for i, width in enumerate(widths[1:]):
        x = ConvBlock(width, kernel_size, name=f"block{i + 1}")(x, train)
    return Conv2d(out_channels, kernel_size, bias_init="torch", name="tail")(x)


class SinGANGenerator(nn.Module):
    """GeneratorConcatSkip2CleanAdd: tanh(trunk(noise)) + centre-cropped prev.
    `noise` and `prev` are NHWC, both padded by num_layer * (kernel_size // 2)
    (the reference's m_noise / m_image), so the output is the unpadded size."""

    nfc: int = 32
    min_nfc: int = 32
    num_layer: int = 5
    channels: int = 3
    kernel_size: int = 3

    @nn.compact
    def __call__(self, noise: Array, prev: Array, train: bool = False) -> Array:
        x = _trunk(noise, train, self.nfc, self.min_nfc, self.num_layer, self.channels, self.kernel_size)
        x = jnp.tanh(x)
        # The reference crops both sides by the height difference / 2.
        ind = (prev.shape[1] - x.shape[1]) // 2
        return x + prev[:, ind:prev.shape[1] - ind, ind:prev.shape[2] - ind, :]


class SinGANDiscriminator(nn.Module):
    """WDiscriminator: an unpadded patch critic, one score per receptive field
    (11x11 at 5 layers); the WGAN loss averages the map."""

    nfc: int = 32
    min_nfc: int = 32
    num_layer: int = 5
    kernel_size: int = 3

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        return _trunk(x, train, self.nfc, self.min_nfc, self.num_layer, 1, self.kernel_size)


def input_padding(num_layer: int = 5, kernel_size: int = 3) -> int:
    """The zero padding of G's inputs on each side ((ker_size - 1) * num_layer / 2)."""
    return ((kernel_size - 1) * num_layer) // 2
