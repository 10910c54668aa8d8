"""jaxgan.eval.patch_swd: the multi-scale patch SWD for single-image GANs.

Each piece against a computation written out here (numpy loops, scipy.ndimage
filters, scipy.stats.wasserstein_distance, sorted projections in numpy), then
the whole measure on a procedural natural-looking image: itself 0, a shifted
copy < a blurred copy < other textures.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage
import scipy.stats

from jaxgan.eval import patch_swd as ps


def natural_image(seed: int, size: int = 128) -> np.ndarray:
    """A "dead leaves" image (occluding disks of random colour with power-law
    radii: edges at every scale, as natural images have), each disk shaded by a
    gentle gradient, plus smooth noise; [size, size, 3] in [-1, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    img = np.zeros((size, size, 3))
    free = np.ones((size, size), bool)
    for _ in range(300):
        r = min(size * 0.02 / rng.uniform(0.02, 1.0) ** 0.6, size * 0.4)
        cy, cx = rng.uniform(-0.1, 1.1, 2) * size
        m = free & ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r)
        g = rng.normal(size=2) * 0.3 / size
        img[m] = rng.uniform(-0.9, 0.9, 3) + ((yy[m] - cy) * g[0] + (xx[m] - cx) * g[1])[:, None]
        free &= ~m
    noise = scipy.ndimage.gaussian_filter(rng.normal(size=(size, size, 3)), (2, 2, 0)) * 0.3
    return np.clip(img + noise, -1, 1).astype(np.float32)


def smooth_field(seed: int, size: int = 128) -> np.ndarray:
    """A Gaussian random field without edges, another texture."""
    f = scipy.ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=(size, size, 3)), (3, 3, 0))
    return (f / np.abs(f).max()).astype(np.float32)


@pytest.fixture(scope="module")
def image():
    return natural_image(0)


# ---------------------------------------------------------------------------
# Pieces


@pytest.mark.parametrize("dilation", [1, 2])
def test_extract_patches_equals_numpy_loops(dilation):
    x = np.random.default_rng(0).normal(size=(2, 11, 13, 3)).astype(np.float32)
    k = 3
    span = (k - 1) * dilation + 1
    ref = np.array([x[n, i:i + span:dilation, j:j + span:dilation].reshape(k * k, 3)
                    for n in range(2) for i in range(11 - span + 1) for j in range(13 - span + 1)])
    out = np.asarray(ps.extract_patches(jnp.asarray(x), k, dilation))
    assert out.shape == ref.shape == (ps.num_patches(x.shape, k, dilation), k * k, 3)
    np.testing.assert_array_equal(out, ref)
    index = np.array([0, 5, len(ref) - 1, 17, 5])
    np.testing.assert_array_equal(np.asarray(ps.extract_patches(jnp.asarray(x), k, dilation, index)), ref[index])


