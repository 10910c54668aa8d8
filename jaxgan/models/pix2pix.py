"""pix2pix's and CycleGAN's networks as the reference builds them
(junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py): the U-Net and
ResNet generators, the PatchGAN (`NLayerDiscriminator`) and the 1x1
`PixelDiscriminator`, with `define_G` / `define_D` taking the reference's
names. The torch-exact layers here (Conv2d, ConvTranspose2d, BatchNorm2d,
instance_norm, ResnetBlock) are shared with pix2pixHD (models/pix2pixhd.py).

Norms (the reference's `get_norm_layer`):
- 'batch': BatchNorm2d with scale and bias, running statistics in
  `batch_stats` (torch's momentum 0.1 = flax-style 0.9, eps 1e-5): batch
  statistics with train=True, running ones with train=False;
- 'instance': InstanceNorm2d without scale, bias or running statistics (eps
  1e-5): per image and channel in both modes. Old checkpoints written with
  `track_running_stats=True` carry running statistics for it; they are unused
  and dropped on import, as the reference drops them when loading;
- 'none': no normalisation.
The convolutions before a norm have a bias exactly when the norm is
'instance' (the reference's `use_bias`); the first conv of each D and the last
conv of each G and of the PatchGAN always have one (the pixel D's last only
with 'instance', as in the reference). The reference's test.py runs the
networks in training mode unless --eval (pix2pix's U-Net then normalises with
the test batch's statistics and keeps its dropout on).

Init (the reference's init_weights 'normal', gain 0.02): conv kernels
N(0, 0.02), biases 0, BatchNorm scale N(1, 0.02) and bias 0.

Compute dtype (`dtype` of every layer, network and of define_G / define_D;
float32 by default), as jaxgan's BigGAN layers: parameters and BatchNorm's
running statistics stay float32 (their names, shapes and counts do not
depend on it); convolutions cast their input and kernel to `dtype` and add
the bias in it; the norms compute their statistics in float32 and return
`dtype` (recomputed in the backward pass when narrower: `remat_narrow`);
pads, activations and dropout keep the dtype they get. Networks
cast their input to `dtype`, so with bfloat16 the activations, G's tanh
output and D's logits are bfloat16: losses on them should be taken in
float32 (the trainers' are).

Generators (input NHWC in [-1, 1], `ngf` 64; c7s1-k = reflection pad 3, 7x7
conv, norm, ReLU; dk = 3x3 stride-2 conv, norm, ReLU; R = ResnetBlock: x +
(pad 1, 3x3 conv, norm, ReLU, [Dropout 0.5], pad 1, 3x3 conv, norm); uk =
3x3 stride-2 transposed conv (padding 1, output padding 1), norm, ReLU):

| name | layers |
|---|---|
| resnet_6blocks / resnet_9blocks | c7s1-64, d128, d256, 6 or 9 x R256, u128, u64, pad 3, 7x7 conv to output_nc, tanh |
| unet_N (N = num_downs) | N nested UnetSkipConnectionBlocks, widths 64, 128, 256, 512, 512...: see below |

A UnetSkipConnectionBlock(outer, inner) is `[LeakyReLU 0.2, 4x4 s2 conv
outer -> inner, norm, submodule, ReLU, 4x4 s2 transposed conv 2 inner ->
outer, norm, (Dropout 0.5)]` and returns concat(x, that) on channels; the
outermost has neither the LeakyReLU nor norms, ends in tanh and returns the
output alone; the innermost has no submodule and no down norm (and its
transposed conv takes `inner`, not 2 inner, channels). From the outside in the
blocks are (output_nc, 64), (64, 128), (128, 256), (256, 512), then
num_downs - 5 blocks (512, 512) that have the dropout when `use_dropout`, then
the innermost (512, 512). The input's side must be divisible by 2**num_downs
(unet_256: 256 -> 1x1 at the bottleneck). The reference's down LeakyReLU is
in-place, so the x it concatenates is LeakyReLU(x); the parent block's ReLU
comes next, and ReLU(LeakyReLU(x)) = ReLU(x), so concatenating x is the same
function with the same gradients.

Discriminators (ndf 64, LeakyReLU 0.2; C-k = 4x4 conv, norm, LeakyReLU;
outputs are logits, no sigmoid):

| name | layers |
|---|---|
| basic (n_layers 3, 70x70) | 4x4 s2 conv to 64, C128 s2, C256 s2, C512 s1, 4x4 s1 conv to 1; padding 1: 256 -> 30x30 |
| n_layers n | as basic with n - 1 stride-2 C-k (widths ndf * min(2**i, 8)), then a stride-1 one |
| pixel | 1x1 convs: to ndf (bias), LeakyReLU, to 2 ndf, norm, LeakyReLU, to 1 |

Parameters as torch counts them (norm scales and biases, no running
statistics; output_nc 3, ngf = ndf = 64), the same as
jaxgan.state.count_params of the flax params:

| network | norm 'batch' (pix2pix's default) | norm 'instance' (CycleGAN's) |
|---|---|---|
| unet_256 G, 3 inputs | 54,413,955 | 54,409,603 |
| unet_128 G, 3 inputs | 41,828,995 | 41,825,667 |
| resnet_9blocks G, 3 inputs | 11,383,427 | 11,378,179 |
| resnet_6blocks G, 3 inputs | 7,841,411 | 7,837,699 |
| basic D, 6 inputs (pix2pix's pair) | 2,768,705 | 2,767,809 |
| basic D, 3 inputs (CycleGAN's) | 2,765,633 | 2,764,737 |
| pixel D, 6 inputs | 9,024 | 8,897 |

Flax names are the reference's state-dict names: a module's path with each
nn.Sequential index joined to the name before it by '_', e.g. the
ResnetGenerator's `model.10.conv_block.5.weight` is params
`model_10/conv_block_5/kernel`, the U-Net's `model.model.1.model.2.running_var`
is batch_stats `model/model_1/model_2/var`. Leaves: a conv's `weight` is
`kernel` ([out, in, kh, kw] -> HWIO, and a transposed conv's [in, out, kh, kw]
-> flax's transposed [kh, kw, out, in]: both by (2, 3, 1, 0)), `bias` is
`bias`, a norm's `weight` is `scale`, `running_mean` / `running_var` are
batch_stats `mean` / `var`. `params_from_torch_state_dict` applies this to a
whole state dict. The reference's parameter-free layers (pads, activations,
Dropout, InstanceNorm) keep their indices, so the names agree however the
layers are configured.

This follows the reference's current get_norm_layer (InstanceNorm with
track_running_stats=False, 'none' as identity) and its discriminators without
a sigmoid (its GANLoss takes logits). Deviations: U-Nets need num_downs >= 5 (the reference builds 5 blocks for any
smaller value); `unet_32` and `unet_64` (num_downs 5 and 6) are names this
module adds beside the reference's `unet_128` and `unet_256`; `define_G` /
`define_D` take no input_nc (the input's channels are the input's).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models import conv_forms, init_noise, layers

Array = jax.Array

NORMS = ("batch", "instance", "none")
PADDINGS = ("reflect", "replicate", "zero")

conv_init = layers.normal_init(0.02)


def bn_scale_init(key, shape, dtype=jnp.float32):
    return (1.0 + 0.02 * init_noise.standard_normal(key, shape)).astype(dtype)


def torch_default_bias_init(fan_in: int):
    """torch's default conv bias init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    which pix2pixHD's weights_init leaves in place."""
    bound = 1.0 / math.sqrt(fan_in)
    return lambda key, shape, dtype=jnp.float32: init_noise.uniform(key, shape, dtype, -bound, bound)


def _kernel_init(kind: str, fan_in: int):
    """'normal': the references' N(0, 0.02) (init_weights / weights_init);
    'torch': torch's default conv weight init, kaiming_uniform(a=sqrt(5)) =
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (StarGAN keeps it)."""
    if kind == "normal":
        return conv_init
    if kind == "torch":
        return torch_default_bias_init(fan_in)
    raise ValueError(f"kernel_init: 'normal' or 'torch', got {kind!r}")


def _bias_init(kind: str, fan_in: int):
    if kind == "zeros":
        return nn.initializers.zeros
    if kind == "torch":
        return torch_default_bias_init(fan_in)
    raise ValueError(f"bias_init: 'zeros' or 'torch', got {kind!r}")


def check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return norm


def conv_stride1(x: Array, kernel: Array, padding) -> Array:
    """Stride-1 convolution with explicit zero padding ((top, bottom), (left,
    right)), NHWC x HWIO, x and kernel of one dtype (float32 or bfloat16). In
    a program compiled for the CPU its gradients run in conv_forms.conv2d's
    forms (XLA:CPU's own are several times slower); elsewhere XLA's."""
    padding = tuple((int(a), int(b)) for a, b in padding)
    return jax.lax.platform_dependent(x, kernel, cpu=lambda x, k: conv_forms.conv2d(x, k, padding),
                                      default=lambda x, k: conv_forms.conv2d_xla(x, k, padding))


class Conv2d(nn.Module):
    """torch's Conv2d(in, features, kernel_size, stride, padding, bias=use_bias)
    with zero padding; kernel HWIO. Strides 1 and 2 run in the CPU's fast forms
    on a CPU (conv_stride1, layers.conv_stride2). `bias_init` 'zeros' is the
    CycleGAN/pix2pix init, 'torch' torch's default (pix2pixHD); `kernel_init`
    'normal' is N(0, 0.02), 'torch' torch's default (StarGAN). Float32
    parameters; input, kernel and bias are cast to `dtype` (lax convolves
    operands of one dtype only), the output is `dtype`."""

    features: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    use_bias: bool = True
    bias_init: str = "zeros"
    dtype: Any = jnp.float32
    kernel_init: str = "normal"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k, p, cin = self.kernel_size, self.padding, x.shape[-1]
        init = _kernel_init(self.kernel_init, cin * k * k)
        kernel = self.param("kernel", init, (k, k, cin, self.features), jnp.float32).astype(self.dtype)
        x = x.astype(self.dtype)
        pads = ((p, p), (p, p))
        if self.stride == 1:
            y = conv_stride1(x, kernel, pads)
        elif self.stride == 2:
            y = layers.conv_stride2(x, kernel, pads)
        else:
            y = jax.lax.conv_general_dilated(x, kernel, (self.stride,) * 2, pads,
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
        if self.use_bias:
            bias = self.param("bias", _bias_init(self.bias_init, cin * k * k), (self.features,), jnp.float32)
            y = y + bias.astype(self.dtype)
        return y


class ConvTranspose2d(nn.Module):
    """torch's ConvTranspose2d(in, features, kernel_size, stride, padding,
    output_padding, bias=use_bias); kernel flax's transposed [k, k, out, in].
    lax pads the dilated input by k - 1 - padding before and that plus
    output_padding after. Stride 2 runs in the CPU's fast form on a CPU
    (layers.conv_transpose_stride2). Float32 parameters, computed in
    `dtype` as Conv2d (and `kernel_init` as its)."""

    features: int
    kernel_size: int
    stride: int = 2
    padding: int = 0
    output_padding: int = 0
    use_bias: bool = True
    bias_init: str = "zeros"
    dtype: Any = jnp.float32
    kernel_init: str = "normal"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k = self.kernel_size
        # torch's fan_in of a transposed conv's weight [in, out, k, k] is out * k * k.
        init = _kernel_init(self.kernel_init, self.features * k * k)
        kernel = self.param("kernel", init, (k, k, self.features, x.shape[-1]), jnp.float32)
        kernel, x = kernel.astype(self.dtype), x.astype(self.dtype)
        lo = k - 1 - self.padding
        pads = ((lo, lo + self.output_padding),) * 2
        if self.stride == 2:
            y = layers.conv_transpose_stride2(x, kernel, pads)
        else:
            y = jax.lax.conv_transpose(x, kernel, (self.stride,) * 2, pads,
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"), transpose_kernel=True)
        if self.use_bias:
            bias = self.param("bias", _bias_init(self.bias_init, self.features * k * k), (self.features,), jnp.float32)
            y = y + bias.astype(self.dtype)
        return y


class BatchNorm2d(nn.Module):
    """torch's BatchNorm2d(affine=True, momentum=0.1, eps=1e-5) with the
    references' init (scale N(1, 0.02), bias 0). train=True normalises with the
    batch's statistics and updates the running ones as torch does (`momentum`
    0.9 of the old value, the unbiased batch variance); train=False uses the
    running ones. Statistics, parameters and running statistics in float32
    over N, H, W (global over a sharded batch under jit); the normalised
    output is cast to `dtype`. A narrower input is normalised under
    `remat_narrow`."""

    momentum: float = 0.9
    eps: float = 1e-5
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool) -> Array:
        c = x.shape[-1]
        scale = self.param("scale", bn_scale_init, (c,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (c,), jnp.float32)
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), jnp.float32))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((c,), jnp.float32))

        def normalize(x, scale, bias, mean, var):
            x = x.astype(jnp.float32)
            if train:
                mean = jnp.mean(x, (0, 1, 2))
                var = jnp.mean(jnp.square(x - mean), (0, 1, 2))
            y = (x - mean) * jax.lax.rsqrt(var + self.eps) * scale + bias
            return y.astype(self.dtype), mean, var

        y, mean, var = remat_narrow(normalize, x)(x, scale, bias, ra_mean.value, ra_var.value)
        if train and not self.is_initializing():
            n = x.size // c
            ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
            ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var * (n / max(n - 1, 1))
        return y


def remat_narrow(fn: Callable, x: Array) -> Callable:
    """fn (a norm of x), recomputed from its arguments in the backward pass
    when x is narrower than float32 (jax.checkpoint), else fn itself.

    A norm computes in float32, so autodiff would keep its float32 x - mean
    for the backward pass: twice a bfloat16 x's bytes, at every norm. With
    bfloat16, the local G's residuals at 2048x1024 (jax.vjp's, before XLA)
    are 3.7 GiB this way and 6.6 GiB without (8.9 GiB in float32); the
    multi-scale D's 0.6 and 0.9 (1.3). The whole pix2pixhd_cityscapes_1024
    step at 2048x1024, compiled for a TPU v5p (aot_memory.py --topology
    v5p:2x2x1, batch 1 a chip), peaks at 15.0 GiB this way, 16.6 GiB without
    (more than float32's 15.8). A float32 x would save nothing, so float32
    networks differentiate the plain fn."""
    if jnp.dtype(x.dtype).itemsize >= 4:
        return fn
    return jax.checkpoint(fn)


def instance_norm(x: Array, eps: float = 1e-5, dtype: Any = None) -> Array:
    """torch's InstanceNorm2d(affine=False, track_running_stats=False): each
    image's channels to zero mean and unit (biased) variance over H, W.
    Statistics in float32 (bfloat16 sums over H * W pixels would lose the
    mean), under `remat_narrow`; the output in `dtype`, by default x's."""
    out_dtype = x.dtype if dtype is None else dtype

    def normalize(x):
        x = x.astype(jnp.float32)
        mean = jnp.mean(x, (1, 2), keepdims=True)
        var = jnp.mean(jnp.square(x - mean), (1, 2), keepdims=True)
        return ((x - mean) * jax.lax.rsqrt(var + eps)).astype(out_dtype)

    return remat_narrow(normalize, x)(x)


def norm_layer(norm: str, train: bool, name: str, dtype: Any = jnp.float32) -> Callable[[Array], Array]:
    """The reference's norm_layer(...) at the place `name` (call inside a
    compact method): BatchNorm2d for 'batch', the parameter-free instance norm
    for 'instance', the identity for 'none'; the first two return `dtype`."""
    if check_norm(norm) == "batch":
        bn = BatchNorm2d(dtype=dtype, name=name)
        return lambda x: bn(x, train)
    if norm == "instance":
        return lambda x: instance_norm(x, dtype=dtype)
    return lambda x: x


def pad2d(x: Array, p: int, padding_type: str = "reflect") -> Array:
    """torch's ReflectionPad2d / ReplicationPad2d (or zeros) of p on H and W."""
    mode = {"reflect": "reflect", "replicate": "edge", "zero": "constant"}[padding_type]
    return jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode=mode)


