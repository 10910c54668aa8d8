"""Layers of the BigGAN family: spectral norm, (conditional) batch norm,
SAGAN self-attention and the initialisers BigGAN uses.

Layout conventions (all layers):
- images are NHWC; conv kernels are HWIO, dense kernels are [in, out];
- only trainable weights live in `params`; power-iteration vectors live in
  `spectral` and BatchNorm running statistics in `batch_stats`. Both are
  written only when a layer is called with `train=True` (and the collection is
  passed as mutable); with `train=False` nothing changes;
- parameters and statistics are float32; `dtype` is the compute dtype (e.g.
  bfloat16), and normalisation statistics are always computed in float32.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import init_noise

Array = jax.Array
Dtype = Any
Initializer = Callable[..., Array]


def orthogonal_init(key: Array, shape: tuple[int, ...], dtype: Dtype = jnp.float32) -> Array:
    """flax's `nn.initializers.orthogonal()` (the same values from the same key
    outside `init_noise.one_draw`): the [prod(shape[:-1]), shape[-1]] matrix is
    semi-orthogonal, from the QR decomposition of a standard normal matrix with
    the signs of R's diagonal (Mezzadri 2007), so that it is uniformly distributed."""
    rows, cols = math.prod(shape) // shape[-1], shape[-1]
    q, r = jnp.linalg.qr(init_noise.standard_normal(key, (max(rows, cols), min(rows, cols))))
    q = q * jnp.sign(jnp.diagonal(r))[None, :]
    return (q if rows >= cols else q.T).reshape(shape).astype(dtype)


def normal_init(stddev: float) -> Initializer:
    """flax's `nn.initializers.normal(stddev)`, its noise through `init_noise`."""
    return lambda key, shape, dtype=jnp.float32: (init_noise.standard_normal(key, shape) * stddev).astype(dtype)


def xavier_uniform_init(key: Array, shape: tuple[int, ...], dtype: Dtype = jnp.float32) -> Array:
    """flax's `nn.initializers.xavier_uniform()` (Glorot uniform, fans over the
    last two axes times the receptive field), its noise through `init_noise`."""
    receptive = math.prod(shape[:-2])
    variance = jnp.asarray(2.0 / ((shape[-2] + shape[-1]) * receptive), dtype)  # 1 / mean fan, rounded as flax does
    return init_noise.uniform(key, shape, dtype, -1.0, 1.0) * jnp.sqrt(3 * variance)


def weight_init(style: str) -> Initializer:
    """The weight initialisers of BigGAN-PyTorch's `init_weights`.

    'ortho' (BigGAN default, Saxe et al.), 'N02' (normal, std 0.02: the CIFAR
    scripts) and 'glorot'/'xavier' (uniform). torch's `orthogonal_` makes the
    [out, fan_in] matrix semi-orthogonal; flax's orthogonal on our [fan_in, out]
    kernels makes its transpose semi-orthogonal, which is the same property.
    Their noise goes through `init_noise`, so that a trainer's init can take
    it from one random draw (`init_noise.one_draw`).
    """
    if style == "ortho":
        return orthogonal_init
    if style == "N02":
        return normal_init(0.02)
    if style in ("glorot", "xavier"):
        return xavier_uniform_init
    raise ValueError(f"unknown init style {style!r}: use 'ortho', 'N02' or 'glorot'")


# --------------------------------------------------------------------------
# Spectral normalisation (Miyato et al. 2018)


@dataclasses.dataclass(frozen=True)
class SpectralNorm:
    """Settings of spectral normalisation.

    eps guards the normalisation of the power-iteration vectors:
    BigGAN-PyTorch's launch scripts use 1e-6, DeepMind's BigGAN-deep 1e-4.
    n_iters power iterations run per training call (BigGAN: 1).
    """

    eps: float = 1e-6
    n_iters: int = 1

    def __post_init__(self):
        if self.n_iters < 1:
            raise ValueError(f"SpectralNorm.n_iters must be >= 1, got {self.n_iters}")