def test_filters_and_pyramids_equal_scipy():
    """Karras et al.'s pyr_down / pyr_up (scipy.ndimage.convolve, mode
    "mirror"), the dilated binomial of the undecimated levels and the Gaussian
    blur, each against scipy; both Laplacian pyramids sum back to the image."""
    rng = np.random.default_rng(1)
    g1 = np.array([1, 4, 6, 4, 1]) / 16.0
    g2 = np.outer(g1, g1)[None, :, :, None]

    @jax.jit
    def down_and_laplacians(x):
        laps = [ps.laplacian_pyramid(x, 3, d) for d in (True, False)]
        return ps.pyr_down(x), laps, [ps.reconstruct(lap) for lap in laps]

    for h, w in [(16, 20), (15, 21)]:
        x = rng.normal(size=(2, h, w, 3)).astype(np.float32)
        down, laps, recs = down_and_laplacians(x)
        ref = scipy.ndimage.convolve(x.astype(np.float64), g2, mode="mirror")[:, ::2, ::2]
        np.testing.assert_allclose(np.asarray(down), ref, atol=1e-5)
        for lap, rec, size in zip(laps, recs, [((h + 1) // 2, (w + 1) // 2), (h, w)]):
            assert len(lap) == 3 and lap[1].shape[1:3] == size
            np.testing.assert_allclose(np.asarray(rec), x, atol=1e-5)
            assert float(jnp.abs(lap[0]).mean()) > 0.1  # a band, not the image: reconstruct was not trivial
    x = rng.normal(size=(1, 12, 14, 2)).astype(np.float32)
    z = np.zeros((1, 24, 28, 2))
    z[:, ::2, ::2] = x
    up = scipy.ndimage.convolve(z, g2 * 4, mode="mirror")
    np.testing.assert_allclose(np.asarray(jax.jit(ps.pyr_up, static_argnums=1)(x, (24, 28))), up, atol=1e-5)
    # undecimated level 2 = the image through the binomial, then the binomial with holes of 1
    x = rng.normal(size=(1, 30, 33, 1)).astype(np.float32)
    g1d = np.zeros(9)
    g1d[::2] = g1
    ref = x.astype(np.float64)
    for taps in (g1, g1d):
        ref = scipy.ndimage.convolve1d(scipy.ndimage.convolve1d(ref, taps, 1, mode="mirror"), taps, 2, mode="mirror")
    und, dec = jax.jit(lambda x: [ps.gaussian_pyramid(x, 3, d) for d in (False, True)])(x)
    np.testing.assert_allclose(np.asarray(und[2]), ref, atol=1e-5)
    # ... whose pixels at multiples of 4 are the decimated level 2's, away from the mirrored borders
    assert dec[2].shape == (1, 8, 9, 1)
    np.testing.assert_allclose(np.asarray(dec[2])[:, 2:-2, 2:-2], np.asarray(und[2])[:, 8:-8:4, 8:-8:4], atol=1e-5)
    x = rng.normal(size=(1, 20, 17, 3)).astype(np.float32)
    ref = scipy.ndimage.gaussian_filter(x.astype(np.float64), (0, 1.5, 1.5, 0), mode="mirror")
    np.testing.assert_allclose(np.asarray(ps.gaussian_blur(x, 1.5)), ref, atol=1e-5)


def _numpy_sliced(a, b, dirs, p):
    """Written out: project on each direction, sort, compare the sorted
    values; sets of sizes n != m via their exact quantile functions (each
    sorted value of a repeated m times, of b n times)."""
    out = []
    for d in dirs.reshape(-1, dirs.shape[-1]):
        pa, pb = np.sort(a @ d), np.sort(b @ d)
        pa, pb = np.repeat(pa, len(pb)), np.repeat(pb, len(a))
        out.append(np.mean(np.abs(pa - pb) ** p))
    return np.mean(out) if p == 1 else np.sqrt(np.mean(out))


_sliced = jax.jit(ps.sliced_wasserstein, static_argnums=(3, 4, 5, 6))
_directions = jax.jit(ps.projection_directions, static_argnums=(1, 2, 3))


@pytest.mark.parametrize("n,m,p,host", [(200, 200, 1, False), (200, 130, 2, True), (40, 120, 1, True)])
def test_sliced_wasserstein_equals_numpy(n, m, p, host):
    rng = np.random.default_rng(n + m)
    a = rng.normal(size=(n, 12)).astype(np.float32)
    b = (rng.normal(size=(m, 12)) * 1.3 + 0.2).astype(np.float32)
    key = jax.random.key(3)
    dirs = np.asarray(_directions(key, 12, 16, 3), np.float64)
    assert dirs.shape == (3, 16, 12)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=-1), 1, rtol=1e-6)
    assert len(np.unique(dirs.round(6).reshape(48, 12), axis=0)) == 48
    ref = _numpy_sliced(a.astype(np.float64), b.astype(np.float64), dirs, p)
    assert ref > 0.1
    np.testing.assert_allclose(float(_sliced(a, b, key, 16, 3, p, host)), ref, rtol=2e-5)


@pytest.mark.parametrize("n,m", [(37, 53), (20, 60)])
def test_one_dimension_equals_exact_wasserstein(n, m):
    """Scalars: every direction is +-1, so the sliced W1 is the exact W1 (sizes
    37 and 53: no breakpoints shared; 20 and 60: every third shared)."""
    rng = np.random.default_rng(n * m)
    a, b = rng.normal(size=n), rng.exponential(size=m)
    out = float(_sliced(a[:, None], b[:, None], jax.random.key(0), 8, 2, 1, False))
    ref = scipy.stats.wasserstein_distance(a, b)
    assert ref > 0.1
    np.testing.assert_allclose(out, ref, rtol=1e-5)


# ---------------------------------------------------------------------------
# The measure


@pytest.mark.parametrize("kw", [{}, {"decimate": True, "max_patches": 500, "p": 2}])
def test_self_distance_is_zero(kw):
    """Also: the default normalisation ignores a per-channel contrast and
    brightness change, normalize="reference" does not."""
    x = np.stack([natural_image(s, 64) for s in (1, 2)])
    r = ps.patch_swd(x, x, **kw)
    assert len(r.per_level) == 2 and r.level_sizes == ((64, 64), (32, 32))
    assert max(r.per_level) < 1e-6
    z = np.stack([x[0], natural_image(3, 64)])
    assert ps.patch_swd(z, x, **kw).mean > 0.01  # the same call can be nonzero
    if not kw:
        y = x * np.array([0.5, 0.8, 1.0], np.float32) + np.array([0.3, -0.1, 0.0], np.float32)
        assert ps.patch_swd(y, x).mean < 1e-4
        assert ps.patch_swd(y, x, normalize="reference").mean > 0.1


def test_baselines_and_textures(image):
    """On a natural-looking image: itself 0 < moved by 4 px < blurred
    (sigma 1) < another image of the kind < a smooth random field; the blur
    shows at the finest level."""
    self_ = ps.patch_swd(image, image)
    shifted = ps.shifted_baseline(image, shift=4)
    blurred = ps.blurred_baseline(image, sigma=1.0)
    other = ps.patch_swd(natural_image(1), image)
    smooth = ps.patch_swd(smooth_field(5), image)
    assert len(shifted.per_level) == len(blurred.per_level) == 3
    assert self_.mean < 1e-6
    assert 0 < shifted.mean and 1.5 * shifted.mean < blurred.mean
    assert blurred.per_level[0] > 4 * shifted.per_level[0]
    assert other.mean > 3 * shifted.mean and other.mean > blurred.mean
    assert smooth.mean > 5 * shifted.mean and smooth.mean > 1.5 * other.mean


def test_samples_against_image_deterministic_and_jit(image):
    """Several samples of a different size against one image; equal seeds give
    equal numbers, other seeds close ones; the jitted core under another jit
    with a traced key, and with jnp.sort, gives the same."""
    samples = np.stack([natural_image(s, 64) for s in (1, 2, 3)])
    kw = dict(max_patches=4096, num_projections=32, repeats=2, host_sort=True)
    r = ps.patch_swd(samples, image, seed=7, **kw)
    assert r == ps.patch_swd(samples, image, seed=7, **kw)
    r2 = ps.patch_swd(samples, image, seed=8, **kw)
    assert r2.per_level != r.per_level
    np.testing.assert_allclose(r2.per_level, r.per_level, rtol=0.3)
    assert len(r.per_level) == 2 and r.as_dict()["patch_swd_mean"] == r.mean

    @jax.jit
    def f(x, y, key):
        return ps.patch_swd_levels(x, y, key, levels=2, max_patches=4096, num_projections=32, repeats=2)

    np.testing.assert_allclose(np.asarray(f(samples, image[None], jax.random.key(7))), r.per_level, rtol=1e-5)


def test_errors():
    x = np.zeros((1, 40, 40, 3), np.float32)
    with pytest.raises(ValueError, match="too many"):
        ps.patch_swd(x, x, levels=4)
    with pytest.raises(ValueError, match="channels"):
        ps.patch_swd(x, x[..., :1])
    with pytest.raises(ValueError, match="pyramid"):
        ps.patch_swd(x, x, pyramid="steerable")