def leaky_relu(x: Array) -> Array:
    return nn.leaky_relu(x, 0.2)


class SequentialNames:
    """Names layers after their index in a reference nn.Sequential: `next()`
    is `{prefix}_{i}` for the layer at index i; `skip()` passes a
    parameter-free layer (pad, activation, dropout)."""

    def __init__(self, prefix: str, start: int = 0):
        self.prefix, self.index = prefix, start

    def next(self) -> str:
        self.index += 1
        return f"{self.prefix}_{self.index - 1}"

    def skip(self, n: int = 1) -> None:
        self.index += n


class ResnetBlock(nn.Module):
    """x + conv_block(x), conv_block = [pad 1, 3x3 conv, norm, ReLU, (Dropout
    0.5), pad 1, 3x3 conv, norm] (padding 'zero': the convs pad instead).
    Both references' ResnetBlock: pix2pix's convs have a bias only with
    instance norm, pix2pixHD's always (with torch's default init). Computes
    in `dtype`, its input cast to it."""

    norm: str = "batch"
    use_bias: bool = False
    use_dropout: bool = False
    padding_type: str = "reflect"
    bias_init: str = "zeros"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        if self.padding_type not in PADDINGS:
            raise ValueError(f"padding_type must be one of {PADDINGS}, got {self.padding_type!r}")
        names = SequentialNames("conv_block")
        x = x.astype(self.dtype)  # the skip sum in dtype too
        h = x
        for first in (True, False):
            p = 1 if self.padding_type == "zero" else 0
            if not p:
                h = pad2d(h, 1, self.padding_type)
                names.skip()
            h = Conv2d(x.shape[-1], 3, 1, p, self.use_bias, self.bias_init, self.dtype, name=names.next())(h)
            h = norm_layer(self.norm, train, names.next(), self.dtype)(h)
            if first:
                h = nn.relu(h)
                names.skip()
                if self.use_dropout:
                    h = nn.Dropout(0.5, deterministic=not train)(h)
                    names.skip()
        return x + h