def _l2_normalize(x: Array, eps: float) -> Array:
    # torch.nn.functional.normalize: x / max(||x||, eps), as both references do.
    return x / jnp.maximum(jnp.linalg.norm(x), eps)


def power_iteration(matrix: Array, u: Array, n_iters: int, eps: float) -> tuple[Array, Array]:
    """Power iterations on `matrix` [fan_in, out] from `u` [out]; returns (u, v).

    In torch's [out, fan_in] layout W = matrix.T: v = n(W^T u), u = n(W v).
    """
    v = None
    for _ in range(n_iters):
        v = _l2_normalize(matrix @ u, eps)
        u = _l2_normalize(v @ matrix, eps)
    return u, v


def spectral_norm_estimate(matrix: Array, u: Array, v: Array) -> Array:
    """sigma = u^T W v, the estimate of the largest singular value."""
    return v @ matrix @ u


def spectral_normalize(module: nn.Module, matrix: Array, sn: SpectralNorm, train: bool) -> Array:
    """Returns matrix / sigma, keeping `u` and `v` in the `spectral` collection.

    `matrix` is the float32 kernel viewed as [fan_in, out]. With train=True,
    `sn.n_iters` power iterations run from the stored `u` and the new `u`, `v`
    are stored (torch's and BigGAN-PyTorch's training behaviour). With
    train=False sigma = u^T W v from the stored vectors and nothing is written
    (torch's eval behaviour, which is also what lets imported torch buffers
    reproduce torch's outputs exactly). Gradients flow through W in sigma but
    not through u and v. The raw kernel in `params` is never overwritten.
    """
    eps = sn.eps

    def init_u():
        u0 = init_noise.standard_normal(module.make_rng("params"), (matrix.shape[1],))
        # One iteration at init so that u and v agree with W from the start:
        # a freshly initialised model in eval mode then has a sane sigma.
        u, _ = power_iteration(matrix, _l2_normalize(u0, eps), 1, eps)
        return u

    u_var = module.variable("spectral", "u", init_u)
    v_var = module.variable("spectral", "v", lambda: _l2_normalize(matrix @ u_var.value, eps))
    u, v = u_var.value, v_var.value
    if train and not module.is_initializing():
        u, v = power_iteration(jax.lax.stop_gradient(matrix), u, sn.n_iters, eps)
        u_var.value, v_var.value = u, v
    sigma = spectral_norm_estimate(matrix, jax.lax.stop_gradient(u), jax.lax.stop_gradient(v))
    return matrix / sigma


def _add_bias(layer: nn.Module, y: Array) -> Array:
    if not layer.use_bias:
        return y
    return y + layer.param("bias", nn.initializers.zeros, (layer.features,), jnp.float32).astype(layer.dtype)


class SNDense(nn.Module):
    """Dense layer, spectrally normalised unless `sn` is None."""

    features: int
    use_bias: bool = True
    sn: SpectralNorm | None = SpectralNorm()
    kernel_init: Initializer = orthogonal_init
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features), jnp.float32)
        if self.sn is not None:
            kernel = spectral_normalize(self, kernel, self.sn, train)
        y = jnp.dot(x.astype(self.dtype), kernel.astype(self.dtype))
        return _add_bias(self, y)


