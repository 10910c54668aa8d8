"""The networks of WGAN-GP (Gulrajani et al. 2017, "Improved Training of
Wasserstein GANs"), as in the authors' TensorFlow code (igul222/
improved_wgan_training): gan_mnist.py, gan_cifar_resnet.py and gan_64x64.py.

Reimplemented from the reference: the same layers, widths, kernel sizes,
biases and (uniform) initialisations, so that the parameter counts below are
the reference's and its variables map one to one onto ours. What differs, and
why:

- Layout. The reference is NCHW; ours is NHWC with HWIO kernels. Where the
  reference reshapes between a Linear layer and a 4x4 feature map, we reshape
  in its NCHW order and transpose, so that the Linear kernels' rows are in the
  reference's order (a checkpoint's `.W` imports as is).
- Image range. Images are NHWC float32 in [-1, 1]. The CIFAR and 64x64 models
  use that range already (tanh). gan_mnist.py trains on [0, 1] data with a
  sigmoid output; our MNIST generator keeps the sigmoid and returns
  2*sigmoid(x) - 1: the same network, on our range. The MNIST critic is the
  reference's network unchanged, fed [-1, 1] images.
- BatchNorm. The reference's generators call tflib's fused BatchNorm without
  `is_training`, so it always normalises with the statistics of the current
  batch (epsilon 1e-5, biased variance) and never updates or uses its moving
  averages. We use flax's nn.BatchNorm(use_running_average=not train,
  epsilon=1e-5): with train=True (the default) it is the reference exactly,
  sampling included (the reference also samples with batch statistics; pass
  `mutable=['batch_stats']`). train=False uses running averages, which the
  reference does not have; they are exponential with momentum 0.9 (our choice,
  as jaxgan's BigGAN uses; tflib's only update rule, a cumulative mean over
  `stats_iter`, is not active in these scripts). Under jit with the batch
  sharded the statistics are over the global batch; gan_cifar_resnet.py with
  its 2 GPUs normalised each GPU's half batch on its own.
- Convolutions. Our Conv and Deconv compute flax's nn.Conv and
  nn.ConvTranspose(transpose_kernel=True) with 'SAME' padding, with their
  parameters ('kernel', 'bias'), through jaxgan.models.layers: a program
  compiled for a CPU runs them (and their gradients) as stride-1
  convolutions that XLA:CPU runs fast (jaxgan.models.conv_forms), any other
  platform XLA's own; the same function up to float rounding.
- Initialisation. tflib draws U(-sqrt(3) s, sqrt(3) s) in numpy (float64, cast
  to float32); we draw the same distribution with jax (`init_noise.uniform`).
  Biases are zero, normalisation scales one and offsets zero, as tflib's.

tflib's initialisers (standard deviation s; fans of a k x k kernel):
  Linear 'glorot' (the default, used by every Linear here): s = sqrt(2 / (in + out))
  Linear 'he': s = sqrt(2 / in)
  Conv2D: fan_in = in k^2, fan_out = out k^2 / stride^2,
          s = sqrt(4 / (fan_in + fan_out)) (he_init=True, the default)
          or sqrt(2 / (fan_in + fan_out)) (he_init=False)
  Deconv2D (stride 2): fan_in = in k^2 / 4, fan_out = out k^2, s as Conv2D's.
All times `gain` (1 everywhere in these models).

Parameter counts (BatchNorm/LayerNorm scale and offset count, running
statistics do not). Shapes are NHWC activations after the layer; "k" kernel
size, "+b" with bias, "he"/"glorot" the init. Names in brackets are the
reference's.

WGANGPMNISTGenerator(dim=64): 1,554,177
  Input    [Generator.Input] Linear 128->4096 glorot +b  -> [B,4,4,256], ReLU   528,384
  Deconv2  [Generator.2] Deconv 256->128 k5 s2 +b   -> [B,8,8,128], ReLU, crop 7x7  819,328
  Deconv3  [Generator.3] Deconv 128->64 k5 s2 +b    -> [B,14,14,64], ReLU           204,864
  Deconv5  [Generator.5] Deconv 64->1 k5 s2 +b      -> [B,28,28,1], 2 sigmoid - 1     1,601

WGANGPMNISTCritic(dim=64): 1,030,145
  Conv1   [Discriminator.1] Conv 1->64 k5 s2 he +b   -> [B,14,14,64], LReLU(0.2)      1,664
  Conv2   [Discriminator.2] Conv 64->128 k5 s2 he +b -> [B,7,7,128], LReLU          204,928
  Conv3   [Discriminator.3] Conv 128->256 k5 s2 he +b -> [B,4,4,256], LReLU         819,456
  Output  [Discriminator.Output] Linear 4096->1 glorot +b -> [B]                      4,097

WGANGPResNet32Generator(dim=128): 1,204,483
  Input    Linear 128->2048 glorot +b -> [B,4,4,128]                               264,192
  Res1..3  ResidualBlock up 128->128, each 312,192 (-> 8, 16, 32 px)               936,576
             Shortcut UpsampleConv 1x1 128->128 glorot(he_init=False) +b  16,512
             N1 BatchNorm(128) 256, ReLU
             Conv1 UpsampleConv 3x3 128->128 he +b                       147,584
             N2 BatchNorm(128) 256, ReLU
             Conv2 Conv 3x3 128->128 he +b                                147,584
  OutputN  BatchNorm(128), ReLU                                                        256
  Output   Conv 3x3 128->3 he_init=False +b, tanh -> [B,32,32,3]                     3,459

WGANGPResNet32Critic(dim=128): 1,053,825
  Res1  OptimizedResBlockDisc1 3->128 (-> 16 px)                                   151,680
          Shortcut MeanPoolConv 1x1 3->128 he_init=False +b      512
          Conv1 Conv 3x3 3->128 he +b, ReLU                     3,584
          Conv2 ConvMeanPool 3x3 128->128 he +b               147,584
  Res2  ResidualBlock down 128->128 (-> 8 px), no normalisation                    311,680
          Shortcut ConvMeanPool 1x1 128->128 he_init=False +b 16,512
          ReLU, Conv1 Conv 3x3 128->128 he +b                147,584
          ReLU, Conv2 ConvMeanPool 3x3 128->128 he +b        147,584
  Res3, Res4  ResidualBlock 128->128 (identity shortcut), each 295,168            590,336
  ReLU, mean over H, W -> [B,128]
  Output  Linear 128->1 glorot +b -> [B]                                               129

WGANGPResNet64Generator(dim=64): 8,540,483
  Input   Linear 128->8192 glorot +b -> [B,4,4,512]                              1,056,768
  Res1..4 ResidualBlock up (BN1, ReLU, Conv1 UpsampleConv 3x3 no bias, BN2, ReLU,
          Conv2 3x3 +b; Shortcut UpsampleConv 1x1 he_init=False +b):
    Res1 512->512 (-> 8 px):  262,656 + 1,024 + 2,359,296 + 1,024 + 2,359,808 = 4,983,808
    Res2 512->256 (-> 16 px): 131,328 + 1,024 + 1,179,648 +   512 +   590,080 = 1,902,592
    Res3 256->128 (-> 32 px):  32,896 +   512 +   294,912 +   256 +   147,584 =   476,160
    Res4 128->64 (-> 64 px):    8,256 +   256 +    73,728 +   128 +    36,928 =   119,296
  OutputN BatchNorm(64), ReLU                                                          128
  Output  Conv 3x3 64->3 he +b, tanh -> [B,64,64,3]                                  1,731

WGANGPResNet64Critic(dim=64): 7,491,841
  Input   Conv 3x3 3->64 he_init=False +b -> [B,64,64,64]                            1,792
  Res1..4 ResidualBlock down (BN1 = LayerNorm, ReLU, Conv1 3x3 in->in no bias,
          BN2 = LayerNorm, ReLU, Conv2 ConvMeanPool 3x3 in->out +b;
          Shortcut MeanPoolConv 1x1 he_init=False +b; LayerNorm offset/scale [C]):
    Res1 64->128 (-> 32 px):    8,320 +   128 +    36,864 +   128 +    73,856 =   119,296
    Res2 128->256 (-> 16 px):  33,024 +   256 +   147,456 +   256 +   295,168 =   476,160
    Res3 256->512 (-> 8 px):  131,584 +   512 +   589,824 +   512 + 1,180,160 = 1,902,592
    Res4 512->512 (-> 4 px):  262,656 + 1,024 + 2,359,296 + 1,024 + 2,359,808 = 4,983,808
  Output  Linear 8192->1 glorot +b (NCHW flatten) -> [B]                             8,193
"""