class ResnetGenerator(nn.Module):
    """The reference's ResnetGenerator (Johnson et al.'s): c7s1-ngf, two
    stride-2 3x3 convs, n_blocks ResnetBlocks at 4 ngf, two stride-2
    transposed convs, reflection pad 3, 7x7 conv to output_nc, tanh.
    Sides divisible by 4. Computes in `dtype` (module docstring)."""

    output_nc: int = 3
    ngf: int = 64
    norm: str = "batch"
    use_dropout: bool = False
    n_blocks: int = 6
    padding_type: str = "reflect"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        use_bias = check_norm(self.norm) == "instance"
        names = SequentialNames("model")
        dtype = self.dtype

        def conv_norm_relu(x, conv):
            x = conv(x)
            x = norm_layer(self.norm, train, names.next(), dtype)(x)
            names.skip()  # ReLU
            return nn.relu(x)

        x = pad2d(x.astype(dtype), 3)
        names.skip()
        x = conv_norm_relu(x, Conv2d(self.ngf, 7, use_bias=use_bias, dtype=dtype, name=names.next()))
        n_downsampling = 2
        for i in range(n_downsampling):
            x = conv_norm_relu(x, Conv2d(self.ngf * 2 ** (i + 1), 3, 2, 1, use_bias, dtype=dtype, name=names.next()))
        for _ in range(self.n_blocks):
            x = ResnetBlock(self.norm, use_bias, self.use_dropout, self.padding_type, dtype=dtype,
                            name=names.next())(x, train)
        for i in range(n_downsampling):
            features = self.ngf * 2 ** (n_downsampling - i) // 2
            x = conv_norm_relu(x, ConvTranspose2d(features, 3, 2, 1, 1, use_bias, dtype=dtype, name=names.next()))
        x = pad2d(x, 3)
        names.skip()
        return jnp.tanh(Conv2d(self.output_nc, 7, dtype=dtype, name=names.next())(x))


