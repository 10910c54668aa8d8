"""Multi-scale sliced Wasserstein distance (SWD) between image patches: does a
single-image GAN (SinGAN) draw images with the patch statistics of its one
training image? Weight-free, runs on the CPU in seconds.

    from jaxgan.eval.patch_swd import patch_swd, shifted_baseline, blurred_baseline
    r = patch_swd(samples, image)              # samples [N, H, W, C], image [H, W, C], both in [-1, 1]
    r.per_level, r.mean                        # finest level first
    shifted_baseline(image).mean               # the measure's floor: the image against itself moved 4 px
    blurred_baseline(image, sigma=1.0).mean    # samples scoring below this beat a blur of the image

The definition follows Karras et al. 2018 ("Progressive growing of GANs",
section 5, and their sliced_wasserstein.py), adapted to one image:

1. Laplacian pyramid of every image: the 5-tap binomial filter
   [1, 4, 6, 4, 1] / 16 (separable, mirrored borders, as cv2.pyrDown), L levels
   down to the resolution whose smaller side is still >= `min_size` after
   halving (rounding up): 32 px, so 128 px -> 3 levels (128, 64, 32), 250x188
   -> 3 (down to 63x47). Level l < L-1 is the band G_l - G_{l+1}, level L-1 the
   low-pass G_{L-1}.
   Laplacian rather than Gaussian (`pyramid="gaussian"` has that) since a
   Laplacian level holds one octave of detail and nothing coarser: a level's
   distance says at which scale the statistics are off (SinGAN's generators
   work one scale each), and a fine level is not dominated by the coarse
   structure, which a 7x7 patch of a fine Gaussian level sees as a smooth
   gradient (a blur, which removes the finest band, shows much more clearly).
   Undecimated by default: level l stays at full size (G_{l+1} = G_l blurred
   with the binomial filter dilated 2^l px) and its patches take every 2^l-th
   pixel. The decimated pyramid's G_l is the undecimated one at multiples of
   2^l (away from the borders), so these patches are the decimated ones at
   every position rather than one in 4^l (the bands, G_l - G_{l+1} instead of
   G_l - up(G_{l+1}), are the same octaves without the up-sampling). That makes the measure shift-invariant and the coarse levels'
   patch sets 4^l times larger (one image has few coarse patches), where the
   decimated pyramid's (`decimate=True`, Karras et al.'s G_l - up(G_{l+1}))
   depend on where its subsampling grid falls (on the test image below,
   shifted_baseline: 0.0154 decimated, 0.0137 undecimated).
   `min_size` 32, not Karras et al.'s 16: one image's 16 px level has 7x7
   patches spanning 44% of its side, about 100 independent ones, a comparison
   of global layouts that SinGAN varies on purpose. On the test image with
   min_size=16, that level gave 0.054 for the image moved by 4 px and 0.29 for
   another image of the same random process, 5-6x the finer levels' values,
   and the mean over levels could no longer tell the shifted copy (0.022)
   from the blurred one (0.025).
2. At each level, every k x k patch (k = 7, pixels 2^l apart, stride 1,
   inside the image) of all the images of a set, as a vector of k*k*C values.
   A set with more than `max_patches` (2^15) patches is replaced by a seeded
   random subset of that many (both sets with one key: equal inputs, equal
   subsets). The subset costs a noise floor of about 0.008 (2^14: 0.013, 2^16:
   0.003, measured with 1 px shifts on a 256 px image of the kind below) and
   halves the time per halving of max_patches.
3. Each patch set is normalised per channel as Karras et al. do: the mean of
   that channel over all the set's patch values subtracted, divided by their
   std (`normalize="each"`). So a global colour shift or a contrast change per
   channel costs nothing; `normalize="reference"` normalises both sets with the
   training image's statistics instead, so that these count.
4. Sliced Wasserstein-1, as Karras et al. (`p=2`: sliced W2): `repeats` (4) x
   `num_projections` (128) random unit directions in R^(k*k*C), seeded, new for
   each level, the same for both sets; both sets projected on each and sorted;
   the exact 1-D W1 between the two empirical distributions: the mean
   |difference| of the sorted values for sets of one size, and for sizes
   n != m the integral of |F_a^-1(t) - F_b^-1(t)| over t, exactly, on the
   n + m - 1 intervals where both quantile functions are constant (so sets
   of different sizes are compared whole, not trimmed to one size); averaged
   over the directions. For p = 2: sqrt of the mean of W2^2.
5. Reported: the distance of each level (finest first) and their mean.

The numbers are in units of the normalised patch values (unit std per
channel): comparable between models on one image and setting, not between
images or settings. Hence the two baselines on the same image, with the same
settings. Measured with the defaults on the 128 px procedural test image
(dead leaves with shading and noise, tests/test_eval_patch_swd.py; levels
128, 64, 32): itself 0; moved by 4 px 0.014 (0.005, 0.010, 0.026); blurred,
sigma 1: 0.032 (0.073, 0.017, 0.006), sigma 2: 0.068; another image of the
same process 0.073 (8 of them against it: 0.050); a smooth random field 0.14,
white noise 0.13. 8 samples of 128 px against the image take about 3 s on 2
busy CPU cores (jnp.sort instead of numpy's: 20 s), the first call 5 s more
to compile.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

PATCH_SIZE = 7
MIN_SIZE = 32
NUM_PROJECTIONS = 128
REPEATS = 4
MAX_PATCHES = 2 ** 15

_BINOMIAL = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0


class PatchSWD(NamedTuple):
    """Sliced Wasserstein distances of the patch sets, finest level first."""
    per_level: tuple[float, ...]
    mean: float
    # (height, width): the samples' resolution at each level (halved, rounding up, per level; the
    # undecimated levels are kept at full size, their patches' pixels 2^l apart)
    level_sizes: tuple[tuple[int, int], ...]

    def as_dict(self, prefix: str = "patch_swd") -> dict[str, float]:
        """{prefix}_level{l} and {prefix}_mean, e.g. for a metrics writer."""
        out = {f"{prefix}_level{i}": v for i, v in enumerate(self.per_level)}
        out[f"{prefix}_mean"] = self.mean
        return out


# ---------------------------------------------------------------------------
# Filters and pyramids (NHWC; separable, mirrored borders)


def _filter_axis(x: jax.Array, taps: np.ndarray, axis: int, dilation: int = 1) -> jax.Array:
    """Correlate x with the 1-D `taps` (odd length), spaced `dilation` pixels
    apart, along `axis`, borders mirrored without repeating the edge
    (d c b | a b c d: numpy's "reflect", scipy.ndimage's "mirror"); same size."""
    r = (len(taps) // 2) * dilation
    if x.shape[axis] <= r:
        raise ValueError(f"an image side of {x.shape[axis]} px is too small for a filter of radius {r} px")
    pad = [(0, 0)] * x.ndim
    pad[axis] = (r, r)
    xp = jnp.pad(x, pad, mode="reflect")
    n = x.shape[axis]
    return sum(float(t) * jax.lax.slice_in_dim(xp, i * dilation, i * dilation + n, axis=axis)
               for i, t in enumerate(taps))


def _filter2d(x: jax.Array, taps: np.ndarray, dilation: int = 1) -> jax.Array:
    return _filter_axis(_filter_axis(x, taps, 1, dilation), taps, 2, dilation)


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The normalised 1-D Gaussian of scipy.ndimage.gaussian_filter: radius
    int(truncate * sigma + 0.5)."""
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    r = int(truncate * sigma + 0.5)
    t = np.arange(-r, r + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


@functools.partial(jax.jit, static_argnames=("sigma", "truncate"))
def gaussian_blur(images: jax.Array, sigma: float, truncate: float = 4.0) -> jax.Array:
    """Gaussian blur of NHWC images, each channel separately, mirrored borders:
    scipy.ndimage.gaussian_filter(x, (0, sigma, sigma, 0), mode="mirror")."""
    return _filter2d(jnp.asarray(images, jnp.float32), gaussian_kernel(sigma, truncate))


def pyr_down(images: jax.Array) -> jax.Array:
    """cv2.pyrDown: binomial blur, then every second pixel from the first
    ([H, W] -> [ceil(H/2), ceil(W/2)])."""
    return _filter2d(images, _BINOMIAL)[:, ::2, ::2]


def pyr_up(images: jax.Array, size: tuple[int, int]) -> jax.Array:
    """cv2.pyrUp to `size` (<= twice the input's): zeros inserted between the
    pixels, blurred with 4x the binomial filter."""
    n, h, w, c = images.shape
    if not (size[0] <= 2 * h and size[1] <= 2 * w):
        raise ValueError(f"pyr_up of {h}x{w} to {size}: at most twice the size")
    z = jnp.zeros((n, 2 * h, 2 * w, c), images.dtype).at[:, ::2, ::2].set(images)
    return _filter2d(z[:, :size[0], :size[1]], 2.0 * _BINOMIAL)


def num_levels(height: int, width: int, min_size: int = MIN_SIZE) -> int:
    """How many levels halving (rounding up) keeps the smaller side >= min_size
    (at least 1): with 32, 128 -> 3 (128, 64, 32), 250x188 -> 3 (down to 63x47)."""
    levels, s = 1, min(height, width)
    while (s + 1) // 2 >= min_size:
        levels, s = levels + 1, (s + 1) // 2
    return levels


def gaussian_pyramid(images: jax.Array, levels: int, decimate: bool = False) -> list[jax.Array]:
    """`levels` Gaussian levels G_0 = images, G_1, ...: decimate=True: each
    pyr_down of the one before (halving); False (undecimated, "a trous"): all
    at full size, G_{l+1} = G_l blurred with the binomial filter dilated 2^l
    px, which is G_{l+1} of the decimated pyramid before its subsampling
    (decimated G_l = undecimated G_l[::2^l, ::2^l] away from the borders)."""
    out = [jnp.asarray(images, jnp.float32)]
    for level in range(levels - 1):
        out.append(pyr_down(out[-1]) if decimate else _filter2d(out[-1], _BINOMIAL, 2 ** level))
    return out


def laplacian_pyramid(images: jax.Array, levels: int, decimate: bool = False) -> list[jax.Array]:
    """Band-pass levels and the low-pass last one, summing back up to the
    images (`reconstruct`): decimate=True: [G_0 - up(G_1), ..., G_{L-1}] (Burt
    and Adelson, Karras et al.); False: [G_0 - G_1, ..., G_{L-2} - G_{L-1},
    G_{L-1}] of the undecimated Gaussian pyramid, all at full size."""
    g = gaussian_pyramid(images, levels, decimate)
    if decimate:
        return [g[i] - pyr_up(g[i + 1], g[i].shape[1:3]) for i in range(levels - 1)] + [g[-1]]
    return [g[i] - g[i + 1] for i in range(levels - 1)] + [g[-1]]


def reconstruct(laplacian: list[jax.Array]) -> jax.Array:
    """The images a Laplacian pyramid (either kind) came from."""
    x = laplacian[-1]
    for band in reversed(laplacian[:-1]):
        x = band + (x if x.shape == band.shape else pyr_up(x, band.shape[1:3]))
    return x


# ---------------------------------------------------------------------------
# Patches


def _patch_grid(shape: tuple[int, ...], patch_size: int, dilation: int) -> tuple[int, int, int]:
    """(N, rows, columns) of the patch positions of NHWC images."""
    n, h, w, _ = shape
    span = (patch_size - 1) * dilation + 1
    if h < span or w < span:
        raise ValueError(f"images of {h}x{w} px have no {patch_size}x{patch_size} patch of {span}x{span} px: "
                         "use fewer levels or a smaller patch_size")
    return n, h - span + 1, w - span + 1


def num_patches(shape: tuple[int, ...], patch_size: int = PATCH_SIZE, dilation: int = 1) -> int:
    """How many patches extract_patches takes from NHWC images of `shape`."""
    n, rows, cols = _patch_grid(shape, patch_size, dilation)
    return n * rows * cols


def extract_patches(images: jax.Array, patch_size: int = PATCH_SIZE, dilation: int = 1,
                    index: jax.Array | None = None) -> jax.Array:
    """patch_size x patch_size patches of NHWC images, their pixels `dilation`
    px apart, fully inside the image: [P, k*k, C], the pixels in row-major
    order. Every stride-1 position, ordered by image, row, column, or those at
    `index` (flat positions in that order, [P] ints < num_patches)."""
    n, rows, cols = _patch_grid(images.shape, patch_size, dilation)
    k = patch_size
    index = jnp.arange(n * rows * cols, dtype=jnp.int32) if index is None else jnp.asarray(index, jnp.int32)
    b, r = index // (rows * cols), index % (rows * cols)
    y, x = r // cols, r % cols
    off = np.arange(k) * dilation
    oy, ox = np.repeat(off, k), np.tile(off, k)
    return images[b[:, None], y[:, None] + oy, x[:, None] + ox]


def _channel_stats(patches: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean and std over all values of a [P, k*k, C] patch set."""
    mean = patches.mean(axis=(0, 1))
    std = jnp.sqrt(((patches - mean) ** 2).mean(axis=(0, 1)))
    return mean, jnp.maximum(std, 1e-8)  # a flat channel: 0 / eps = 0, not NaN


# ---------------------------------------------------------------------------
# Sliced Wasserstein distance


def projection_directions(key: jax.Array, dim: int, num_projections: int = NUM_PROJECTIONS,
                          repeats: int = REPEATS) -> jax.Array:
    """[repeats, num_projections, dim] random unit vectors, uniform on the
    sphere: normalised Gaussians."""
    # drawn flat: XLA:CPU compiles threefry on a rank-3 shape several times slower
    d = jax.random.normal(key, (repeats * num_projections * dim,), jnp.float32).reshape(repeats, num_projections, dim)
    return d / jnp.linalg.norm(d, axis=-1, keepdims=True)


@functools.lru_cache(maxsize=64)
def _quantile_pairs(n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The intervals of [0, 1] on which the quantile functions of n and of m
    equally weighted points are both constant: for each, the index of the
    sorted value of each set there and the interval's length. The breakpoints
    i/n and j/m are merged exactly on the integer grid of 1/(n m); empty
    intervals (equal breakpoints) dropped. n == m: (i, i, 1/n) for each i."""
    keys = np.concatenate([np.arange(1, n + 1, dtype=np.int64) * m, np.arange(1, m + 1, dtype=np.int64) * n])
    from_a = np.concatenate([np.ones(n, bool), np.zeros(m, bool)])
    order = np.argsort(keys, kind="stable")
    keys, from_a = keys[order], from_a[order]
    widths = np.diff(keys, prepend=0)
    ia = np.cumsum(from_a) - from_a  # breakpoints of a before this interval: a's quantile index on it
    ib = np.cumsum(~from_a) - ~from_a
    keep = widths > 0
    return (ia[keep].astype(np.int32), ib[keep].astype(np.int32),
            (widths[keep] / (np.float64(n) * m)).astype(np.float32))


def wasserstein_1d_sorted(a_sorted: jax.Array, b_sorted: jax.Array, p: int = 1) -> jax.Array:
    """W_p^p between the empirical distributions of the rows of [K, n] and
    [K, m] arrays sorted along the last axis (rows independent): the integral
    of |F_a^-1(t) - F_b^-1(t)|^p over t in [0, 1], exactly. [K] out."""
    n, m = a_sorted.shape[-1], b_sorted.shape[-1]
    if n == m:
        return jnp.mean(jnp.abs(a_sorted - b_sorted) ** p, axis=-1)
    ia, ib, w = _quantile_pairs(n, m)
    return jnp.abs(a_sorted[..., ia] - b_sorted[..., ib]) ** p @ w


def _sort_rows(x: jax.Array, host: bool) -> jax.Array:
    """x sorted along its last axis: jnp.sort, or numpy's sort on the host
    (host=True: about 10x faster than XLA:CPU's; equal values out)."""
    if not host:
        return jnp.sort(x, axis=-1)
    return jax.pure_callback(lambda v: np.sort(np.asarray(v), axis=-1), jax.ShapeDtypeStruct(x.shape, x.dtype), x)


def sliced_wasserstein(a: jax.Array, b: jax.Array, key: jax.Array, num_projections: int = NUM_PROJECTIONS,
                       repeats: int = REPEATS, p: int = 1, host_sort: bool = False) -> jax.Array:
    """Sliced Wasserstein-p distance of point sets a [n, D] and b [m, D]: both
    projected on the same `repeats` x `num_projections` random unit directions
    (projection_directions(key, D, ...)), the exact 1-D W_p on each; p = 1: the
    mean W1 over the directions, p = 2: sqrt of the mean W2^2. One repeat's
    projections are in memory at a time. host_sort: sort with numpy on the
    host (jit still works; the CPU's faster sort, a round trip on accelerators)."""
    a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not a.shape[0] or not b.shape[0]:
        raise ValueError(f"need point sets [n, D] and [m, D], got {a.shape} and {b.shape}")
    return _sliced(a, b, projection_directions(key, a.shape[1], num_projections, repeats), p, host_sort)


def _sliced(a: jax.Array, b: jax.Array, dirs: jax.Array, p: int, host_sort: bool) -> jax.Array:
    """sliced_wasserstein on given directions [repeats, K, D]."""
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p}")

    def one_repeat(d):  # [K, D]: sorting rows (the last axis) is XLA:CPU's faster layout
        return wasserstein_1d_sorted(_sort_rows(d @ a.T, host_sort), _sort_rows(d @ b.T, host_sort), p).mean()

    wpp = jax.lax.map(one_repeat, dirs).mean()
    return wpp if p == 1 else jnp.sqrt(wpp)


# ---------------------------------------------------------------------------
# Patch SWD of images


def _as_batch(x, name: str) -> jax.Array:
    x = jnp.asarray(x, jnp.float32)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"{name} must be NHWC images (or one HWC image), got shape {x.shape}")
    return x