from __future__ import annotations

import math
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import init_noise, layers

Array = jax.Array
Initializer = Callable[..., Array]

Z_DIM = 128  # the noise size of all three reference scripts
BN_EPS = 1e-5  # tflib's fused batch norm and its layer norm
BN_MOMENTUM = 0.9  # running averages only; the reference never uses them (module docstring)


# --------------------------------------------------------------------------
# tflib's initialisers


def tflib_uniform(stdev: float, key: Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Array:
    """U(-sqrt(3) stdev, sqrt(3) stdev): tflib's `uniform(stdev, size)`, whose
    standard deviation is `stdev`."""
    bound = stdev * math.sqrt(3.0)
    return init_noise.uniform(key, shape, dtype, -bound, bound)


def linear_stdev(fan_in: int, fan_out: int, initialization: str = "glorot") -> float:
    """The standard deviation of tflib's Linear init. `None` in tflib means 'glorot'
    (its 'orthogonal' branch for square matrices is unreachable with None)."""
    if initialization == "glorot":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if initialization == "he":
        return math.sqrt(2.0 / fan_in)
    if initialization == "lecun":
        return math.sqrt(1.0 / fan_in)
    if initialization == "glorot_he":
        return math.sqrt(4.0 / (fan_in + fan_out))
    raise ValueError(f"unsupported tflib Linear initialization {initialization!r}")


def conv_stdev(in_dim: int, out_dim: int, kernel_area: int, stride: int = 1, he_init: bool = True,
               transposed: bool = False) -> float:
    """The standard deviation of tflib's Conv2D (or, `transposed`, Deconv2D) init.

    The strided side's fan is divided by stride^2: a stride-s convolution's
    output sees each input pixel through k^2 / s^2 taps on average (Conv2D
    divides fan_out), and a stride-s transposed one is fed by k^2 / s^2 taps
    per output pixel (Deconv2D divides fan_in).
    """
    fan_in = in_dim * kernel_area
    fan_out = out_dim * kernel_area
    if transposed:
        fan_in /= stride**2
    else:
        fan_out /= stride**2
    return math.sqrt((4.0 if he_init else 2.0) / (fan_in + fan_out))


def linear_init(initialization: str = "glorot", gain: float = 1.0) -> Initializer:
    """flax initialiser of a [in, out] Dense kernel as tflib's Linear."""

    def init(key, shape, dtype=jnp.float32):
        return tflib_uniform(linear_stdev(shape[0], shape[1], initialization) * gain, key, shape, dtype)

    return init


def conv_init(he_init: bool = True, stride: int = 1, gain: float = 1.0) -> Initializer:
    """flax initialiser of a [k, k, in, out] Conv kernel as tflib's Conv2D."""

    def init(key, shape, dtype=jnp.float32):
        kh, kw, in_dim, out_dim = shape
        return tflib_uniform(conv_stdev(in_dim, out_dim, kh * kw, stride, he_init) * gain, key, shape, dtype)

    return init


def deconv_init(he_init: bool = True, stride: int = 2, gain: float = 1.0) -> Initializer:
    """flax initialiser of a [k, k, out, in] ConvTranspose kernel (flax's
    `transpose_kernel=True` layout, which is tflib's Deconv2D filter layout)."""

    def init(key, shape, dtype=jnp.float32):
        kh, kw, out_dim, in_dim = shape
        stdev = conv_stdev(in_dim, out_dim, kh * kw, stride, he_init, transposed=True)
        return tflib_uniform(stdev * gain, key, shape, dtype)

    return init


# --------------------------------------------------------------------------
# tflib's layers


def dense(features: int, initialization: str = "glorot", name: str | None = None) -> nn.Dense:
    """tflib Linear (with bias): y = x W + b."""
    return nn.Dense(features, kernel_init=linear_init(initialization), bias_init=nn.initializers.zeros, name=name)


class Conv(nn.Module):
    """tflib Conv2D, as flax's nn.Conv(padding='SAME', strides=stride) computes
    it (lax's 'SAME' pads as TF's, the extra pixel after) and with its
    parameters ('kernel' [k, k, in, out], 'bias' [out]), through
    layers.conv2d_same (stride 1) and layers.conv_stride2 (stride 2): the CPU's
    fast forms when compiled for a CPU, XLA's convolutions elsewhere."""

    features: int
    kernel_size: int
    stride: int = 1
    use_bias: bool = True
    kernel_init: Initializer = conv_init()

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if self.stride not in (1, 2):
            raise ValueError(f"Conv: stride 1 or 2, got {self.stride}")
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, x.shape[-1], self.features), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32) if self.use_bias else None
        x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias)  # as nn.Conv
        y = layers.conv2d_same(x, kernel) if self.stride == 1 else layers.conv_stride2(x, kernel, "SAME")
        return y if bias is None else y + bias