class UnetSkipConnectionBlock(nn.Module):
    """One level of the U-Net and, nested in it, all the levels inside.

    `widths` holds (outer_nc, inner_nc, use_dropout) of this block, then of
    the blocks inside it, outermost first; the last is the innermost. See the
    module docstring for the layers and the skip connection. Computes in
    `dtype`, its input (and so the skip half of its output) cast to it."""

    widths: tuple[tuple[int, int, bool], ...]
    outermost: bool = False
    norm: str = "batch"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        (outer_nc, inner_nc, use_dropout), inner = self.widths[0], self.widths[1:]
        innermost = not inner
        if self.outermost and innermost:
            raise ValueError("UnetSkipConnectionBlock: the outermost block needs blocks inside it")
        use_bias = check_norm(self.norm) == "instance"
        names = SequentialNames("model")
        x = x.astype(self.dtype)
        h = x
        if not self.outermost:
            h = leaky_relu(h)
            names.skip()
        h = Conv2d(inner_nc, 4, 2, 1, use_bias, dtype=self.dtype, name=names.next())(h)
        if not (self.outermost or innermost):
            h = norm_layer(self.norm, train, names.next(), self.dtype)(h)
        if not innermost:
            h = UnetSkipConnectionBlock(inner, norm=self.norm, dtype=self.dtype, name=names.next())(h, train)
        h = nn.relu(h)
        names.skip()
        h = ConvTranspose2d(outer_nc, 4, 2, 1, use_bias=use_bias or self.outermost, dtype=self.dtype,
                            name=names.next())(h)
        if self.outermost:
            return jnp.tanh(h)
        h = norm_layer(self.norm, train, names.next(), self.dtype)(h)
        if use_dropout:
            h = nn.Dropout(0.5, deterministic=not train)(h)
        return jnp.concatenate([x, h], axis=-1)


