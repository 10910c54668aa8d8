"""DCGAN's generator and discriminator as the WGAN reference builds them
(martinarjovsky/WassersteinGAN, models/dcgan.py: DCGAN_G, DCGAN_D), which
DCGAN, LSGAN and WGAN share.

- G: z [B, nz] as a 1x1 image -> 4x4 transposed conv to cngf channels, then
  stride-2 transposed convs halving the width until isize/2, `n_extra_layers`
  3x3 convs, a last stride-2 transposed conv to nc channels, tanh. cngf =
  ngf/2 * isize/4 (512 at 64x64, 256 at 32x32 for ngf 64).
- D: stride-2 4x4 conv to ndf (no BatchNorm), `n_extra_layers` 3x3 convs,
  stride-2 convs doubling the width until 4x4, a 4x4 valid conv to 1 score.
- No biases anywhere; BatchNorm after every layer but G's last and D's first
  and last; ReLU in G, LeakyReLU 0.2 in D; init as the reference's
  `weights_init`: conv weights N(0, 0.02), BatchNorm scale N(1, 0.02), bias 0.
- BatchNorm as torch's (momentum 0.1, eps 1e-5): flax momentum 0.9.

Parameters (nc 3, nz 100, ngf = ndf = 64, no extra layers; BatchNorm scale
and bias counted, running statistics not), as the reference counts them:
64x64: G 3,576,704, D 2,765,568; 32x32: G 1,068,928, D 663,296.

Kernels are flax's layout (HWIO; a transposed conv's kernel is [kh, kw, out,
in] with `transpose_kernel`): torch's [in, out, kh, kw] transposed by
(2, 3, 1, 0) for ConvTranspose2d and [out, in, kh, kw] by (2, 3, 1, 0) for
Conv2d (tests/test_models_dcgan.py loads the reference's state dict so).
The reference's D averages its scores over the batch; this one returns one
score per image (the losses average them).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import layers

Array = jax.Array

conv_init = nn.initializers.normal(0.02)


def bn_scale_init(key, shape, dtype=jnp.float32):
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def batch_norm(train: bool, name: str | None = None) -> nn.BatchNorm:
    """torch's BatchNorm2d (momentum 0.1, eps 1e-5) with the reference's init."""
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, scale_init=bn_scale_init,
                        name=name)


def _check_size(resolution: int) -> int:
    if resolution < 16 or resolution % 16 or resolution & (resolution - 1):
        raise ValueError(f"DCGAN needs a power-of-two resolution >= 16 (the reference: a multiple of 16 whose "
                         f"halvings reach 4), got {resolution}")
    return int(math.log2(resolution))


class TorchConvTranspose(nn.Module):
    """torch's ConvTranspose2d(kernel, stride, padding, bias=False) with flax
    nn.ConvTranspose's parameter ('kernel', [k, k, out, in] transposed). The
    4x4 stride-2 form runs in the CPU's fast form on a CPU
    (layers.conv_transpose_4x4_stride2)."""

    features: int
    kernel: int
    stride: int
    padding: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k = self.kernel
        kernel = self.param("kernel", conv_init, (k, k, self.features, x.shape[-1]))
        if (k, self.stride, self.padding) == (4, 2, 1):
            return layers.conv_transpose_4x4_stride2(x, kernel)
        pad = k - 1 - self.padding
        return jax.lax.conv_transpose(x, kernel, (self.stride,) * 2, ((pad, pad), (pad, pad)),
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"), transpose_kernel=True)


class TorchConv(nn.Module):
    """torch's Conv2d(kernel, stride, padding, bias=False) with flax nn.Conv's
    parameter ('kernel', HWIO); 4x4 stride 2 and 3x3 stride 1 (padding 1) in
    the CPU's fast forms on a CPU."""

    features: int
    kernel: int
    stride: int
    padding: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k = self.kernel
        kernel = self.param("kernel", conv_init, (k, k, x.shape[-1], self.features))
        if (k, self.stride, self.padding) == (4, 2, 1):
            return layers.conv_4x4_stride2(x, kernel)
        if (k, self.stride, self.padding) == (3, 1, 1):
            return layers.conv2d_same(x, kernel)
        return jax.lax.conv_general_dilated(x, kernel, (self.stride,) * 2, ((self.padding, self.padding),) * 2,
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))


def conv_transpose(features: int, kernel: int, stride: int, padding: int, name: str) -> TorchConvTranspose:
    return TorchConvTranspose(features, kernel, stride, padding, name=name)


def conv(features: int, kernel: int, stride: int, padding: int, name: str) -> TorchConv:
    return TorchConv(features, kernel, stride, padding, name=name)


class DCGANGenerator(nn.Module):
    resolution: int = 64
    z_dim: int = 100  # nz
    channels: int = 3  # nc
    ngf: int = 64
    n_extra_layers: int = 0

    @nn.compact
    def __call__(self, z: Array, train: bool = True) -> Array:
        _check_size(self.resolution)
        cngf = self.ngf // 2 * self.resolution // 4
        x = z.reshape(z.shape[0], 1, 1, -1)
        x = conv_transpose(cngf, 4, 1, 0, "initial_convt")(x)
        x = nn.relu(batch_norm(train, "initial_bn")(x))
        size, i = 4, 0
        while size < self.resolution // 2:
            cngf //= 2
            x = conv_transpose(cngf, 4, 2, 1, f"pyramid_convt_{i}")(x)
            x = nn.relu(batch_norm(train, f"pyramid_bn_{i}")(x))
            size, i = size * 2, i + 1
        for t in range(self.n_extra_layers):
            x = conv(cngf, 3, 1, 1, f"extra_conv_{t}")(x)
            x = nn.relu(batch_norm(train, f"extra_bn_{t}")(x))
        x = conv_transpose(self.channels, 4, 2, 1, "final_convt")(x)
        return jnp.tanh(x)


class DCGANDiscriminator(nn.Module):
    resolution: int = 64  # the input's channels (nc) are the image's
    ndf: int = 64
    n_extra_layers: int = 0

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        _check_size(self.resolution)
        lrelu = lambda v: nn.leaky_relu(v, 0.2)
        x = lrelu(conv(self.ndf, 4, 2, 1, "initial_conv")(x))
        size, cndf = self.resolution // 2, self.ndf
        for t in range(self.n_extra_layers):
            x = lrelu(batch_norm(train, f"extra_bn_{t}")(conv(cndf, 3, 1, 1, f"extra_conv_{t}")(x)))
        i = 0
        while size > 4:
            cndf *= 2
            x = lrelu(batch_norm(train, f"pyramid_bn_{i}")(conv(cndf, 4, 2, 1, f"pyramid_conv_{i}")(x)))
            size, i = size // 2, i + 1
        x = conv(1, 4, 1, 0, "final_conv")(x)
        return x.reshape(x.shape[0])