class Deconv(nn.Module):
    """tflib Deconv2D: TF's conv2d_transpose, stride 2, 'SAME', output 2H x 2W.

    TF's conv2d_transpose is the gradient of a strided conv2d with respect to
    its input; flax's nn.ConvTranspose(strides=2, padding='SAME') is that with
    `transpose_kernel=True` (the kernel is then [k, k, out, in] and flipped),
    and lax's 'SAME' padding for it gives TF's output size and alignment. This
    computes that function with its parameters ('kernel' [k, k, out, in],
    'bias' [out]) through layers.conv_transpose_stride2: the CPU's fast form
    when compiled for a CPU, XLA's transposed convolution elsewhere.
    """

    features: int
    kernel_size: int
    kernel_init: Initializer = deconv_init()

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, self.features, x.shape[-1]), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        x, kernel, bias = nn.dtypes.promote_dtype(x, kernel, bias)  # as nn.ConvTranspose
        return layers.conv_transpose_stride2(x, kernel, "SAME") + bias


def conv(features: int, kernel_size: int, *, stride: int = 1, he_init: bool = True, use_bias: bool = True,
         name: str | None = None) -> Conv:
    """tflib Conv2D: 'SAME' padding, stride `stride` (1 or 2)."""
    return Conv(features, kernel_size, stride, use_bias, conv_init(he_init, stride), name=name)