class UnetGenerator(nn.Module):
    """The reference's UnetGenerator: num_downs nested UnetSkipConnectionBlocks
    (module docstring); its `model` is the outermost block. Computes in
    `dtype`."""

    output_nc: int = 3
    num_downs: int = 8
    ngf: int = 64
    norm: str = "batch"
    use_dropout: bool = False
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        if self.num_downs < 5:
            raise ValueError(f"UnetGenerator: num_downs must be >= 5, got {self.num_downs}")
        side = 2 ** self.num_downs
        if x.shape[1] % side or x.shape[2] % side:
            raise ValueError(f"UnetGenerator with num_downs {self.num_downs} needs sides divisible by {side}, "
                             f"got {x.shape[1]}x{x.shape[2]}")
        g = self.ngf
        widths = ((self.output_nc, g, False), (g, 2 * g, False), (2 * g, 4 * g, False), (4 * g, 8 * g, False))
        widths += ((8 * g, 8 * g, self.use_dropout),) * (self.num_downs - 5) + ((8 * g, 8 * g, False),)
        return UnetSkipConnectionBlock(widths, outermost=True, norm=self.norm, dtype=self.dtype, name="model")(x, train)


class NLayerDiscriminator(nn.Module):
    """The reference's PatchGAN: a 4x4 stride-2 conv to ndf, n_layers - 1
    stride-2 4x4 conv-norm-LeakyReLU layers (widths ndf * min(2**n, 8)), a
    stride-1 one, and a stride-1 4x4 conv to one logit per patch; padding 1
    throughout. Returns the logits map [N, H', W', 1] in `dtype`."""

    ndf: int = 64
    n_layers: int = 3
    norm: str = "batch"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        use_bias = check_norm(self.norm) == "instance"
        names = SequentialNames("model")
        x = leaky_relu(Conv2d(self.ndf, 4, 2, 1, dtype=self.dtype, name=names.next())(x))
        names.skip()
        for n in range(1, self.n_layers + 1):
            stride = 2 if n < self.n_layers else 1
            x = Conv2d(self.ndf * min(2 ** n, 8), 4, stride, 1, use_bias, dtype=self.dtype, name=names.next())(x)
            x = leaky_relu(norm_layer(self.norm, train, names.next(), self.dtype)(x))
            names.skip()
        return Conv2d(1, 4, 1, 1, dtype=self.dtype, name=names.next())(x)