class SNConv(nn.Module):
    """2-D convolution (stride 1, 'SAME' padding), spectrally normalised unless `sn` is None.

    For odd kernels 'SAME' equals PyTorch's padding=k//2, as BigGAN uses.
    With `upsample`, x is 2x nearest-upsampled first (upsample_conv2d_same);
    with `downsample`, the output is 2x2 average-pooled (conv2d_same_avg_pool).
    """

    features: int
    kernel_size: tuple[int, int] = (3, 3)
    use_bias: bool = True
    sn: SpectralNorm | None = SpectralNorm()
    kernel_init: Initializer = orthogonal_init
    dtype: Dtype = jnp.float32
    upsample: bool = False
    downsample: bool = False

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        shape = (*self.kernel_size, x.shape[-1], self.features)
        kernel = self.param("kernel", self.kernel_init, shape, jnp.float32)
        if self.sn is not None:
            kernel = spectral_normalize(self, kernel.reshape(-1, self.features), self.sn, train).reshape(shape)
        if self.upsample and self.downsample:
            raise ValueError("SNConv: upsample and downsample are exclusive")
        conv = upsample_conv2d_same if self.upsample else conv2d_same_avg_pool if self.downsample else conv2d_same
        # Upsampling and pooling commute with the bias: it is added after either way.
        y = conv(x.astype(self.dtype), kernel.astype(self.dtype))
        return _add_bias(self, y)


# --------------------------------------------------------------------------
# Convolution