def deconv(features: int, kernel_size: int, *, he_init: bool = True, name: str | None = None) -> Deconv:
    """tflib Deconv2D: stride 2, 'SAME', output 2H x 2W."""
    return Deconv(features, kernel_size, deconv_init(he_init), name=name)


def batch_norm(name: str, train: bool) -> nn.BatchNorm:
    """tflib's fused Batchnorm over N, H, W (see the module docstring on train=False)."""
    return nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, epsilon=BN_EPS,
                        use_fast_variance=False, name=name)


def layer_norm(name: str) -> nn.LayerNorm:
    """tflib's Layernorm over [C, H, W] of each sample, with a per-channel offset
    and scale (its `n_neurons` is the size of the first normalised axis, C)."""
    return nn.LayerNorm(epsilon=BN_EPS, reduction_axes=(1, 2, 3), feature_axes=-1, use_fast_variance=False,
                        name=name)


def leaky_relu(x: Array, alpha: float = 0.2) -> Array:
    return jnp.maximum(alpha * x, x)


def mean_pool(x: Array) -> Array:
    """2x2 mean pooling as the reference writes it: the mean of the four
    interleaved sub-grids, in its order of summation."""
    return (x[:, ::2, ::2] + x[:, 1::2, ::2] + x[:, ::2, 1::2] + x[:, 1::2, 1::2]) / 4.0


def depth_to_space(x: Array, block: int = 2) -> Array:
    """tf.depth_to_space on NHWC: channel (i * block + j) * C' + c goes to
    sub-pixel (i, j), channel c."""
    b, h, w, c = x.shape
    c_out = c // (block * block)
    x = x.reshape(b, h, w, block, block, c_out)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h * block, w * block, c_out)


def upsample_copies(x: Array) -> Array:
    """The reference's UpsampleConv upsampling: 4 copies of x along channels,
    then depth_to_space(2). It is 2x nearest-neighbour upsampling."""
    return depth_to_space(jnp.concatenate([x, x, x, x], axis=-1), 2)


def nchw_flatten(x: Array) -> Array:
    """[B, H, W, C] -> [B, C*H*W] in the reference's NCHW order."""
    return x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)


def from_nchw_vector(x: Array, channels: int, size: int) -> Array:
    """[B, C*H*W] in the reference's NCHW order -> [B, H, W, C]."""
    return x.reshape(x.shape[0], channels, size, size).transpose(0, 2, 3, 1)


# --------------------------------------------------------------------------
# MNIST (gan_mnist.py, MODE = 'wgan-gp': no batch norm)