class PixelDiscriminator(nn.Module):
    """The reference's 1x1 PatchGAN (`net`): 1x1 convs to ndf, 2 ndf (norm)
    and 1 logit per pixel, LeakyReLU 0.2 between; computes in `dtype`."""

    ndf: int = 64
    norm: str = "batch"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        use_bias = check_norm(self.norm) == "instance"
        x = leaky_relu(Conv2d(self.ndf, 1, dtype=self.dtype, name="net_0")(x))
        x = Conv2d(2 * self.ndf, 1, use_bias=use_bias, dtype=self.dtype, name="net_2")(x)
        x = leaky_relu(norm_layer(self.norm, train, "net_3", self.dtype)(x))
        return Conv2d(1, 1, use_bias=use_bias, dtype=self.dtype, name="net_5")(x)


UNET_NUM_DOWNS = {"unet_32": 5, "unet_64": 6, "unet_128": 7, "unet_256": 8}


def define_G(netG: str, output_nc: int = 3, ngf: int = 64, norm: str = "batch", use_dropout: bool = False,
             dtype: Any = jnp.float32) -> nn.Module:
    """The reference's define_G by name: 'resnet_6blocks', 'resnet_9blocks',
    'unet_128', 'unet_256' (and 'unet_32', 'unet_64'), computing in `dtype`."""
    check_norm(norm)
    if netG in ("resnet_6blocks", "resnet_9blocks"):
        return ResnetGenerator(output_nc, ngf, norm, use_dropout, n_blocks=int(netG[7]), dtype=dtype)
    if netG in UNET_NUM_DOWNS:
        return UnetGenerator(output_nc, UNET_NUM_DOWNS[netG], ngf, norm, use_dropout, dtype=dtype)
    raise ValueError(f"netG must be one of resnet_6blocks, resnet_9blocks, {', '.join(UNET_NUM_DOWNS)}; got {netG!r}")


