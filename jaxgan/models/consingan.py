"""ConSinGAN's growing generator and its discriminator (Hinz et al. 2021,
"Improved Techniques for Training Single-Image GANs"), as the reference builds
them (github.com/tohinz/ConSinGAN, ConSinGAN/models.py: GrowingGenerator,
Discriminator, ConvBlock, weights_init; defaults from ConSinGAN/config.py and
main_train.py: nfc 64, num_layer 3, ker_size 3, padd_size 0, nc_im 3,
activation 'lrelu' with slope 0.05, no batch norm, train_mode 'generation',
train_stages 6, train_depth 3, lr_scale 0.1).

Unlike SinGAN (one G per scale, each mapping an image to an image), ConSinGAN
has a single G that grows: a head, one body stage per pyramid level and one
tail. The stages pass `nfc`-channel feature maps to each other; only the tail
(3x3 conv to the image's channels, tanh) makes an image, once, at the end.

- ConvBlock: conv (ker_size, padding padd_size, with a bias), BatchNorm in
  G's blocks when `batch_norm`, the activation.
- head: ConvBlock nc_im -> nfc; every body stage: `num_layer` ConvBlocks
  nfc -> nfc (three, not SinGAN's num_layer - 2); tail: conv nfc -> nc_im.
- Forward, 'generation' / 'animation' (the unconditional modes):
  stage 0: head(zero-pad 1 (noise[0])), bicubically upsampled by two pixels
  in each dimension (the reference: more diversity at the borders), zero-pad
  num_layer - 1, body_0. Stage s >= 1: the previous stage's features are
  upsampled twice, to real_shapes[s] (the skip) and to real_shapes[s] +
  2 num_layer (the stage's input, so no zero padding: the noise, too, is drawn
  at that padded size); out = body_s(up_padded + noise[s] * noise_amp[s]) +
  up. Image = tanh(tail(zero-pad 1 (out))).
- Forward, the other modes ('retarget', 'harmonization', 'editing'): no
  upsampling after the head, and a zero padding of num_layer instead:
  stage 0 is body_0(zero-pad num_layer (head(zero-pad 1 (noise[0])))), stage
  s is body_s(zero-pad num_layer (up + noise[s] * noise_amp[s])) + up, noise
  at real_shapes[s].
  With ker_size 3 and padd_size 0 every stage's output has its level's size
  (stage 0: noise[0]'s); the paddings are the reference's fixed ones, so
  other kernel sizes change the sizes as they do in the reference.
- noise[0] has nc_im channels (in 'generation' the reconstruction uses the
  coarsest real image itself as noise[0]); noise[s >= 1] has nfc channels.
  noise_amp[0] is never used.
- Upsampling is torch's F.interpolate(mode='bicubic', align_corners=True):
  `upsample_bicubic_align_corners`, the same float32 arithmetic (A = -0.75,
  source index scale * i with scale (in - 1) / (out - 1), taps clamped at the
  border), so the two agree to rounding.

Discriminator: head ConvBlock nc_im -> nfc, a body of `num_layer` ConvBlocks,
tail conv nfc -> 1; never batch norm (the reference's D blocks are not
`generator=True`). With padd_size 0 the score map is 2 (num_layer + 2) pixels
smaller than the input in each dimension (25x33 -> 15x23).

Init (weights_init, applied to the whole module): conv kernels N(0, 0.02);
conv biases keep torch's default U(+-1/sqrt(fan_in)) (weights_init does not
touch them); BatchNorm scale N(1, 0.02) and bias 0; PReLU's single slope 0.25
(torch's default; weights_init matches no PReLU).

Parameters (nfc 64, num_layer 3, RGB): G 114,307 with one stage, + 110,784
per stage: 668,227 after the default 6 stages; D 113,153 (the counts of the
reference's own modules).

Parity (tests/test_models_consingan.py, a torch transcription of the
reference with its state-dict names, weights through `params_from_torch`):
G with 3 stages at 25x33, 33x44, 44x59 within 3.3e-6 of torch in every
train_mode, activation and batch-norm setting tried (torch's own float32
result is as far from its float64 one), D within 1e-6; the upsampling
within 1e-6 (see `upsample_bicubic_align_corners`). An eager `init` compiles
every random draw on its own (10 s on a 2-core CPU for one stage): init under
jit through `init_noise.one_draw`, with real_shapes closed over (they must be
static).

BatchNorm: the reference never calls .eval(), so G's batch norms (with
`batch_norm`) always normalise with the batch's statistics, when training and
when sampling; `train=True` (the default) does that and updates the running
statistics in `batch_stats` (pass mutable=['batch_stats']), train=False uses
them.

Names are the reference's state-dict names by pix2pix's rule (an
nn.Sequential / ModuleList index joins the name before it): G's
`head.conv.weight` is params `head/conv/kernel`, `head.norm.weight`
`head/norm/scale` (running statistics in batch_stats `head/norm/mean|var`),
`body.2.block1.conv.bias` `body_2/block1/conv/bias`, `tail.0.weight`
`tail_0/kernel`; a PReLU's `head.prelu.weight` is `head/prelu/weight` ([1]).
D's are `head/conv/...`, `body/block{i}/conv/...`, `tail/kernel|bias`.
`params_from_torch` reads the reference's state dicts (netG.pth, netD.pth, or
G.pth's module.state_dict()).

What a trainer has to reproduce (training_generation.py):
- growth: G starts with one stage; before training stage s > 0,
  init_next_stage appends a deep copy of the last stage, i.e. body_s starts
  as the trained body_{s-1} (`init_next_stage` here); head and tail are kept.
  Build ConSinGANGenerator(num_stages=s + 1) and apply it to the grown
  variables. D is re-initialised and then loaded from the previous stage's D,
  so in effect D keeps its trained weights across stages. Both optimizers
  (Adam, betas (0.5, 0.999), lr_g = lr_d = 5e-4, MultiStepLR x0.1 at 0.8
  niter) are new at every stage.
- what trains at stage `depth`: only the last train_depth stages, body_i at
  lr_g * lr_scale^(k - 1 - idx) (idx the position among those k stages: the
  newest at lr_g, the one before at lr_g * lr_scale, ...); the head while
  depth < train_depth, at lr_g * lr_scale^depth; the tail always at lr_g;
  everything else is frozen (`lr_multipliers`).
- noise amplitude: noise_amp[0] = 1; at stage s > 0, with noise_amp[s] = 0,
  the reconstruction G(fixed_noise, shapes, noise_amp) gives RMSE = sqrt(mean
  squared error to real_s) and noise_amp[s] = noise_amp_init (0.1) * RMSE,
  fixed for the stage. fixed_noise[0] is reals[0] itself ('generation',
  'retarget'; random in 'animation'), fixed_noise[s] a fixed N(0, 1) draw of
  noise_shapes's shape; the reconstruction loss alpha 10 * MSE uses it with
  the noise amplitudes, so higher levels' fixed noise does enter it.
- noise: plain N(0, 1) (generate_noise's bilinear resize to the same size is
  the identity), shapes as `noise_shapes`: padded by num_layer on each side
  at s >= 1 in 'generation' / 'animation', not padded (G pads) otherwise.
- one G step takes the gradient once and applies Adam Gsteps (3) times with
  it; the WGAN-GP penalty (lambda 0.1) is the per-pixel L2 norm over channels
  of D's input gradient, minus 1, squared, averaged.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models.pix2pix import BatchNorm2d, Conv2d

Array = jax.Array

ACTIVATIONS = ("lrelu", "elu", "prelu", "selu")
TRAIN_MODES = ("generation", "animation", "retarget", "harmonization", "editing")
_PADDED_NOISE_MODES = ("generation", "animation")


# --------------------------------------------------------------------------
# torch's bicubic interpolation with align_corners=True


def _fma(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """float32 a * b + c rounded once, as an FMA instruction computes it (the
    float64 product of two float32 numbers is exact)."""
    return (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(np.float32)


def _cubic_conv1(x: np.ndarray, a: np.float32) -> np.ndarray:
    """The cubic kernel on |x| <= 1, ((a + 2) x - (a + 3)) x x + 1 (torch's
    cubic_convolution1), rounded as torch's x86 CPU build computes it: its
    compiler fuses the first multiply-add into an FMA."""
    f32 = np.float32
    p = _fma(np.full_like(x, a + f32(2)), x, np.full_like(x, -(a + f32(3))))
    return (p * x) * x + f32(1)


def _cubic_conv2(x: np.ndarray, a: np.float32) -> np.ndarray:
    """The cubic kernel on 1 < |x| < 2, ((a x - 5 a) x + 8 a) x - 4 a (torch's
    cubic_convolution2), rounded as torch's x86 CPU build computes it: the
    first two multiply-adds fused into FMAs, the last one not."""
    f32 = np.float32
    p = _fma(np.full_like(x, a), x, np.full_like(x, -f32(5) * a))
    q = _fma(p, x, np.full_like(x, f32(8) * a))
    return q * x - f32(4) * a


@functools.lru_cache(maxsize=256)
def bicubic_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(index [4, out] int32, weight [4, out] float32) of torch's bicubic
    interpolation with align_corners=True along one axis: output i reads the
    four inputs around scale * i, scale = (in - 1) / (out - 1) (0 for out 1),
    indices clamped to the border, weights from the cubic kernel with
    A = -0.75. In float32 as torch's CPU kernel computes them, with the FMAs
    its x86 build uses: the weights are that build's bit for bit (the
    tests compare; without the FMAs a few differ by up to 5e-7)."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"bicubic resize needs positive sizes, got {in_size} -> {out_size}")
    f32 = np.float32
    scale = f32(in_size - 1) / f32(out_size - 1) if out_size > 1 else f32(0)
    real = scale * np.arange(out_size, dtype=f32)
    base = np.minimum(np.floor(real).astype(np.int64), in_size - 1)
    t = np.clip(real - base.astype(f32), f32(0), f32(1)).astype(f32)
    a = f32(-0.75)
    one = f32(1)
    weight = np.stack([_cubic_conv2(t + one, a), _cubic_conv1(t, a),
                       _cubic_conv1(one - t, a), _cubic_conv2((one - t) + one, a)]).astype(f32)
    index = np.clip(base[None, :] + np.arange(-1, 3)[:, None], 0, in_size - 1).astype(np.int32)
    return index, weight


def _interp_axis(x: Array, axis: int, out_size: int) -> Array:
    index, weight = bicubic_taps(x.shape[axis], out_size)
    shape = [1] * x.ndim
    shape[axis] = out_size
    y = None
    for j in range(4):
        term = jnp.take(x, jnp.asarray(index[j]), axis=axis) * jnp.asarray(weight[j], x.dtype).reshape(shape)
        y = term if y is None else y + term
    return y


def upsample_bicubic_align_corners(x: Array, size: Sequence[int]) -> Array:
    """torch.nn.functional.interpolate(x, size, mode='bicubic',
    align_corners=True) for NHWC x: separable 4-tap gathers with static
    indices and weights (`bicubic_taps`), elementwise in x's dtype, so no
    matmul precision setting (TF32, bfloat16 passes) can change it. The
    weights are torch's, the sums in its order (along W first, then H, the
    taps in order), so it agrees with torch to float32 rounding: eagerly
    within a few ulps (5e-7 at values ~4), and jitted on an x86 CPU, where
    XLA fuses the multiply-adds as torch's build does, it was bit-identical
    to torch 2.x in every case tried. Works for any sizes, down as well as up
    (without antialiasing, as torch)."""
    h, w = (int(s) for s in size)
    if x.ndim != 4:
        raise ValueError(f"upsample_bicubic_align_corners takes NHWC arrays, got shape {x.shape}")
    if (h, w) == x.shape[1:3]:
        return x  # scale 1, t 0: torch's weights are (0, 1, 0, 0), the identity
    return _interp_axis(_interp_axis(x, 2, w), 1, h)


# --------------------------------------------------------------------------
# Layers


def _zero_pad(x: Array, p: int) -> Array:
    """torch's nn.ZeroPad2d(p) on H and W."""
    if p == 0:
        return x
    return jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))


