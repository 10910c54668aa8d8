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

from jaxgan.models import conv_forms, init_noise

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


def _conv2d_same_xla(x: Array, kernel: Array) -> Array:
    return conv_forms.conv2d_xla(x, kernel, "SAME")


def _per_platform(cpu_form: Callable, plain_form: Callable, x: Array, kernel: Array) -> Array:
    """cpu_form(x, kernel) in a program compiled for the CPU, plain_form(x,
    kernel) for any other platform. Decided when the program is lowered, for
    the platform it is lowered for, not by the backend of the process that
    traces it: an ahead-of-time TPU compile from a CPU host (aot_memory.py
    --topology) gets the plain form. Both forms are traced, so shape conditions
    on the CPU form are settled before this."""
    return jax.lax.platform_dependent(x, kernel, cpu=cpu_form, default=plain_form)


def conv2d_same(x: Array, kernel: Array) -> Array:
    """Stride-1 'SAME' convolution, NHWC x HWIO -> NHWC.

    On the CPU its gradients are computed in the forms XLA:CPU runs fast
    (conv_forms.conv2d); elsewhere XLA's own. Same values up to float rounding.
    """
    return _per_platform(conv_forms.conv2d_same, _conv2d_same_xla, x, kernel)


def upsample_conv2d_same(x: Array, kernel: Array) -> Array:
    """conv2d_same(upsample_nearest(x), kernel): BigGAN G's upsampling convolutions.

    On the CPU, 1x1 and 3x3 kernels run on x before it is upsampled
    (conv_forms.upsample_conv2d_same: 16 instead of 36 multiply-adds per input
    pixel for 3x3, 4x fewer for 1x1); elsewhere the plain upsample and
    convolution. Same function up to float rounding.
    """
    if kernel.shape[:2] not in ((1, 1), (3, 3)):
        return conv2d_same(upsample_nearest(x), kernel)
    plain = lambda x, kernel: _conv2d_same_xla(upsample_nearest(x), kernel)
    return _per_platform(conv_forms.upsample_conv2d_same, plain, x, kernel)


def conv2d_same_avg_pool(x: Array, kernel: Array) -> Array:
    """avg_pool2(conv2d_same(x, kernel)): BigGAN D's downsampling convolutions.

    On the CPU, 1x1 and 3x3 kernels on even sizes run fused
    (conv_forms.conv2d_same_avg_pool: 16 instead of 36 multiply-adds per output
    pixel for 3x3, 4x fewer for 1x1); elsewhere the plain convolution and
    pooling. Same function up to float rounding.
    """
    h, w = x.shape[1:3]
    if kernel.shape[:2] not in ((1, 1), (3, 3)) or h % 2 or w % 2:
        return avg_pool2(conv2d_same(x, kernel))
    plain = lambda x, kernel: avg_pool2(_conv2d_same_xla(x, kernel))
    return _per_platform(conv_forms.conv2d_same_avg_pool, plain, x, kernel)


def _explicit_padding(padding, same: Callable) -> tuple[tuple[int, int], tuple[int, int]]:
    """padding as ((top, bottom), (left, right)) ints: 'SAME' as same() gives
    it, explicit padding as is (hashable, for conv_forms.conv2d's custom VJP)."""
    if isinstance(padding, str):
        if padding.upper() != "SAME":
            raise ValueError(f"padding: 'SAME' or ((top, bottom), (left, right)), got {padding!r}")
        return same()
    (top, bottom), (left, right) = padding
    return (int(top), int(bottom)), (int(left), int(right))


def conv_stride2(x: Array, kernel: Array, padding="SAME") -> Array:
    """jax.lax.conv_general_dilated at stride 2, NHWC x HWIO, with 'SAME' (as
    lax pads it: conv_forms.same_padding_stride2) or explicit padding ((top,
    bottom), (left, right)), any kernel and input size. On the CPU as a
    stride-1 convolution of the space-to-depth input (conv_forms.conv_stride2);
    elsewhere XLA's strided convolution. Same function up to float rounding."""
    padding = _explicit_padding(padding, lambda: conv_forms.same_padding_stride2(x.shape, kernel.shape))
    plain = lambda x, kernel: jax.lax.conv_general_dilated(x, kernel, (2, 2), padding,
                                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return _per_platform(lambda x, kernel: conv_forms.conv_stride2(x, kernel, padding), plain, x, kernel)


def conv_transpose_stride2(x: Array, kernel: Array, padding="SAME") -> Array:
    """jax.lax.conv_transpose at stride 2 with transpose_kernel=True (flax
    nn.ConvTranspose's kernel [k, k, out, in]), NHWC, with 'SAME' (lax's:
    conv_forms.transpose_same_padding_stride2, output 2H x 2W) or explicit
    padding as conv_transpose takes it, any kernel and input size. On the CPU
    as one stride-1 convolution per output phase
    (conv_forms.conv_transpose_stride2); elsewhere XLA's transposed
    convolution. Same function up to float rounding."""
    padding = _explicit_padding(padding, lambda: conv_forms.transpose_same_padding_stride2(kernel.shape))
    plain = lambda x, kernel: jax.lax.conv_transpose(x, kernel, (2, 2), padding,
                                                     dimension_numbers=("NHWC", "HWIO", "NHWC"), transpose_kernel=True)
    return _per_platform(lambda x, kernel: conv_forms.conv_transpose_stride2(x, kernel, padding), plain, x, kernel)


def conv_4x4_stride2(x: Array, kernel: Array) -> Array:
    """torch's Conv2d(4, stride 2, padding 1) (DCGAN's downsampling), NHWC x
    HWIO: conv_stride2 with padding 1."""
    return conv_stride2(x, kernel, ((1, 1), (1, 1)))


def conv_transpose_4x4_stride2(x: Array, kernel: Array) -> Array:
    """torch's ConvTranspose2d(4, stride 2, padding 1) (DCGAN's upsampling),
    flax's transposed kernel [4, 4, out, in]: conv_transpose_stride2 with lax's
    padding 4 - 1 - 1 = 2."""
    return conv_transpose_stride2(x, kernel, ((2, 2), (2, 2)))


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