def _same_padding(kernel_shape) -> tuple[tuple[int, int], tuple[int, int]]:
    # 'SAME' for stride 1, as XLA pads it: the odd extra row/column goes last.
    return tuple(((k - 1) // 2, k // 2) for k in kernel_shape[:2])


def _conv2d_xla(x: Array, kernel: Array, padding) -> Array:
    return jax.lax.conv_general_dilated(x, kernel, window_strides=(1, 1), padding=padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _conv2d_same_xla(x: Array, kernel: Array) -> Array:
    return _conv2d_xla(x, kernel, "SAME")


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _conv2d_cpu(x: Array, kernel: Array, padding) -> Array:
    """Stride-1 convolution with explicit padding ((top, bottom), (left, right))."""
    return _conv2d_xla(x, kernel, padding)


def _conv2d_cpu_fwd(x, kernel, padding):
    return _conv2d_xla(x, kernel, padding), (x, kernel)


def _taps_in_a_loop() -> bool:
    """Whether the CPU kernel gradient loops over its taps: on one device.
    With several CPU devices (the test suite's 8 fake ones) the loop's matrix
    products run as parallel Eigen contractions whose completions resume a
    device's program on a shared pool worker; when that program then waits in
    a cross-device all-reduce it holds the worker, and with 2 cores both
    workers were held and XLA aborted the all-reduce after 40 s."""
    return jax.device_count() == 1


def _conv2d_cpu_bwd(padding, res, dy):
    x, kernel = res
    kh, kw = kernel.shape[:2]
    (top, bottom), (left, right) = padding
    # dx: a plain forward convolution of dy with the flipped, in/out-swapped
    # kernel (in HWIO layout), which XLA:CPU runs through its fast convolution
    # path; its own input-gradient convolution (kernel in HWOI) is ~5x slower.
    flipped = jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)
    dx = _conv2d_xla(dy, flipped, ((kh - 1 - top, kh - 1 - bottom), (kw - 1 - left, kw - 1 - right)))
    # dW[i, j] = sum over n, h, w of x_padded[n, h+i, w+j, :]^T dy[n, h, w, :]:
    # one matrix product per kernel tap instead of XLA:CPU's weight-gradient
    # convolution, which is 3-5x slower than its forward convolution at large
    # spatial sizes (e.g. 16x64x64x192, 3x3: 3.5-7.8 s vs 0.7 s forward).
    xp = jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    n, h, w, c = x.shape[0], *dy.shape[1:3], x.shape[3]  # the output's height and width
    # dy^T is transposed once and is the left operand of every product: XLA's
    # CPU dots want the contracted axis last on the left, so putting the
    # (9 different) x windows on the right avoids 9 transposed copies.
    dy_t = dy.reshape(n * h * w, -1).T

    def tap(t):
        window = jax.lax.dynamic_slice(xp, (0, t // kw, t % kw, 0), (n, h, w, c))
        return jnp.matmul(dy_t, window.reshape(n * h * w, c), preferred_element_type=jnp.float32)

    if kh * kw > 1 and _taps_in_a_loop():
        # The taps run in a loop so that one window copy is live at a time:
        # unrolled, XLA:CPU copies all nine windows before the products (an
        # optimization barrier does not stop it), and BigGAN-deep 256's step
        # at batch 8 needed 31 GiB of temporaries instead of 15.
        taps = jax.lax.map(tap, jnp.arange(kh * kw))
    else:
        taps = jnp.stack([tap(t) for t in range(kh * kw)])
    dkernel = taps.reshape(kh, kw, -1, c).transpose(0, 1, 3, 2).astype(kernel.dtype)
    return dx, dkernel


_conv2d_cpu.defvjp(_conv2d_cpu_fwd, _conv2d_cpu_bwd)


def _conv2d_same_cpu(x: Array, kernel: Array) -> Array:
    return _conv2d_cpu(x, kernel, _same_padding(kernel.shape))


def conv2d_same(x: Array, kernel: Array) -> Array:
    """Stride-1 'SAME' convolution, NHWC x HWIO -> NHWC.

    On the CPU backend a custom VJP computes the input gradient as a forward
    convolution and the kernel gradient as per-tap matrix products: same values
    up to float rounding, and a BigGAN 128 step goes from over 15 minutes to
    53 s on 2 cores. Accelerators use XLA's own convolution gradients.
    """
    if jax.default_backend() == "cpu":
        return _conv2d_same_cpu(x, kernel)
    return _conv2d_same_xla(x, kernel)


def _fold_3x3_for_upsampling(kernel: Array, axis: int, phase: int) -> Array:
    """The 2 taps along `axis` that output phase 0 or 1 of a 3-tap kernel
    applied to a nearest-upsampled input sees in the original input: phase 0
    reads rows (i-1, i, i) with taps (0, 1, 2), phase 1 rows (i, i, i+1)."""
    k0, k1, k2 = (jnp.take(kernel, t, axis=axis) for t in range(3))
    return jnp.stack([k0, k1 + k2] if phase == 0 else [k0 + k1, k2], axis=axis)


def upsample_conv2d_same(x: Array, kernel: Array) -> Array:
    """conv2d_same(upsample_nearest(x), kernel): BigGAN G's upsampling convolutions.

    On the CPU a 3x3 kernel runs as four 2x2 convolutions on x, one per output
    phase (row and column parity), with the 3x3 taps that read the same input
    pixel summed: 16 instead of 36 multiply-adds per input pixel and output
    channel, and no upsampled copy of x. A 1x1 kernel is applied before
    upsampling (4x fewer). Same function up to float rounding; accelerators keep
    the plain upsample and convolution.
    """
    kh, kw = kernel.shape[:2]
    if jax.default_backend() != "cpu" or (kh, kw) not in ((1, 1), (3, 3)):
        return conv2d_same(upsample_nearest(x), kernel)
    if (kh, kw) == (1, 1):
        return upsample_nearest(conv2d_same(x, kernel))
    n, h, w, _ = x.shape
    pads = ((1, 0), (0, 1))  # phase 0 reads rows i-1 and i, phase 1 rows i and i+1
    rows = []
    for a in (0, 1):
        k_rows = _fold_3x3_for_upsampling(kernel, 0, a)
        cols = [_conv2d_cpu(x, _fold_3x3_for_upsampling(k_rows, 1, b), (pads[a], pads[b])) for b in (0, 1)]
        rows.append(jnp.stack(cols, axis=3))  # [N, H, W, 2 (column phase), C]
    # y[n, 2i + a, 2j + b] = phase (a, b) at [n, i, j]
    return jnp.stack(rows, axis=2).reshape(n, 2 * h, 2 * w, -1)


def conv2d_same_avg_pool(x: Array, kernel: Array) -> Array:
    """avg_pool2(conv2d_same(x, kernel)): BigGAN D's downsampling convolutions.

    On the CPU a 3x3 kernel runs as one stride-1 2x2 convolution on x's
    2x2 space-to-depth rearrangement (4x the channels), with the 3x3 kernel
    box-filtered into the equivalent 4x4 stride-2 kernel: 16 instead of 36
    multiply-adds per output pixel and channel pair, at a quarter of the
    pixels. A 1x1 kernel is applied after pooling (4x fewer). Same function up
    to float rounding; accelerators keep the plain convolution and pooling.
    """
    kh, kw = kernel.shape[:2]
    n, h, w, c = x.shape
    if jax.default_backend() != "cpu" or (kh, kw) not in ((1, 1), (3, 3)) or h % 2 or w % 2:
        return avg_pool2(conv2d_same(x, kernel))
    if (kh, kw) == (1, 1):
        return conv2d_same(avg_pool2(x), kernel)
    # out[i, j] = 1/4 sum over a, b in {0, 1} of conv3x3(x)[2i + a, 2j + b]: a 4x4
    # kernel at stride 2 over x padded by 1, whose taps are the box-summed 3x3 taps.
    shifted = [jnp.pad(kernel, ((a, 1 - a), (b, 1 - b), (0, 0), (0, 0))) for a in (0, 1) for b in (0, 1)]
    k4 = sum(shifted) / 4
    # Stride 2 as stride 1 on 2x2 blocks: pixel (2p + a, 2q + b) of the padded x
    # is channel block (a, b) of pixel (p, q), and so is tap (2p' + a, 2q' + b).
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    blocks = xp.reshape(n, h // 2 + 1, 2, w // 2 + 1, 2, c).transpose(0, 1, 3, 2, 4, 5)
    blocks = blocks.reshape(n, h // 2 + 1, w // 2 + 1, 4 * c)
    k2 = k4.reshape(2, 2, 2, 2, c, -1).transpose(0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * c, -1)
    # A 'SAME'-shaped convolution (padded after) and a slice: XLA:CPU's fast
    # convolution path wants the output as large as the input; the unpadded
    # ('VALID') one ran at half the speed (394 vs 191 ms at 16x128x128x96).
    return _conv2d_cpu(blocks, k2, ((0, 1), (0, 1)))[:, :h // 2, :w // 2]


def lookup(table: Array, labels: Array) -> Array:
    """Rows of `table` for integer labels [N], or labels @ table for float
    label vectors [N, num_classes] (one-hot, soft or interpolated classes)."""
    if jnp.issubdtype(labels.dtype, jnp.integer):
        return jnp.take(table, labels, axis=0)
    return labels @ table.astype(labels.dtype)


class SNEmbed(nn.Module):
    """Class embedding, spectrally normalised unless `sn` is None.

    As in BigGAN-PyTorch's SNEmbedding, the power iteration's `u` has one entry
    per class (torch's weight [num_embeddings, dim] is W).
    """

    num_embeddings: int
    features: int
    sn: SpectralNorm | None = SpectralNorm()
    embedding_init: Initializer = orthogonal_init
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, labels: Array, train: bool = False) -> Array:
        table = self.param("embedding", self.embedding_init, (self.num_embeddings, self.features), jnp.float32)
        if self.sn is not None:
            table = spectral_normalize(self, table.T, self.sn, train).T
        return lookup(table, labels).astype(self.dtype)


# --------------------------------------------------------------------------
# Batch normalisation


def _normalize(module: nn.Module, x: Array, train: bool, momentum: float, eps: float) -> Array:
    """(x - mean) / sqrt(var + eps) over N, H, W in float32, with running
    statistics `mean`, `var` in `batch_stats`.

    With train=True the batch statistics are used and the running ones updated
    as torch does: running = momentum * running + (1 - momentum) * batch, with
    the unbiased batch variance (momentum 0.9 here is torch's momentum=0.1).
    Under jit with the batch sharded over devices the mean is global, so this
    is cross-replica BatchNorm with no extra code.
    """
    features = x.shape[-1]
    ra_mean = module.variable("batch_stats", "mean", lambda: jnp.zeros((features,), jnp.float32))
    ra_var = module.variable("batch_stats", "var", lambda: jnp.ones((features,), jnp.float32))
    x32 = x.astype(jnp.float32)
    if train:
        axes = tuple(range(x.ndim - 1))
        mean = jnp.mean(x32, axes)
        var = jnp.mean(jnp.square(x32 - mean), axes)
        if not module.is_initializing():
            n = x.size // features
            unbiased = var * (n / max(n - 1, 1))
            ra_mean.value = momentum * ra_mean.value + (1.0 - momentum) * mean
            ra_var.value = momentum * ra_var.value + (1.0 - momentum) * unbiased
    else:
        mean, var = ra_mean.value, ra_var.value
    return (x32 - mean) * jax.lax.rsqrt(var + eps)


class BatchNorm(nn.Module):
    """BatchNorm with a learned per-channel gain and bias (BigGAN's output BN)."""

    momentum: float = 0.9
    eps: float = 1e-5
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        features = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (features,), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (features,), jnp.float32)
        return (_normalize(self, x, train, self.momentum, self.eps) * scale + bias).astype(self.dtype)


class ConditionalBatchNorm(nn.Module):
    """BatchNorm whose gain and bias are functions of a condition y:
    out = norm(x) * (1 + gain(y)) + bias(y).

    The `1 +` centres the gain at identity (BigGAN-PyTorch's ccbn and DeepMind's
    BigGAN-deep; compare_gan omits it, which is a bug not copied here).

    `num_classes=None`: y is a condition vector [N, d] (shared embedding, with z
    chunks in BigGAN; z with the embedding in BigGAN-deep) mapped by bias-free
    dense layers, spectrally normalised if `sn` is set. `num_classes=K`: y holds
    class labels and gain/bias are per-class embeddings without SN (BigGAN
    without a shared embedding, e.g. the CIFAR model). The tiny gain/bias maps
    run in float32 whatever `dtype` is.
    """

    num_classes: int | None = None
    momentum: float = 0.9
    eps: float = 1e-5
    sn: SpectralNorm | None = SpectralNorm()
    kernel_init: Initializer = orthogonal_init
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: Array, y: Array, train: bool = False) -> Array:
        features = x.shape[-1]
        if self.num_classes is None:
            dense = lambda name: SNDense(features, use_bias=False, sn=self.sn, kernel_init=self.kernel_init, name=name)
            gain, bias = dense("gain")(y, train), dense("bias")(y, train)
        else:
            embed = lambda name: SNEmbed(self.num_classes, features, sn=None, embedding_init=self.kernel_init, name=name)
            gain, bias = embed("gain")(y), embed("bias")(y)
        out = _normalize(self, x, train, self.momentum, self.eps)
        out = out * (1.0 + gain[:, None, None, :].astype(jnp.float32)) + bias[:, None, None, :].astype(jnp.float32)
        return out.astype(self.dtype)


# --------------------------------------------------------------------------
# SAGAN self-attention (Zhang et al. 2019)


class SelfAttention(nn.Module):
    """Non-local block of SAGAN as used by BigGAN.

    theta, phi (C/8) and g (C/2) are bias-free 1x1 convs; phi and g are 2x2
    max-pooled; attention is a softmax over the pooled positions; a 1x1 conv
    maps back to C channels and the result is added scaled by `gamma`, which
    starts at 0 so the block starts as the identity.
    """

    sn: SpectralNorm | None = SpectralNorm()
    kernel_init: Initializer = orthogonal_init
    dtype: Dtype = jnp.float32

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        n, h, w, c = x.shape
        if c % 8 or h % 2 or w % 2:
            raise ValueError(f"SelfAttention needs channels divisible by 8 and even H, W; got {x.shape}")

        def conv(features, name):
            return SNConv(features, (1, 1), use_bias=False, sn=self.sn, kernel_init=self.kernel_init,
                          dtype=self.dtype, name=name)

        pool = lambda t: nn.max_pool(t, (2, 2), strides=(2, 2))
        theta = conv(c // 8, "theta")(x, train).reshape(n, h * w, c // 8)
        phi = pool(conv(c // 8, "phi")(x, train)).reshape(n, h * w // 4, c // 8)
        g = pool(conv(c // 2, "g")(x, train)).reshape(n, h * w // 4, c // 2)
        logits = jnp.einsum("nqc,nkc->nqk", theta, phi, preferred_element_type=jnp.float32)
        beta = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        o = jnp.einsum("nqk,nkc->nqc", beta, g).reshape(n, h, w, c // 2)
        o = conv(c, "o")(o, train)
        gamma = self.param("gamma", nn.initializers.zeros, (), jnp.float32)
        return x + gamma.astype(self.dtype) * o


# --------------------------------------------------------------------------
# Resampling


def upsample_nearest(x: Array) -> Array:
    """2x nearest-neighbour upsampling (torch F.interpolate(scale_factor=2))."""
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def avg_pool2(x: Array) -> Array:
    """2x2 average pooling with stride 2 (torch nn.AvgPool2d(2))."""
    return nn.avg_pool(x, (2, 2), strides=(2, 2))


# The models' nonlinearity (StudioGAN's g_act_fn/d_act_fn choices, plus SiLU).
# ReLU is the papers' and BigGAN-PyTorch's; the smooth ones also serve where a
# gradient must be a continuous function of the weights and inputs: ReLU's
# gradient jumps at 0, so a rounding-size change that moves a pre-activation
# across 0 changes a gradient by that unit's whole share (tests/test_train.py).
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": nn.relu,
    "elu": nn.elu,
    "gelu": functools.partial(nn.gelu, approximate=False),  # torch.nn.GELU's default, the exact erf form
    "silu": nn.silu,
}


@dataclasses.dataclass(frozen=True)
class LayerSettings:
    """How a model builds its layers: SN, init, compute dtype, BN settings and
    the nonlinearity.

    Models hand one of these to their blocks so that every layer is built the
    same way; call its methods inside a compact method, with a `name`.
    """

    sn: SpectralNorm | None = SpectralNorm()
    init: str = "ortho"
    dtype: Dtype = jnp.float32
    bn_eps: float = 1e-5
    bn_momentum: float = 0.9
    activation: str = "relu"  # a key of ACTIVATIONS

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}: use one of {sorted(ACTIVATIONS)}")

    def act(self, x: Array) -> Array:
        return ACTIVATIONS[self.activation](x)

    def conv(self, features: int, kernel_size=(3, 3), **kw) -> SNConv:
        return SNConv(features, kernel_size, sn=self.sn, kernel_init=weight_init(self.init), dtype=self.dtype, **kw)

    def dense(self, features: int, **kw) -> SNDense:
        return SNDense(features, sn=self.sn, kernel_init=weight_init(self.init), dtype=self.dtype, **kw)

    def embed(self, num_embeddings: int, features: int, spectral: bool = True, **kw) -> SNEmbed:
        return SNEmbed(num_embeddings, features, sn=self.sn if spectral else None,
                       embedding_init=weight_init(self.init), dtype=self.dtype, **kw)

    def attention(self, **kw) -> SelfAttention:
        return SelfAttention(sn=self.sn, kernel_init=weight_init(self.init), dtype=self.dtype, **kw)

    def batch_norm(self, **kw) -> BatchNorm:
        return BatchNorm(self.bn_momentum, self.bn_eps, self.dtype, **kw)

    def conditional_batch_norm(self, num_classes: int | None = None, **kw) -> ConditionalBatchNorm:
        return ConditionalBatchNorm(num_classes, self.bn_momentum, self.bn_eps, self.sn,
                                    weight_init(self.init), self.dtype, **kw)


def count_params(params: Any) -> int:
    """Number of scalars in a params pytree (torch's sum(p.numel()))."""
    return sum(math.prod(p.shape) for p in jax.tree_util.tree_leaves(params))