def _level_shapes(shape, levels: int, decimate: bool) -> list[tuple[int, int]]:
    h, w = shape[1:3]
    out = []
    for _ in range(levels):
        out.append((h, w))
        if decimate:
            h, w = (h + 1) // 2, (w + 1) // 2
    return out


def _check(samples, image, levels, patch_size, min_size, pyramid, normalize, decimate):
    if samples.shape[-1] != image.shape[-1]:
        raise ValueError(f"samples have {samples.shape[-1]} channels, the image {image.shape[-1]}")
    if pyramid not in ("laplacian", "gaussian"):
        raise ValueError(f"pyramid must be 'laplacian' or 'gaussian', got {pyramid!r}")
    if normalize not in ("each", "reference"):
        raise ValueError(f"normalize must be 'each' or 'reference', got {normalize!r}")
    auto = min(num_levels(*samples.shape[1:3], min_size), num_levels(*image.shape[1:3], min_size))
    levels = auto if levels is None else int(levels)
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    for x in (samples, image):
        for level, (h, w) in enumerate(_level_shapes(x.shape, levels, decimate)):
            d = 1 if decimate else 2 ** level
            if min(h, w) <= 2 * (d if level < levels - 1 else 1) or min(h, w) < (patch_size - 1) * d + 1:
                raise ValueError(f"{levels} levels are too many for {x.shape[1]}x{x.shape[2]} images: level {level}'s "
                                 f"{patch_size}x{patch_size} patches would not fit")
    return levels


