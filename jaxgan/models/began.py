"""BEGAN's generator and autoencoder discriminator (Berthelot et al. 2017), as
the reference implementation builds them (carpedm20/BEGAN-tensorflow,
models.py: GeneratorCNN, DiscriminatorCNN; defaults z_num h = 64,
conv_hidden_num n = 128).

- Decoder (G, and D's second half): a linear layer to an 8x8 map of n
  channels, then `repeat_num` = log2(resolution) - 2 blocks of two 3x3 convs
  with ELU, nearest-neighbour 2x upsampling between blocks, a last 3x3 conv
  to the image's channels without activation (BEGAN's G has no tanh).
- Encoder: a 3x3 conv to n with ELU, then per block i two 3x3 convs to
  n * (i + 1) with ELU and, but after the last block, a stride-2 3x3 conv
  (ELU) that halves the size; a linear layer from the 8x8 map to the
  embedding h (no activation).
- Convolutions pad 'SAME' as TensorFlow does (lax's 'SAME' is TF's: a
  stride-2 conv on an even size pads one pixel after); biases everywhere;
  weights xavier-uniform and biases zero (tf.contrib.slim's defaults).

Parameters at 64x64 RGB (h 64, n 128): G 1,716,611; D 13,405,379 (encoder
11,688,768, decoder 1,716,611). Layer table (3x3 convs, weights + biases):
  decoder: linear 64 -> 8*8*128 (532,480); 4 blocks x 2 convs 128 -> 128
    (8 x 147,584 = 1,180,672); conv 128 -> 3 (3,459).
  encoder: conv 3 -> 128 (3,584); block 0: 128 -> 128 x 2 + down 128 -> 128
    (3 x 147,584); block 1: 128 -> 256 (295,168), 256 -> 256 and down
    (2 x 590,080); block 2: 256 -> 384 (885,120), 384 -> 384 and down
    (2 x 1,327,488); block 3: 384 -> 512 (1,769,984), 512 -> 512 (2,359,808);
    linear 8*8*512 -> 64 (2,097,216).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import layers

Array = jax.Array

_xavier = nn.initializers.xavier_uniform()


class Conv3x3(nn.Module):
    """slim.conv2d(features, 3, stride): 'SAME' 3x3 convolution with a bias,
    with flax nn.Conv's parameters ('kernel' HWIO, 'bias'); in the CPU's fast
    forms on a CPU (layers.conv2d_same, layers.conv_stride2)."""

    features: int
    stride: int = 1

    @nn.compact
    def __call__(self, x: Array) -> Array:
        kernel = self.param("kernel", _xavier, (3, 3, x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        y = layers.conv2d_same(x, kernel) if self.stride == 1 else layers.conv_stride2(x, kernel, "SAME")
        return y + bias


def _conv(features: int, stride: int = 1, name: str | None = None) -> Conv3x3:
    return Conv3x3(features, stride, name=name)


def repeat_num(resolution: int) -> int:
    """Blocks of the encoder and decoder: 8x8 doubled to the resolution."""
    if resolution < 8 or resolution & (resolution - 1):
        raise ValueError(f"BEGAN needs a power-of-two resolution >= 8, got {resolution}")
    return int(math.log2(resolution)) - 2


def upscale(x: Array) -> Array:
    """Nearest-neighbour 2x (tf.image.resize_nearest_neighbor to twice the size)."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class BEGANDecoder(nn.Module):
    """z [B, h] -> image [B, resolution, resolution, channels]: BEGAN's G."""

    resolution: int = 64
    z_dim: int = 64  # h
    hidden: int = 128  # n
    channels: int = 3

    @nn.compact
    def __call__(self, z: Array, train: bool = True) -> Array:
        del train  # no BatchNorm or dropout: the argument is the trainer's interface
        blocks = repeat_num(self.resolution)
        x = nn.Dense(8 * 8 * self.hidden, kernel_init=_xavier, name="linear")(z)
        x = x.reshape(x.shape[0], 8, 8, self.hidden)
        for i in range(blocks):
            x = nn.elu(_conv(self.hidden, name=f"block{i}_conv0")(x))
            x = nn.elu(_conv(self.hidden, name=f"block{i}_conv1")(x))
            if i < blocks - 1:
                x = upscale(x)
        return _conv(self.channels, name="to_image")(x)


class BEGANEncoder(nn.Module):
    """image -> embedding [B, h]."""

    resolution: int = 64
    z_dim: int = 64
    hidden: int = 128

    @nn.compact
    def __call__(self, x: Array) -> Array:
        blocks = repeat_num(self.resolution)
        x = nn.elu(_conv(self.hidden, name="from_image")(x))
        for i in range(blocks):
            width = self.hidden * (i + 1)
            x = nn.elu(_conv(width, name=f"block{i}_conv0")(x))
            x = nn.elu(_conv(width, name=f"block{i}_conv1")(x))
            if i < blocks - 1:
                x = nn.elu(_conv(width, stride=2, name=f"block{i}_down")(x))
        return nn.Dense(self.z_dim, kernel_init=_xavier, name="linear")(x.reshape(x.shape[0], -1))


class BEGANDiscriminator(nn.Module):
    """The autoencoder: image -> (reconstruction, embedding)."""

    resolution: int = 64
    z_dim: int = 64
    hidden: int = 128

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> tuple[Array, Array]:
        embedding = BEGANEncoder(self.resolution, self.z_dim, self.hidden, name="encoder")(x)
        decoder = BEGANDecoder(self.resolution, self.z_dim, self.hidden, x.shape[-1], name="decoder")
        return decoder(embedding, train), embedding
