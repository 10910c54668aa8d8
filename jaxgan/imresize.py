"""MATLAB-style image resize and the image pyramids of SinGAN and ConSinGAN.

SinGAN (Shaham et al. 2019, github.com/tamarott/SinGAN) and ConSinGAN (Hinz et
al. 2021, github.com/tohinz/ConSinGAN) build the multi-scale pyramid of their
single training image with the same resize, `imresize.py` (Assaf Shocher's
Python port of MATLAB's `imresize`). This module re-implements it:

* `imresize`: the resize itself (the reference's `imresize_in`) in jax.numpy,
  jittable. MATLAB's cubic kernel (Keys, a = -0.5) by default; when
  downscaling, the kernel is stretched by 1/scale (antialiasing); the image is
  resized one spatial dimension at a time. The per-dimension weights depend only
  on static shapes, so they are computed once in numpy (cached) as a dense
  [out, in] matrix and applied with one einsum per dimension.
* `imresize_np`: the same resize in numpy float64 with the reference's
  arithmetic (gather the taps, multiply, sum over the taps), so that its output
  is the reference's bit for bit. For building pyramids once on the host.
* `imresize_like_singan` / `imresize_like_singan_np`: the reference's
  `imresize(im, scale, opt)` / `imresize_to_shape(im, output_shape, opt)`,
  which do more than resize: the [-1, 1] image goes to uint8 (truncated), is
  resized, and comes back to [-1, 1] (`singan_to_uint8`, `singan_from_uint8`).
* `singan_scales`, `singan_adjust_scales2image`, `singan_reals_pyramid`:
  SinGAN's `adjust_scales2image` and `creat_reals_pyramid` (SinGAN/functions.py).
* `consingan_scales`, `consingan_adjust_scales2image`,
  `consingan_reals_pyramid`: ConSinGAN's `adjust_scales2image` and
  `create_reals_pyramid` (ConSinGAN/functions.py).

Images are HWC (one image) or NHWC (a batch; every image is resized alike);
channels are never resized. Scales and output shapes are Python numbers (they
fix the output shape, so they are static under `jax.jit`).

How the reference behaves, and so how this module behaves:

* Output shape from a scale: ceil(in * scale) per dimension, computed in
  float64 (`resize_output_shape`); the weights use the scale as given, not
  out / in. A scalar scale applies to H and W; a 1-element one to H only.
* Antialiasing is decided by the H scale alone (on when scale_H < 1), and then
  applies to both dimensions.
* Dimensions are resized in order of increasing scale (H first on a tie); a
  dimension whose scale is exactly 1 is skipped (left untouched).
* Borders: a tap past the end of a dimension reads its mirror image
  (symmetric: ..., n-2, n-1, n-1, n-2, ...), but a tap before the start gets
  weight 0 and the remaining weights are renormalised. The reference casts the
  (negative) tap positions to uint64 (`np.uint`), which on x86-64 wraps around
  to huge positions whose kernel weight is 0; we reproduce that x86 behaviour
  (on a platform whose cast saturates at 0 the reference itself differs).
* The uint8 round trip truncates (`astype(np.uint8)` of 255 * (x + 1) / 2 in
  float32) and does not re-quantise after the resize. Because (v / 255 - 0.5) *
  2 and back is not exact in float32, a pixel read from a PNG with value v in
  1..63 comes back as v - 1 even at scale 1: each SinGAN-style resize of an
  unresized image darkens its dark pixels by one level.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

# ---------------------------------------------------------------------------
# Kernels (the reference's `cubic`, `lanczos2`, `lanczos3`, `box`, `linear`),
# evaluated in float64 with the reference's arithmetic. t is the distance from
# the sample position to a pixel centre, in input pixels.
# ---------------------------------------------------------------------------

_EPS32 = np.finfo(np.float32).eps


def _cubic(t):
    a = np.abs(t)
    a2 = a**2
    a3 = a**3
    near = (1.5 * a3 - 2.5 * a2 + 1) * (a <= 1)
    far = (-0.5 * a3 + 2.5 * a2 - 4 * a + 2) * ((1 < a) & (a <= 2))
    return near + far


def _lanczos(lobes):
    def kernel(t):
        num = np.sin(np.pi * t) * np.sin(np.pi * t / lobes) + _EPS32
        den = np.pi**2 * t**2 / lobes + _EPS32
        return num / den * (np.abs(t) < lobes)

    return kernel


def _box(t):
    return ((-0.5 <= t) & (t < 0.5)) * 1.0


def _linear(t):
    return (t + 1) * ((-1 <= t) & (t < 0)) + (1 - t) * ((0 <= t) & (t <= 1))


KERNELS = {
    "cubic": (_cubic, 4.0),
    "lanczos2": (_lanczos(2), 4.0),
    "lanczos3": (_lanczos(3), 6.0),
    "box": (_box, 1.0),
    "linear": (_linear, 2.0),
}
"""name -> (kernel function, support width in input pixels at scale 1)."""


# ---------------------------------------------------------------------------
# Shapes and the order of the 1-D resizes (the reference's `fix_scale_and_size`
# and the loop in `imresize_in`).
# ---------------------------------------------------------------------------


class ResizeStep(NamedTuple):
    axis: int  # 0 = H, 1 = W (of an HWC image)
    in_length: int
    out_length: int
    scale: float


class ResizePlan(NamedTuple):
    out_hw: tuple[int, int]
    steps: tuple[ResizeStep, ...]
    antialiasing: bool


def _spatial_scales(scale) -> list:
    if np.ndim(scale) == 0:
        scale = np.asarray(scale).item()
        return [scale, scale]
    scale = [np.asarray(s).item() for s in scale]
    if not 1 <= len(scale) <= 2:
        raise ValueError(f"scale must be a number or 1 or 2 numbers (H[, W]), got {scale}")
    return scale + [1] * (2 - len(scale))


def resize_plan(in_hw: Sequence[int], scale=None, output_shape=None, *, antialiasing: bool = True) -> ResizePlan:
    """The output (H, W) and the 1-D resizes `imresize` does, in order.

    Follows the reference's `fix_scale_and_size` and `imresize_in`: a missing
    output shape is ceil(in * scale) (float64); a missing scale is out / in per
    dimension; given both, both are used as given. `output_shape` is (H[, W]),
    truncated to integers as the reference's `np.uint` does; missing entries
    keep the input's size. Antialiasing applies only when scale_H < 1.
    """
    in_hw = tuple(int(s) for s in in_hw)
    if len(in_hw) != 2:
        raise ValueError(f"in_hw must be (H, W), got {in_hw}")
    if scale is None and output_shape is None:
        raise ValueError("give scale or output_shape")
    scales = None if scale is None else _spatial_scales(scale)
    if output_shape is not None:
        output_shape = [int(v) for v in np.asarray(output_shape, dtype=np.float64).reshape(-1)]
        if not 1 <= len(output_shape) <= 2:
            raise ValueError(f"output_shape must be (H[, W]), got {output_shape}")
        out_hw = tuple(output_shape) + in_hw[len(output_shape) :]
    if scales is None:
        scales = [float(v) for v in 1.0 * np.array(out_hw) / np.array(in_hw)]
    if output_shape is None:
        out_hw = resize_output_shape(in_hw, scales)
    if min(scales) <= 0 or min(out_hw) < 1:
        raise ValueError(f"scale {scales} and output shape {out_hw} must be positive")
    antialiasing = bool(antialiasing) and scales[0] < 1
    # np.argsort of the reference's 3 scales [H, W, C=1] is an insertion sort, so stable.
    order = np.argsort(np.array(scales, dtype=np.float64), kind="stable")
    steps = tuple(
        ResizeStep(int(d), in_hw[d], out_hw[d], float(scales[d])) for d in order if scales[d] != 1.0
    )
    return ResizePlan(tuple(out_hw), steps, antialiasing)


def resize_output_shape(in_hw: Sequence[int], scale) -> tuple[int, int]:
    """(H, W) of an image of shape `in_hw` resized by `scale`: ceil(in * scale),
    in float64, as the reference's `fix_scale_and_size` (so e.g. 451 * (250 /
    451) is 250 but products a hair above an integer round up)."""
    scales = _spatial_scales(scale)
    out = np.ceil(np.array([int(s) for s in in_hw]) * np.array(scales))
    return tuple(int(v) for v in out)


# ---------------------------------------------------------------------------
# Contributions: which input pixels each output pixel reads, with what weight
# (the reference's `contributions`). Cached: they depend only on static shapes.
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def contributions(
    in_length: int, out_length: int, scale: float, kernel: str = "cubic", antialiasing: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Weights [out, taps] (float64) and input indices [out, taps] (int64) of a
    1-D resize of `in_length` samples to `out_length` by `scale`.

    Output pixel i (1-based) sits at input position i / scale + (1 - 1 / scale)
    / 2 (pixel edges map to pixel edges). Each reads ceil(width) + 2 taps
    starting at floor(position - width / 2) - 1, weighted by the kernel (widened
    by 1 / scale when antialiasing) and normalised to sum 1. Taps before the
    start get weight 0 (see the module docstring), taps past the end are
    mirrored. Tap columns whose weight is 0 for every output are dropped, as the
    reference does. Read-only arrays (they are cached).
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; one of {sorted(KERNELS)}")
    fn, width = KERNELS[kernel]
    if antialiasing:

        def kernel_fn(t):
            return scale * fn(scale * t)

        width *= 1.0 / scale
    else:
        kernel_fn = fn
    positions = 1.0 * np.arange(1, out_length + 1) / scale + 0.5 * (1 - 1.0 / scale)
    first = np.floor(positions - width / 2)
    taps = int(np.ceil(width)) + 2
    tap_pos = first[:, None] + np.arange(taps) - 1  # 0-based input index, float
    weights = kernel_fn(1.0 * positions[:, None] - tap_pos - 1)
    weights = np.where(tap_pos < 0, 0.0, weights)  # the x86 uint64 wrap-around, see above
    total = np.sum(weights, axis=1)
    total[total == 0] = 1.0
    weights = 1.0 * weights / total[:, None]
    index = np.maximum(tap_pos, 0).astype(np.int64) % (2 * in_length)
    index = np.where(index < in_length, index, 2 * in_length - 1 - index)
    keep = np.any(weights, axis=0)
    weights, index = np.ascontiguousarray(weights[:, keep]), np.ascontiguousarray(index[:, keep])
    weights.flags.writeable = False
    index.flags.writeable = False
    return weights, index


@functools.lru_cache(maxsize=512)
def resize_matrix(
    in_length: int, out_length: int, scale: float, kernel: str = "cubic", antialiasing: bool = True
) -> np.ndarray:
    """The 1-D resize as a dense [out_length, in_length] float64 matrix (taps that
    mirror onto the same input pixel add up). Read-only (cached)."""
    weights, index = contributions(in_length, out_length, scale, kernel, antialiasing)
    matrix = np.zeros((out_length, in_length))
    rows = np.broadcast_to(np.arange(out_length)[:, None], index.shape)
    np.add.at(matrix, (rows, index), weights)
    matrix.flags.writeable = False
    return matrix


def _check_image(ndim: int) -> None:
    if ndim not in (3, 4):
        raise ValueError(f"expected an HWC image or an NHWC batch, got {ndim} dims")


# ---------------------------------------------------------------------------
# The resize.
# ---------------------------------------------------------------------------


def imresize(x, scale=None, output_shape=None, *, kernel: str = "cubic", antialiasing: bool = True) -> Array:
    """MATLAB-style resize of an HWC image or NHWC batch (jax.numpy, jittable).

    The reference's `imresize_in(im, scale_factor, output_shape, kernel,
    antialiasing)` (SinGAN/imresize.py, ConSinGAN/imresize.py) without its
    numeric-kernel branch: see `resize_plan` for how the output shape, the
    antialiasing and the order of the dimensions follow from the arguments.
    Each dimension is one tensordot with the cached dense matrix of
    `resize_matrix` (highest matmul precision, so TPU/GPU do not drop to
    bf16/tf32). Floats keep their dtype (at least float32); integer images
    become float32. No clipping: cubic overshoot is kept, as in the reference.
    Called outside jit, it runs as one compiled program per shape and plan.
    """
    x = jnp.asarray(x)
    _check_image(x.ndim)
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; one of {sorted(KERNELS)}")
    h_axis = x.ndim - 3
    plan = resize_plan(x.shape[h_axis : h_axis + 2], scale, output_shape, antialiasing=antialiasing)
    return _apply_plan(x, plan, kernel)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _apply_plan(x: Array, plan: ResizePlan, kernel: str) -> Array:
    dtype = jnp.promote_types(x.dtype, jnp.float32) if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32
    x = x.astype(dtype)
    h_axis = x.ndim - 3
    for step in plan.steps:
        m = jnp.asarray(resize_matrix(step.in_length, step.out_length, step.scale, kernel, plan.antialiasing), dtype)
        axis = h_axis + step.axis
        x = jnp.moveaxis(jnp.tensordot(m, x, axes=((1,), (axis,)), precision=jax.lax.Precision.HIGHEST), 0, axis)
    return x


def _resize_along_np(im: np.ndarray, axis: int, weights: np.ndarray, index: np.ndarray) -> np.ndarray:
    # The reference's `resize_along_dim`: bring `axis` to the front, gather
    # [taps, out, ...], weight, sum over the taps (this order of float64
    # operations is what makes the result the reference's bit for bit).
    front = np.swapaxes(im, axis, 0)
    w = np.reshape(weights.T, weights.T.shape + (1,) * (im.ndim - 1))
    return np.swapaxes(np.sum(front[index.T] * w, axis=0), axis, 0)


def imresize_np(x, scale=None, output_shape=None, *, kernel: str = "cubic", antialiasing: bool = True) -> np.ndarray:
    """`imresize` in numpy float64 with the reference's arithmetic (bit-exact).

    For host-side work that must match the reference exactly (building a
    pyramid once); not jittable. Returns float64, HWC or NHWC as given.
    """
    x = np.asarray(x)
    _check_image(x.ndim)
    if x.ndim == 4:
        return np.stack([imresize_np(im, scale, output_shape, kernel=kernel, antialiasing=antialiasing) for im in x])
    plan = resize_plan(x.shape[:2], scale, output_shape, antialiasing=antialiasing)
    out = np.array(x, dtype=np.float64)
    for step in plan.steps:
        weights, index = contributions(step.in_length, step.out_length, step.scale, kernel, plan.antialiasing)
        out = _resize_along_np(out, step.axis, weights, index)
    return out


# ---------------------------------------------------------------------------
# SinGAN's imresize: [-1, 1] -> uint8 -> resize -> [-1, 1].
# ---------------------------------------------------------------------------


def singan_to_uint8(x) -> np.ndarray:
    """The reference's `torch2uint8` (numpy, any leading dims): 255 * clip((x +
    1) / 2, 0, 1) in float32, truncated (not rounded) to uint8. The reference
    keeps only the batch's first image; here every image is converted."""
    x = np.asarray(x, dtype=np.float32)
    return (255 * np.clip((x + 1) / 2, 0, 1)).astype(np.uint8)


def singan_from_uint8(im) -> np.ndarray:
    """The reference's `np2torch` for RGB (`nc_im == 3`), layout kept (HWC or
    NHWC): im / 255 in float64, cast to float32, then clip((x - 0.5) * 2, -1, 1)
    in float32. `im` is uint8 or the float64 output of a resize (not clipped to
    [0, 255] before: cubic overshoot is cut only by the final clip). This is
    how SinGAN and ConSinGAN read their training image (`read_image`), after
    dropping any alpha channel. The reference's grayscale branch (`nc_im != 3`,
    skimage's rgb2gray) is not reproduced."""
    x = (np.asarray(im) / 255).astype(np.float32)
    return np.clip((x - 0.5) * 2, -1, 1)


def imresize_like_singan(x, scale=None, output_shape=None) -> Array:
    """SinGAN's and ConSinGAN's `imresize(im, scale, opt)` and
    `imresize_to_shape(im, output_shape, opt)` for images in [-1, 1] (jax,
    jittable, float32).

    As the reference: quantise to uint8 by truncation (`singan_to_uint8`),
    resize with `imresize` (no re-quantisation), map back with `singan_from_uint8`.
    Differs from the reference only in that the resize and the / 255 run in
    float32 (the reference: float64), about 1e-7 on the result; at scale 1
    (nothing resized) the result is the reference's exactly. Use
    `imresize_like_singan_np` for the reference's exact values. The reference
    resizes only the first image of a batch; here every image is resized.
    """
    x = jnp.asarray(x)
    _check_image(x.ndim)
    h_axis = x.ndim - 3
    return _singan_apply(x, resize_plan(x.shape[h_axis : h_axis + 2], scale, output_shape))


@functools.partial(jax.jit, static_argnums=1)
def _singan_apply(x: Array, plan: ResizePlan) -> Array:
    x = x.astype(jnp.float32)
    levels = jnp.floor(255 * jnp.clip((x + 1) / 2, 0, 1))  # == astype(uint8): values are >= 0
    resized = _apply_plan(levels, plan, "cubic")
    # XLA turns a division by a scalar into a multiplication by its reciprocal,
    # which is 1 ulp off for about half of the 256 levels; dividing by a full
    # array behind a barrier keeps the correctly rounded quotient, so integer
    # levels (scale 1) come back exactly as in the reference.
    denominator = jax.lax.optimization_barrier(jnp.full(resized.shape, 255, jnp.float32))
    return jnp.clip((resized / denominator - 0.5) * 2, -1, 1)


def imresize_like_singan_np(x, scale=None, output_shape=None) -> np.ndarray:
    """`imresize_like_singan` in numpy, the reference's values bit for bit
    (float64 resize as `imresize_np`); returns float32, HWC or NHWC as given.
    What the pyramid functions use by default."""
    return singan_from_uint8(imresize_np(singan_to_uint8(x), scale, output_shape))


# ---------------------------------------------------------------------------
# SinGAN's pyramid (SinGAN/functions.py).
# ---------------------------------------------------------------------------


class SinGANScales(NamedTuple):
    """What SinGAN's `adjust_scales2image` writes into `opt`."""

    num_scales: int  # opt.num_scales
    stop_scale: int  # opt.stop_scale: the pyramid has stop_scale + 1 levels
    scale1: float  # opt.scale1: the training image is the input resized by this
    scale_factor: float  # opt.scale_factor: ratio between neighbouring levels
    real_hw: tuple[int, int]  # (H, W) of the training image (finest level)


def singan_scales(
    image_hw: Sequence[int], *, min_size: int = 25, max_size: int = 250, scale_factor_init: float = 0.75,
    sr: bool = False,
) -> SinGANScales:
    """SinGAN's `adjust_scales2image` on shapes only (no image needed); with
    `sr`, its `adjust_scales2image_SR` (the super-resolution model's pyramid:
    truncation where the other rounds up, and `max(real_.shape[0],
    real_.shape[3])`, which is the width, as the longer side).

    The number of levels comes from the input's size and `scale_factor_init`;
    the image is first shrunk so its longer side is at most `max_size`, and the
    actual ratio between levels is then recomputed so that the coarsest level's
    shorter side is `min_size`. Same float expressions as the reference (so
    the same ceil() outcomes); defaults are SinGAN's.
    """
    h, w = (int(s) for s in image_hw)
    if sr:  # adjust_scales2image_SR: int() for ceil(), and the width where the longer side was meant
        num_scales = int(math.log(min_size / min(h, w), scale_factor_init)) + 1
        scale2stop = int(math.log(min(max_size, max(h, w)) / w, scale_factor_init))
    else:
        num_scales = math.ceil(math.log(min_size / min(h, w), scale_factor_init)) + 1
        scale2stop = math.ceil(math.log(min(max_size, max(h, w)) / max(h, w), scale_factor_init))
    stop_scale = num_scales - scale2stop
    if stop_scale < 1:
        raise ValueError(
            f"image {h}x{w} gives stop_scale {stop_scale} (the reference divides by it): "
            f"too small for min_size {min_size}"
        )
    scale1 = min(max_size / max(h, w), 1)
    real_hw = resize_output_shape((h, w), scale1)
    scale_factor = math.pow(min_size / min(real_hw), 1 / stop_scale)
    return SinGANScales(num_scales, stop_scale, scale1, scale_factor, real_hw)


def singan_sr_scale(sr_factor: float) -> tuple[float, int]:
    """SinGAN's `calc_init_scale`: (in_scale, iter_num), the upscaling per
    step and the number of steps of its super-resolution. The number of
    steps is that of 2^(1/3) steps (round), the step then adjusted so that
    in_scale ** iter_num == sr_factor; the model trains with scale factor
    1 / in_scale."""
    iter_num = round(math.log(1 / sr_factor, math.pow(1 / 2, 1 / 3)))
    if iter_num < 1:
        raise ValueError(f"sr_factor {sr_factor} is below 2^(1/6): nothing to upscale")
    return math.pow(sr_factor, 1 / iter_num), iter_num


def singan_pyramid_scales(scale_factor: float, stop_scale: int) -> list[float]:
    """The scale of each level relative to the training image, coarsest first
    (`creat_reals_pyramid`: scale_factor ** (stop_scale - i), i = 0..stop_scale)."""
    return [math.pow(scale_factor, stop_scale - i) for i in range(stop_scale + 1)]


def singan_pyramid_shapes(scales: SinGANScales) -> list[tuple[int, int]]:
    """(H, W) of each level of SinGAN's pyramid, coarsest first."""
    levels = singan_pyramid_scales(scales.scale_factor, scales.stop_scale)
    return [resize_output_shape(scales.real_hw, s) for s in levels]


def singan_adjust_scales2image(
    image,
    *,
    min_size: int = 25,
    max_size: int = 250,
    scale_factor_init: float = 0.75,
    sr: bool = False,
    resize=imresize_like_singan_np,
):
    """SinGAN's `adjust_scales2image(real_, opt)` (`sr`: its
    `adjust_scales2image_SR`): returns (training image, `SinGANScales`). The image is in [-1, 1] (HWC or NHWC; read a PNG with
    `singan_from_uint8`, RGB channels only); it goes through `resize` at scale1
    even when scale1 is 1 (so through the uint8 round trip), as in the
    reference. `resize` defaults to the bit-exact numpy path; pass
    `imresize_like_singan` for jax."""
    h_axis = np.ndim(image) - 3
    scales = singan_scales(
        np.shape(image)[h_axis : h_axis + 2], min_size=min_size, max_size=max_size, scale_factor_init=scale_factor_init,
        sr=sr,
    )
    return resize(image, scales.scale1), scales


def singan_reals_pyramid(real, scale_factor: float, stop_scale: int, *, resize=imresize_like_singan_np) -> list:
    """SinGAN's `creat_reals_pyramid(real, [], opt)`: the training image resized
    by each of `singan_pyramid_scales`, coarsest first, stop_scale + 1 levels.
    The finest level is `real` through one more uint8 round trip (scale 1)."""
    return [resize(real, s) for s in singan_pyramid_scales(scale_factor, stop_scale)]


# ---------------------------------------------------------------------------
# ConSinGAN's pyramid (ConSinGAN/functions.py).
# ---------------------------------------------------------------------------


class ConSinGANScales(NamedTuple):
    """What ConSinGAN's `adjust_scales2image` writes into `opt`."""

    stop_scale: int  # opt.stop_scale = train_stages - 1: the pyramid has train_stages levels
    scale1: float  # opt.scale1
    scale_factor: float  # opt.scale_factor
    real_hw: tuple[int, int]  # (H, W) of the training image (finest level)


def consingan_scales(
    image_hw: Sequence[int], *, train_stages: int = 6, min_size: int = 25, max_size: int = 250
) -> ConSinGANScales:
    """ConSinGAN's `adjust_scales2image` on shapes only: the number of levels is
    `train_stages` (not derived from the image as in SinGAN); the image's
    longer side is capped at `max_size` and the ratio is chosen so that the
    coarsest level's shorter side is `min_size`. Defaults are ConSinGAN's
    (its animation mode uses min_size 20, harmonization e.g. 120)."""
    h, w = (int(s) for s in image_hw)
    if train_stages < 2:
        raise ValueError(f"train_stages must be >= 2, got {train_stages} (the reference divides by train_stages - 1)")
    stop_scale = train_stages - 1
    scale1 = min(max_size / max(h, w), 1)
    real_hw = resize_output_shape((h, w), scale1)
    scale_factor = math.pow(min_size / min(real_hw), 1 / stop_scale)
    return ConSinGANScales(stop_scale, scale1, scale_factor, real_hw)


def consingan_pyramid_scales(scale_factor: float, stop_scale: int, *, harmonization: bool = False) -> list[float]:
    """The scale of each resized level, coarsest first (stop_scale of them; the
    finest level is the training image itself). `create_reals_pyramid`'s
    "old" rule for harmonization: scale_factor ** (stop_scale - i); otherwise
    its new rule, which spends more levels near the finest resolution:
    scale_factor ** ((stop_scale - 1) / ln(stop_scale) * ln(stop_scale - i) + 1).
    """
    if harmonization:
        return [math.pow(scale_factor, stop_scale - i) for i in range(stop_scale)]
    if stop_scale < 2:
        raise ValueError("ConSinGAN's rescaling divides by ln(stop_scale): train_stages must be >= 3")
    return [
        math.pow(scale_factor, ((stop_scale - 1) / math.log(stop_scale)) * math.log(stop_scale - i) + 1)
        for i in range(stop_scale)
    ]


def consingan_pyramid_shapes(scales: ConSinGANScales, *, harmonization: bool = False) -> list[tuple[int, int]]:
    """(H, W) of each level of ConSinGAN's pyramid, coarsest first."""
    levels = consingan_pyramid_scales(scales.scale_factor, scales.stop_scale, harmonization=harmonization)
    return [resize_output_shape(scales.real_hw, s) for s in levels] + [tuple(scales.real_hw)]


def consingan_adjust_scales2image(
    image, *, train_stages: int = 6, min_size: int = 25, max_size: int = 250, resize=imresize_like_singan_np
):
    """ConSinGAN's `adjust_scales2image(real_, opt)`: returns (training image,
    `ConSinGANScales`); the image goes through `resize` at scale1 (also when it
    is 1), as in the reference. Image conventions as
    `singan_adjust_scales2image`."""
    h_axis = np.ndim(image) - 3
    scales = consingan_scales(
        np.shape(image)[h_axis : h_axis + 2], train_stages=train_stages, min_size=min_size, max_size=max_size
    )
    return resize(image, scales.scale1), scales


def consingan_reals_pyramid(
    real, scale_factor: float, stop_scale: int, *, harmonization: bool = False, resize=imresize_like_singan_np
) -> list:
    """ConSinGAN's `create_reals_pyramid(real, opt)` (`harmonization` for its
    train_mode "harmonization"): `real` resized by each of
    `consingan_pyramid_scales`, coarsest first, then `real` itself unchanged
    (no extra round trip, unlike SinGAN): stop_scale + 1 levels."""
    levels = consingan_pyramid_scales(scale_factor, stop_scale, harmonization=harmonization)
    return [resize(real, s) for s in levels] + [real]