class WGANGPMNISTGenerator(nn.Module):
    """gan_mnist.py's Generator: Linear, three stride-2 5x5 deconvs (the 8x8 map
    cropped to 7x7 so that 7 -> 14 -> 28), sigmoid. Returns 2*sigmoid - 1, the
    reference's [0, 1] images on our [-1, 1] range. `train` is unused (no BN in
    WGAN-GP mode); it is there for the common interface."""

    dim: int = 64
    z_dim: int = Z_DIM

    @nn.compact
    def __call__(self, z: Array, train: bool = True) -> Array:
        x = dense(4 * 4 * 4 * self.dim, name="Input")(z)
        x = from_nchw_vector(nn.relu(x), 4 * self.dim, 4)
        x = nn.relu(deconv(2 * self.dim, 5, name="Deconv2")(x))
        x = x[:, :7, :7, :]
        x = nn.relu(deconv(self.dim, 5, name="Deconv3")(x))
        x = deconv(1, 5, name="Deconv5")(x)
        return 2.0 * nn.sigmoid(x) - 1.0


class WGANGPMNISTCritic(nn.Module):
    """gan_mnist.py's Discriminator: three stride-2 5x5 convs with LeakyReLU(0.2),
    then a Linear on the NCHW-flattened 4x4x(4 dim) map. `train` is unused."""

    dim: int = 64

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        x = leaky_relu(conv(self.dim, 5, stride=2, name="Conv1")(x))
        x = leaky_relu(conv(2 * self.dim, 5, stride=2, name="Conv2")(x))
        x = leaky_relu(conv(4 * self.dim, 5, stride=2, name="Conv3")(x))
        return dense(1, name="Output")(nchw_flatten(x)).reshape(-1)


# --------------------------------------------------------------------------
# Residual blocks (gan_cifar_resnet.py and gan_64x64.py)


class ResidualBlock(nn.Module):
    """The reference's ResidualBlock: shortcut + conv2(act(norm(conv1(act(norm(x)))))).

    resample 'up': conv1 = UpsampleConv in->out, conv2 = Conv out->out,
                   shortcut = UpsampleConv 1x1;
    'down': conv1 = Conv in->in, conv2 = ConvMeanPool in->out, shortcut 1x1
            with pooling (see below);
    None: conv1 in->out (cifar) or in->in (64x64), conv2 to out; the shortcut
          is the identity when in == out, else a 1x1 Conv.
    Shortcut convs are 1x1 with he_init=False and a bias; the others he_init.

    The two scripts differ, and `variant` picks which:
    'cifar' (gan_cifar_resnet.py): conv1 has a bias; the 'down' shortcut is
        ConvMeanPool (conv, then pool); norm names N1, N2.
    '64x64' (gan_64x64.py): conv1 has no bias; the 'down' shortcut is
        MeanPoolConv (pool, then conv); norm names BN1, BN2 (LayerNorms in the
        critic, but named so in the reference).
    (A 1x1 conv and a mean pool commute, so the two shortcuts are the same
    function; we keep each script's order.)
    norm: 'batch', 'layer' or None (the reference's Normalize).
    """

    out_dim: int
    resample: str | None
    norm: str | None
    variant: str

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        if self.variant not in ("cifar", "64x64"):
            raise ValueError(f"unknown ResidualBlock variant {self.variant!r}")
        if self.resample not in ("up", "down", None):
            raise ValueError(f"invalid resample value {self.resample!r}")
        in_dim, out_dim = x.shape[-1], self.out_dim
        cifar = self.variant == "cifar"
        n1, n2 = ("N1", "N2") if cifar else ("BN1", "BN2")

        def normalize(h, name):
            if self.norm == "batch":
                return batch_norm(name, train)(h)
            if self.norm == "layer":
                return layer_norm(name)(h)
            if self.norm is None:
                return h
            raise ValueError(f"unknown norm {self.norm!r}")

        if self.resample == "up":
            shortcut = conv(out_dim, 1, he_init=False, name="Shortcut")(upsample_copies(x))
        elif self.resample == "down":
            if cifar:
                shortcut = mean_pool(conv(out_dim, 1, he_init=False, name="Shortcut")(x))
            else:
                shortcut = conv(out_dim, 1, he_init=False, name="Shortcut")(mean_pool(x))
        elif in_dim == out_dim:
            shortcut = x
        else:
            shortcut = conv(out_dim, 1, he_init=False, name="Shortcut")(x)

        conv1_bias = cifar
        h = nn.relu(normalize(x, n1))
        if self.resample == "up":
            h = conv(out_dim, 3, use_bias=conv1_bias, name="Conv1")(upsample_copies(h))
        elif self.resample == "down" or not cifar:
            h = conv(in_dim, 3, use_bias=conv1_bias, name="Conv1")(h)
        else:
            h = conv(out_dim, 3, use_bias=conv1_bias, name="Conv1")(h)
        h = nn.relu(normalize(h, n2))
        h = conv(out_dim, 3, name="Conv2")(h)
        if self.resample == "down":
            h = mean_pool(h)  # ConvMeanPool
        return shortcut + h