@functools.partial(jax.jit, static_argnames=("levels", "patch_size", "num_projections", "repeats", "p",
                                             "max_patches", "pyramid", "decimate", "normalize", "host_sort"))
def patch_swd_levels(samples: jax.Array, image: jax.Array, key: jax.Array, *, levels: int,
                     patch_size: int = PATCH_SIZE, num_projections: int = NUM_PROJECTIONS, repeats: int = REPEATS,
                     p: int = 1, max_patches: int | None = None, pyramid: str = "laplacian",
                     decimate: bool = False, normalize: str = "each", host_sort: bool = False) -> jax.Array:
    """The jitted core of patch_swd: [levels] distances, finest first, between
    the patches of NHWC `samples` and of NHWC `image` (the reference: one or
    more images). `key` draws each level's directions and subsets (the same
    random numbers for both sets: equal inputs, equal subsets, distance 0)."""
    build = laplacian_pyramid if pyramid == "laplacian" else gaussian_pyramid
    pa, pb = build(samples, levels, decimate), build(image, levels, decimate)
    dilations = [1 if decimate else 2 ** level for level in range(levels)]
    totals = [(num_patches(x.shape, patch_size, d), num_patches(y.shape, patch_size, d))
              for x, y, d in zip(pa, pb, dilations)]
    # Two random draws for all levels (each draw's code compiles slowly on the CPU): the directions, and
    # uniforms whose smallest max_patches pick a level's subsets, the same uniforms for both sets
    k_dirs, k_sub = jax.random.split(key)
    dirs = projection_directions(k_dirs, patch_size * patch_size * samples.shape[-1], num_projections,
                                 repeats * levels).reshape(levels, repeats, num_projections, -1)
    sub_sizes = [max(t) if max_patches is not None and max(t) > max_patches else 0 for t in totals]
    u = jax.random.uniform(k_sub, (sum(sub_sizes),)) if sum(sub_sizes) else None
    out, offset = [], 0
    for level in range(levels):
        u_level = None if u is None else u[offset:offset + sub_sizes[level]]
        offset += sub_sizes[level]
        sets = []
        for x, total in zip((pa[level], pb[level]), totals[level]):
            index = None
            if max_patches is not None and total > max_patches:
                index = jnp.argsort(u_level[:total])[:max_patches]
            sets.append(extract_patches(x, patch_size, dilations[level], index))
        a, b = sets
        mean_b, std_b = _channel_stats(b)
        mean_a, std_a = (mean_b, std_b) if normalize == "reference" else _channel_stats(a)
        a = ((a - mean_a) / std_a).reshape(a.shape[0], -1)
        b = ((b - mean_b) / std_b).reshape(b.shape[0], -1)
        out.append(_sliced(a, b, dirs[level], p, host_sort))
    return jnp.stack(out)