def define_D(netD: str, ndf: int = 64, n_layers_D: int = 3, norm: str = "batch",
             dtype: Any = jnp.float32) -> nn.Module:
    """The reference's define_D by name: 'basic' (the 70x70 PatchGAN,
    n_layers 3), 'n_layers' (n_layers_D) or 'pixel', computing in `dtype`."""
    check_norm(norm)
    if netD == "basic":
        return NLayerDiscriminator(ndf, 3, norm, dtype)
    if netD == "n_layers":
        return NLayerDiscriminator(ndf, n_layers_D, norm, dtype)
    if netD == "pixel":
        return PixelDiscriminator(ndf, norm, dtype)
    raise ValueError(f"netD must be 'basic', 'n_layers' or 'pixel', got {netD!r}")


# --------------------------------------------------------------------------
# Reference state dicts


_TENSORS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def flax_path(torch_module: str) -> tuple[str, ...]:
    """A torch module path as the flax module path: each nn.Sequential index
    joined to the name before it ('model.10.conv_block.5' -> ('model_10',
    'conv_block_5'))."""
    path: list[str] = []
    for part in torch_module.split("."):
        if part.isdigit() and path:
            path[-1] = f"{path[-1]}_{part}"
        else:
            path.append(part)
    return tuple(path)


def _put(tree: dict, path: tuple[str, ...], leaves: dict) -> None:
    for name in path:
        tree = tree.setdefault(name, {})
    tree.update(leaves)