class OptimizedResBlockDisc1(nn.Module):
    """gan_cifar_resnet.py's first critic block on the raw image: no activation
    before conv1, and a MeanPoolConv shortcut (he_init=False)."""

    out_dim: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        shortcut = conv(self.out_dim, 1, he_init=False, name="Shortcut")(mean_pool(x))
        h = nn.relu(conv(self.out_dim, 3, name="Conv1")(x))
        h = mean_pool(conv(self.out_dim, 3, name="Conv2")(h))  # ConvMeanPool
        return shortcut + h


# --------------------------------------------------------------------------
# CIFAR-10 ResNet (gan_cifar_resnet.py, unconditional, NORMALIZATION_G=True, NORMALIZATION_D=False)


class WGANGPResNet32Generator(nn.Module):
    """gan_cifar_resnet.py's Generator (CONDITIONAL=False): Linear to 4x4xdim,
    three 'up' residual blocks with BatchNorm, BN, ReLU, 3x3 conv
    (he_init=False), tanh. 32x32x3."""

    dim: int = 128
    z_dim: int = Z_DIM

    @nn.compact
    def __call__(self, z: Array, train: bool = True) -> Array:
        x = from_nchw_vector(dense(4 * 4 * self.dim, name="Input")(z), self.dim, 4)
        for i in (1, 2, 3):
            x = ResidualBlock(self.dim, "up", "batch", "cifar", name=f"Res{i}")(x, train)
        x = nn.relu(batch_norm("OutputN", train)(x))
        return jnp.tanh(conv(3, 3, he_init=False, name="Output")(x))


class WGANGPResNet32Critic(nn.Module):
    """gan_cifar_resnet.py's Discriminator (unconditional, no ACGAN head, no
    normalisation): OptimizedResBlockDisc1, a 'down' block, two plain blocks,
    ReLU, global mean pool, Linear. `train` is unused."""

    dim: int = 128

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        x = OptimizedResBlockDisc1(self.dim, name="Res1")(x)
        x = ResidualBlock(self.dim, "down", None, "cifar", name="Res2")(x, train)
        x = ResidualBlock(self.dim, None, None, "cifar", name="Res3")(x, train)
        x = ResidualBlock(self.dim, None, None, "cifar", name="Res4")(x, train)
        x = jnp.mean(nn.relu(x), axis=(1, 2))
        return dense(1, name="Output")(x).reshape(-1)


# --------------------------------------------------------------------------
# 64x64 ResNet (gan_64x64.py, GoodGenerator / GoodDiscriminator, MODE = 'wgan-gp')


class WGANGPResNet64Generator(nn.Module):
    """gan_64x64.py's GoodGenerator: Linear to 4x4x(8 dim), four 'up' residual
    blocks (8, 8, 4, 2, 1 x dim) with BatchNorm, BN, ReLU, 3x3 conv (he_init,
    unlike the CIFAR model's), tanh. 64x64x3."""

    dim: int = 64
    z_dim: int = Z_DIM

    @nn.compact
    def __call__(self, z: Array, train: bool = True) -> Array:
        x = from_nchw_vector(dense(4 * 4 * 8 * self.dim, name="Input")(z), 8 * self.dim, 4)
        for i, mult in enumerate((8, 4, 2, 1), start=1):
            x = ResidualBlock(mult * self.dim, "up", "batch", "64x64", name=f"Res{i}")(x, train)
        x = nn.relu(batch_norm("OutputN", train)(x))
        return jnp.tanh(conv(3, 3, name="Output")(x))


class WGANGPResNet64Critic(nn.Module):
    """gan_64x64.py's GoodDiscriminator in WGAN-GP mode: 3x3 conv (he_init=False),
    four 'down' residual blocks (1, 2, 4, 8, 8 x dim) with LayerNorm (the
    reference's Normalize in a critic), then a Linear on the NCHW-flattened
    4x4x(8 dim) map, with no activation before it. `train` is unused."""

    dim: int = 64

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        x = conv(self.dim, 3, he_init=False, name="Input")(x)
        for i, mult in enumerate((2, 4, 8, 8), start=1):
            x = ResidualBlock(mult * self.dim, "down", "layer", "64x64", name=f"Res{i}")(x, train)
        return dense(1, name="Output")(nchw_flatten(x)).reshape(-1)