def patch_swd(samples, image, *, seed: int = 0, levels: int | None = None, patch_size: int = PATCH_SIZE,
              min_size: int = MIN_SIZE, num_projections: int = NUM_PROJECTIONS, repeats: int = REPEATS, p: int = 1,
              max_patches: int | None = MAX_PATCHES, pyramid: str = "laplacian", decimate: bool = False,
              normalize: str = "each", host_sort: bool | None = None) -> PatchSWD:
    """Multi-scale patch SWD of generated `samples` [N, H, W, C] (or one
    [H, W, C]) against the training `image` [H, W, C] (or [M, H, W, C]), NHWC
    floats, the library's [-1, 1] (the default normalisation makes the scale
    irrelevant). Sizes may differ (SinGAN draws other sizes too); `levels`
    (default: down to `min_size` px on the smaller side of both) is the same for
    both. See the module docstring for the definition; `seed` fixes the
    directions and subsets, so equal inputs and seed give equal numbers.
    host_sort (default: on a CPU backend) sorts the projections with numpy."""
    if host_sort is None:
        host_sort = jax.default_backend() == "cpu"
    samples, image = _as_batch(samples, "samples"), _as_batch(image, "image")
    levels = _check(samples, image, levels, patch_size, min_size, pyramid, normalize, decimate)
    d = patch_swd_levels(samples, image, jax.random.key(seed), levels=levels, patch_size=patch_size,
                         num_projections=num_projections, repeats=repeats, p=p, max_patches=max_patches,
                         pyramid=pyramid, decimate=decimate, normalize=normalize, host_sort=host_sort)
    d = np.asarray(d, np.float64)
    return PatchSWD(tuple(float(v) for v in d), float(d.mean()), tuple(_level_shapes(samples.shape, levels, True)))