class PReLU(nn.Module):
    """torch's nn.PReLU(num_parameters=1, init=0.25): one learned slope."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        weight = self.param("weight", nn.initializers.constant(0.25), (1,), jnp.float32)
        return jnp.where(x >= 0, x, weight.astype(x.dtype) * x)


class ConvBlock(nn.Module):
    """The reference's ConvBlock: conv (with a bias), BatchNorm when
    `batch_norm` (only G's blocks), the activation. The activation's module
    name is the reference's (the activation's name), so a PReLU's slope is
    `prelu/weight`."""

    features: int
    ker_size: int = 3
    padd_size: int = 0
    activation: str = "lrelu"
    lrelu_alpha: float = 0.05
    batch_norm: bool = False

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        x = Conv2d(self.features, self.ker_size, 1, self.padd_size, bias_init="torch", name="conv")(x)
        if self.batch_norm:
            x = BatchNorm2d(name="norm")(x, train)
        if self.activation == "lrelu":
            return nn.leaky_relu(x, self.lrelu_alpha)
        if self.activation == "elu":
            return nn.elu(x)
        if self.activation == "selu":
            return nn.selu(x)
        if self.activation == "prelu":
            return PReLU(name="prelu")(x)
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")


class Stage(nn.Module):
    """A body stage (G) or D's body: `num_layer` ConvBlocks nfc -> nfc,
    block0, block1, ... (the reference's nn.Sequential names)."""

    nfc: int = 64
    num_layer: int = 3
    ker_size: int = 3
    padd_size: int = 0
    activation: str = "lrelu"
    lrelu_alpha: float = 0.05
    batch_norm: bool = False

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        for i in range(self.num_layer):
            x = ConvBlock(self.nfc, self.ker_size, self.padd_size, self.activation, self.lrelu_alpha,
                          self.batch_norm, name=f"block{i}")(x, train)
        return x


def _check_options(activation: str, train_mode: str | None = None) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    if train_mode is not None and train_mode not in TRAIN_MODES:
        raise ValueError(f"train_mode must be one of {TRAIN_MODES}, got {train_mode!r}")


# --------------------------------------------------------------------------
# Networks


class ConSinGANGenerator(nn.Module):
    """GrowingGenerator with `num_stages` body stages (module docstring).

    __call__(noise, real_shapes, noise_amp, train=True) -> image
    [N, H_last, W_last, channels] in (-1, 1), H_last x W_last =
    real_shapes[num_stages - 1] (stage 0's: noise[0]'s size):
    - noise: a sequence of at least num_stages NHWC arrays, shapes as
      `noise_shapes` (stage 0: `channels` channels at real_shapes[0]; later
      stages `nfc` channels, padded by num_layer in 'generation' /
      'animation');
    - real_shapes: the pyramid's (h, w) per level, at least num_stages of them
      (the reference's reals_shapes[i][2:]); static Python ints;
    - noise_amp: per stage, floats or an array (index 0 unused);
    - train: batch statistics in the batch norms (the reference always).
    """

    num_stages: int = 1
    nfc: int = 64
    num_layer: int = 3
    ker_size: int = 3
    padd_size: int = 0
    channels: int = 3  # nc_im
    activation: str = "lrelu"
    lrelu_alpha: float = 0.05
    batch_norm: bool = False
    train_mode: str = "generation"

    @nn.compact
    def __call__(self, noise: Sequence[Array], real_shapes: Sequence[Sequence[int]], noise_amp: Any,
                 train: bool = True) -> Array:
        _check_options(self.activation, self.train_mode)
        stages = self.num_stages
        if stages < 1:
            raise ValueError(f"num_stages must be >= 1, got {stages}")
        if len(noise) < stages or len(real_shapes) < stages:
            raise ValueError(f"{stages} stages need {stages} noise arrays and real shapes, "
                             f"got {len(noise)} and {len(real_shapes)}")
        shapes = [_hw(s) for s in real_shapes]
        padded = self.train_mode in _PADDED_NOISE_MODES
        block_pad = self.num_layer - 1 if padded else self.num_layer
        block = functools.partial(ConvBlock, ker_size=self.ker_size, padd_size=self.padd_size,
                                  activation=self.activation, lrelu_alpha=self.lrelu_alpha,
                                  batch_norm=self.batch_norm)
        stage = functools.partial(Stage, self.nfc, self.num_layer, self.ker_size, self.padd_size,
                                  self.activation, self.lrelu_alpha, self.batch_norm)

        wanted = noise_shapes(shapes, stages, noise[0].shape[0], self.nfc, self.num_layer, self.channels,
                              self.train_mode)
        if noise[0].ndim != 4 or noise[0].shape[-1] != self.channels:
            raise ValueError(f"noise[0] must be NHWC with {self.channels} channels, got {noise[0].shape}")
        x = block(self.nfc, name="head")(_zero_pad(noise[0], 1), train)
        if padded:
            x = upsample_bicubic_align_corners(x, (x.shape[1] + 2, x.shape[2] + 2))
        out = stage(name="body_0")(_zero_pad(x, block_pad), train)

        for s in range(1, stages):
            h, w = shapes[s]
            want = wanted[s]
            if tuple(noise[s].shape[1:]) != want[1:]:
                raise ValueError(f"noise[{s}] must be [N, {want[1]}, {want[2]}, {want[3]}] "
                                 f"(train_mode {self.train_mode!r}), got {noise[s].shape}")
            skip = upsample_bicubic_align_corners(out, (h, w))
            z = noise[s] * noise_amp[s]
            if padded:
                m = 2 * self.num_layer
                x = upsample_bicubic_align_corners(out, (h + m, w + m)) + z
            else:
                x = _zero_pad(skip + z, block_pad)
            out = stage(name=f"body_{s}")(x, train) + skip

        y = Conv2d(self.channels, self.ker_size, 1, self.padd_size, bias_init="torch", name="tail_0")(
            _zero_pad(out, 1))
        return jnp.tanh(y)


class ConSinGANDiscriminator(nn.Module):
    """The reference's Discriminator: image NHWC -> score map [N, h', w', 1]
    (module docstring), without a final activation (WGAN-GP critic)."""

    nfc: int = 64
    num_layer: int = 3
    ker_size: int = 3
    padd_size: int = 0
    activation: str = "lrelu"
    lrelu_alpha: float = 0.05

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> Array:
        del train  # no batch norm or dropout: the argument is the trainer's interface
        _check_options(self.activation)
        x = ConvBlock(self.nfc, self.ker_size, self.padd_size, self.activation, self.lrelu_alpha,
                      name="head")(x)
        x = Stage(self.nfc, self.num_layer, self.ker_size, self.padd_size, self.activation,
                  self.lrelu_alpha, name="body")(x)
        return Conv2d(1, self.ker_size, 1, self.padd_size, bias_init="torch", name="tail")(x)


# --------------------------------------------------------------------------
# Helpers for a trainer


def _hw(shape: Sequence[int]) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(f"real shapes are (h, w) pairs (the reference's reals_shapes[i][2:]), got {shape}")
    return int(shape[0]), int(shape[1])


def noise_shapes(real_shapes: Sequence[Sequence[int]], num_stages: int, batch: int = 1, nfc: int = 64,
                 num_layer: int = 3, channels: int = 3,
                 train_mode: str = "generation") -> list[tuple[int, int, int, int]]:
    """NHWC shapes of G's noise inputs for `num_stages` stages, as the
    reference's sample_random_noise draws them: stage 0 `channels` at
    real_shapes[0]; stage s >= 1 `nfc` channels at real_shapes[s], + 2
    num_layer in each dimension in 'generation' / 'animation'."""
    _check_options("lrelu", train_mode)
    pad = 2 * num_layer if train_mode in _PADDED_NOISE_MODES else 0
    out = []
    for s in range(num_stages):
        h, w = _hw(real_shapes[s])
        out.append((batch, h, w, channels) if s == 0 else (batch, h + pad, w + pad, nfc))
    return out


def sample_noise(key: Array, real_shapes: Sequence[Sequence[int]], num_stages: int, batch: int = 1,
                 nfc: int = 64, num_layer: int = 3, channels: int = 3, train_mode: str = "generation",
                 dtype: Any = jnp.float32) -> list[Array]:
    """N(0, 1) noise of `noise_shapes` (the reference's generate_noise: its
    bilinear resize to the drawn size is the identity), one key per stage."""
    shapes = noise_shapes(real_shapes, num_stages, batch, nfc, num_layer, channels, train_mode)
    keys = jax.random.split(key, num_stages)
    return [jax.random.normal(k, s, dtype) for k, s in zip(keys, shapes)]


def num_stages_of(params: Mapping[str, Any]) -> int:
    """How many body stages a generator's params (or variables) hold."""
    params = params.get("params", params)
    stages = sorted(int(k.removeprefix("body_")) for k in params if k.startswith("body_"))
    if stages != list(range(len(stages))):
        raise ValueError(f"body stages are not body_0 .. body_n: {stages}")
    return len(stages)


def init_next_stage(variables: Mapping[str, Any]) -> dict[str, Any]:
    """G's variables with one more stage: body_n a copy of body_{n-1} (the
    reference's init_next_stage deep-copies the last stage, weights and batch
    statistics). Works on {'params', ['batch_stats']} or a bare params tree;
    the arrays are shared, not copied (jax arrays are immutable)."""
    variables = dict(variables)
    collections = [c for c in ("params", "batch_stats") if c in variables] or [None]
    n = num_stages_of(variables)
    for c in collections:
        tree = dict(variables if c is None else variables[c])
        if f"body_{n - 1}" in tree:
            tree[f"body_{n}"] = jax.tree_util.tree_map(lambda a: a, tree[f"body_{n - 1}"])
        if c is None:
            variables = tree
        else:
            variables[c] = tree
    return variables


def lr_multipliers(num_stages: int, train_depth: int = 3, lr_scale: float = 0.1) -> dict[str, float]:
    """Each top-level G parameter group's learning rate as a multiple of lr_g
    while training stage num_stages - 1 (the reference's parameter_list):
    the last `train_depth` stages at lr_scale^(k - 1 - idx), the head at
    lr_scale^depth while depth < train_depth, the tail at 1; 0.0 marks a
    frozen group (not in the reference's optimizer: freeze it, e.g. with
    optax.set_to_zero, rather than relying on a zero learning rate)."""
    if num_stages < 1 or train_depth < 1:
        raise ValueError(f"num_stages and train_depth must be >= 1, got {num_stages}, {train_depth}")
    depth = num_stages - 1
    trained = list(range(max(0, num_stages - train_depth), num_stages))
    out = {f"body_{s}": 0.0 for s in range(num_stages)}
    for idx, s in enumerate(trained):
        out[f"body_{s}"] = float(lr_scale ** (len(trained) - 1 - idx))
    out["head"] = float(lr_scale ** depth) if depth < train_depth else 0.0
    out["tail"] = 1.0
    return out


def params_from_torch(state_dict: Mapping[str, Any], like: Any = None) -> dict[str, Any]:
    """{'params'[, 'batch_stats']} of the ConSinGANGenerator or
    ConSinGANDiscriminator whose reference state dict this is (netG.pth,
    netD.pth; for G.pth, the pickled module, its .state_dict()), by the naming
    rule of the module docstring; numpy arrays. With `like` (the network's
    variables or their eval_shape) structure and shapes must match, else
    ValueError names the difference."""
    from jaxgan.models import pix2pix

    rest, prelu = {}, {}
    for key, value in state_dict.items():
        module, _, tensor = key.removeprefix("module.").rpartition(".")
        if module.split(".")[-1] == "prelu" and tensor == "weight":
            prelu[module] = np.asarray(value)
        else:
            rest[key] = value
    variables = pix2pix.params_from_torch_state_dict(rest)
    for module, weight in prelu.items():
        pix2pix._put(variables["params"], pix2pix.flax_path(module), {"weight": weight.reshape(1)})
    if like is not None:
        like = dict(like)
        pix2pix._check_like(variables, {c: like[c] for c in like if c in ("params", "batch_stats")})
    return variables