def params_from_torch_state_dict(state_dict: Mapping[str, Any], like: Any = None) -> dict[str, dict]:
    """{'params'[, 'batch_stats']} of the flax network whose reference (torch)
    state dict this is (any network of this module or of pix2pixhd.py), by
    the naming rule of the module docstring; arrays are numpy.

    A 'module.' prefix (torch DataParallel) is dropped, and so are
    `num_batches_tracked` and the running statistics of norms without a
    weight (InstanceNorm with track_running_stats=True, in old checkpoints).
    With `like` (the network's variables or their jax.eval_shape), the result
    must have its structure and shapes, else ValueError names the difference.
    """
    modules: dict[str, dict[str, np.ndarray]] = {}
    for key, value in state_dict.items():
        module, _, tensor = key.rpartition(".")
        if tensor not in _TENSORS or not module:
            raise ValueError(f"{key!r} is not a conv or norm tensor of the reference's networks "
                             f"(expected '<module path>.{{{','.join(_TENSORS)}}}')")
        module = module.removeprefix("module.")  # torch DataParallel's
        modules.setdefault(module, {})[tensor] = np.asarray(value)
    params: dict = {}
    stats: dict = {}
    for module, tensors in modules.items():
        path, weight = flax_path(module), tensors.get("weight")
        if weight is None:
            if "bias" in tensors:
                raise ValueError(f"{module!r} has a bias but no weight")
            continue  # an InstanceNorm's unused running statistics
        if weight.ndim == 4:
            # Conv2d [out, in, kh, kw] -> HWIO; ConvTranspose2d [in, out, kh, kw] -> [kh, kw, out, in].
            leaves = {"kernel": weight.transpose(2, 3, 1, 0)}
            if "bias" in tensors:
                leaves["bias"] = tensors["bias"]
            _put(params, path, leaves)
        elif weight.ndim == 1:
            _put(params, path, {"scale": weight, "bias": tensors["bias"]})
            _put(stats, path, {"mean": tensors["running_mean"], "var": tensors["running_var"]})
        else:
            raise ValueError(f"{module}.weight has shape {weight.shape}: neither a conv's nor a norm's")
    variables = {"params": params}
    if stats:
        variables["batch_stats"] = stats
    if like is not None:
        _check_like(variables, like)
    return variables


def _check_like(variables: dict, like: Any) -> None:
    def shapes(tree):
        flat = jax.tree_util.tree_flatten_with_path(tree)[0]
        return {"/".join(str(getattr(k, "key", k)) for k in path): tuple(np.shape(v)) for path, v in flat}

    got, want = shapes(variables), shapes(dict(like))
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    wrong = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    if missing or extra or wrong:
        raise ValueError("the state dict does not fit the network: "
                         f"missing {missing[:5]}, unexpected {extra[:5]}, "
                         f"shapes differ at {[(k, got[k], want[k]) for k in wrong[:5]]}")