def shifted_baseline(image, shift: int = 4, **kwargs) -> PatchSWD:
    """patch_swd of the training image against itself moved by `shift` pixels
    down and right, both cropped to their overlap ([H - s, W - s]), with the
    uncropped image's number of levels: near 0, the floor of the measure on
    this image: the same patches but for those within s px of an edge (which
    matters at the coarse levels, where a single image has few independent
    patches; with decimate=True, also a different subsampling grid), and the
    subsets when there are more than max_patches. It grows with the shift."""
    x = _as_batch(image, "image")
    if x.shape[0] != 1:
        raise ValueError(f"shifted_baseline takes one image, got {x.shape[0]}")
    if not 0 < shift < min(x.shape[1:3]):
        raise ValueError(f"shift must be in [1, {min(x.shape[1:3]) - 1}], got {shift}")
    if kwargs.get("levels") is None:  # the uncropped image's levels, as its samples get
        kwargs["levels"] = num_levels(*x.shape[1:3], kwargs.get("min_size", MIN_SIZE))
    return patch_swd(x[:, shift:, shift:], x[:, :-shift, :-shift], **kwargs)


def blurred_baseline(image, sigma: float = 1.0, **kwargs) -> PatchSWD:
    """patch_swd of a Gaussian-blurred copy of the training image (std `sigma`
    px, mirrored borders) against the image: samples scoring below it
    reproduce the image's patch statistics better than a blur does."""
    x = _as_batch(image, "image")
    if x.shape[0] != 1:
        raise ValueError(f"blurred_baseline takes one image, got {x.shape[0]}")
    return patch_swd(gaussian_blur(x, sigma), x, **kwargs)
