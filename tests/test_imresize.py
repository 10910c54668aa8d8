"""jaxgan/imresize.py against SinGAN's / ConSinGAN's imresize and pyramids.

The oracle below (`_ref_*`) is a plain-numpy transcription, step by step, of
the reference algorithm (SinGAN/imresize.py, identical in ConSinGAN, and the
pyramid functions of SinGAN/functions.py and ConSinGAN/functions.py), kept
deliberately literal (3-D scale lists, gathered taps, the uint64 cast) rather
than sharing anything with the module. Torch's float32 tensor ops in the uint8
round trip are numpy float32 ops here. A few literal values and the pyramid
shapes were obtained by running the reference code itself (torch 2.14, numpy
2.4, x86-64); they pin both the oracle and the module.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import imresize as ir

# ---------------------------------------------------------------------------
# Oracle: the reference algorithm, transcribed.
# ---------------------------------------------------------------------------


def _ref_cubic(x):
    ax = np.abs(x)
    return (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1) + (-0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2) * (
        (1 < ax) & (ax <= 2)
    )


def _ref_lanczos(a):
    eps = np.finfo(np.float32).eps
    return lambda x: (np.sin(np.pi * x) * np.sin(np.pi * x / a) + eps) / (np.pi**2 * x**2 / a + eps) * (abs(x) < a)


_REF_KERNELS = {
    "cubic": (_ref_cubic, 4.0),
    "lanczos2": (_ref_lanczos(2), 4.0),
    "lanczos3": (_ref_lanczos(3), 6.0),
    "box": (lambda x: ((-0.5 <= x) & (x < 0.5)) * 1.0, 1.0),
    "linear": (lambda x: (x + 1) * ((-1 <= x) & (x < 0)) + (1 - x) * ((0 <= x) & (x <= 1)), 2.0),
}


def _x86_uint(x):
    # The reference's np.uint(float array). x86-64 casts a negative float to
    # uint64 by wrapping around (two's complement), e.g. -3.0 -> 2**64 - 3;
    # written out so that the oracle means the same on every platform.
    return np.asarray(x).astype(np.int64).view(np.uint64)


def _ref_fix_scale_and_size(input_shape, output_shape, scale_factor):
    if scale_factor is not None:
        if np.isscalar(scale_factor):
            scale_factor = [scale_factor, scale_factor]
        scale_factor = list(scale_factor)
        scale_factor.extend([1] * (len(input_shape) - len(scale_factor)))
    if output_shape is not None:
        output_shape = list(np.uint(np.array(output_shape))) + list(input_shape[len(output_shape) :])
    if scale_factor is None:
        scale_factor = 1.0 * np.array(output_shape) / np.array(input_shape)
    if output_shape is None:
        output_shape = np.uint(np.ceil(np.array(input_shape) * np.array(scale_factor)))
    return scale_factor, output_shape


def _ref_contributions(in_length, out_length, scale, kernel, kernel_width, antialiasing):
    fixed_kernel = (lambda arg: scale * kernel(scale * arg)) if antialiasing else kernel
    kernel_width *= 1.0 / scale if antialiasing else 1.0
    out_coordinates = np.arange(1, out_length + 1)
    match_coordinates = 1.0 * out_coordinates / scale + 0.5 * (1 - 1.0 / scale)
    left_boundary = np.floor(match_coordinates - kernel_width / 2)
    expanded_kernel_width = np.ceil(kernel_width) + 2
    field_of_view = _x86_uint(left_boundary[:, None] + np.arange(expanded_kernel_width) - 1)
    weights = fixed_kernel(1.0 * match_coordinates[:, None] - field_of_view - 1)
    sum_weights = np.sum(weights, axis=1)
    sum_weights[sum_weights == 0] = 1.0
    weights = 1.0 * weights / sum_weights[:, None]
    mirror = np.uint(np.concatenate((np.arange(in_length), np.arange(in_length - 1, -1, step=-1))))
    field_of_view = mirror[np.mod(field_of_view, mirror.shape[0])]
    # The reference also squeezes both arrays, which only breaks its own
    # degenerate cases (one output pixel, or one tap): left out.
    keep = np.nonzero(np.any(weights, axis=0))[0]
    return weights[:, keep], field_of_view[:, keep]


def _ref_resize_along_dim(im, dim, weights, field_of_view):
    tmp_im = np.swapaxes(im, dim, 0)
    weights = np.reshape(weights.T, list(weights.T.shape) + (np.ndim(im) - 1) * [1])
    tmp_out_im = np.sum(tmp_im[field_of_view.T] * weights, axis=0)
    return np.swapaxes(tmp_out_im, dim, 0)


def _ref_imresize_in(im, scale_factor=None, output_shape=None, kernel="cubic", antialiasing=True):
    """The reference's `imresize_in` on one HWC numpy image."""
    scale_factor, output_shape = _ref_fix_scale_and_size(im.shape, output_shape, scale_factor)
    method, kernel_width = _REF_KERNELS[kernel]
    antialiasing *= scale_factor[0] < 1
    out_im = np.copy(im)
    for dim in np.argsort(np.array(scale_factor)).tolist():
        if scale_factor[dim] == 1.0:
            continue
        weights, fov = _ref_contributions(
            im.shape[dim], output_shape[dim], scale_factor[dim], method, kernel_width, antialiasing
        )
        out_im = _ref_resize_along_dim(out_im, dim, weights, fov)
    return out_im


def _ref_torch2uint8(x):
    # x: one HWC float32 image (the reference permutes NCHW[0] to HWC first).
    x = x.astype(np.float32)
    out = np.clip((x + np.float32(1)) / np.float32(2), np.float32(0), np.float32(1))
    return (np.float32(255) * out).astype(np.uint8)


def _ref_np2torch(x):
    # nc_im == 3 branch: / 255 on the numpy array (float64), .type(FloatTensor), norm().
    x = (x / 255).astype(np.float32)
    return np.clip((x - np.float32(0.5)) * np.float32(2), np.float32(-1), np.float32(1))


def _ref_imresize(im, scale=None, output_shape=None):
    """The reference's `imresize(im, scale, opt)` / `imresize_to_shape`."""
    return _ref_np2torch(_ref_imresize_in(_ref_torch2uint8(im), scale_factor=scale, output_shape=output_shape))


def _ref_singan_adjust_scales2image(real_, min_size=25, max_size=250, scale_factor_init=0.75):
    h, w = real_.shape[:2]
    num_scales = math.ceil((math.log(math.pow(min_size / (min(h, w)), 1), scale_factor_init))) + 1
    scale2stop = math.ceil(math.log(min([max_size, max([h, w])]) / max([h, w]), scale_factor_init))
    stop_scale = num_scales - scale2stop
    scale1 = min(max_size / max([h, w]), 1)
    real = _ref_imresize(real_, scale1)
    scale_factor = math.pow(min_size / (min(real.shape[0], real.shape[1])), 1 / (stop_scale))
    return real, dict(num_scales=num_scales, stop_scale=stop_scale, scale1=scale1, scale_factor=scale_factor)


def _ref_singan_adjust_scales2image_sr(hw, min_size=18, max_size=250, scale_factor_init=0.75):
    # SinGAN/functions.py adjust_scales2image_SR on an NCHW shape (real_.shape[0] is the batch: 1)
    shape = (1, 3, *hw)
    num_scales = int((math.log(min_size / min(shape[2], shape[3]), scale_factor_init))) + 1
    scale2stop = int(math.log(min(max_size, max(shape[2], shape[3])) / max(shape[0], shape[3]), scale_factor_init))
    stop_scale = num_scales - scale2stop
    scale1 = min(max_size / max([shape[2], shape[3]]), 1)
    real_hw = ir.resize_output_shape(hw, scale1)
    scale_factor = math.pow(min_size / min(real_hw), 1 / stop_scale)
    return dict(num_scales=num_scales, stop_scale=stop_scale, scale1=scale1, scale_factor=scale_factor)


def _ref_calc_init_scale(sr_factor):
    in_scale = math.pow(1 / 2, 1 / 3)
    iter_num = round(math.log(1 / sr_factor, in_scale))
    in_scale = pow(sr_factor, 1 / iter_num)
    return in_scale, iter_num


@pytest.mark.parametrize("hw, max_size", [((512, 512), 250), ((300, 451), 250), ((451, 300), 250), ((400, 600), 28),
                                          ((120, 80), 250)])
@pytest.mark.parametrize("sr_factor", [2.0, 4.0, 8.0])
def test_singan_super_resolution_scales_are_the_references(hw, max_size, sr_factor):
    in_scale, iter_num = ir.singan_sr_scale(sr_factor)
    assert (in_scale, iter_num) == _ref_calc_init_scale(sr_factor)
    scales = ir.singan_scales(hw, min_size=18, max_size=max_size, scale_factor_init=1 / in_scale, sr=True)
    ref = _ref_singan_adjust_scales2image_sr(hw, max_size=max_size, scale_factor_init=1 / in_scale)
    assert scales._asdict() == dict(ref, real_hw=scales.real_hw)
    assert ir.singan_sr_scale(4.0)[1] == 6


def _ref_singan_creat_reals_pyramid(real, stop_scale, scale_factor):
    reals = []
    for i in range(0, stop_scale + 1, 1):
        scale = math.pow(scale_factor, stop_scale - i)
        reals.append(_ref_imresize(real, scale))
    return reals


def _ref_consingan_adjust_scales2image(real_, train_stages=6, min_size=25, max_size=250):
    scale1 = min(max_size / max([real_.shape[0], real_.shape[1]]), 1)
    real = _ref_imresize(real_, scale1)
    stop_scale = train_stages - 1
    scale_factor = math.pow(min_size / (min(real.shape[0], real.shape[1])), 1 / stop_scale)
    return real, dict(stop_scale=stop_scale, scale1=scale1, scale_factor=scale_factor)


def _ref_consingan_create_reals_pyramid(real, stop_scale, scale_factor, train_mode="generation"):
    reals = []
    if train_mode == "harmonization":
        for i in range(stop_scale):
            scale = math.pow(scale_factor, stop_scale - i)
            reals.append(_ref_imresize(real, scale))
    else:
        for i in range(stop_scale):
            scale = math.pow(scale_factor, ((stop_scale - 1) / math.log(stop_scale)) * math.log(stop_scale - i) + 1)
            reals.append(_ref_imresize(real, scale))
    reals.append(real)
    return reals


# ---------------------------------------------------------------------------
# Helpers.
# ---------------------------------------------------------------------------


def _image(shape, seed, kind="float"):
    rng = np.random.default_rng(seed)
    if kind == "uint8":
        return rng.integers(0, 256, size=shape).astype(np.uint8)
    return rng.uniform(-1, 1, size=shape)


def _singan_image(shape, seed):
    """An image in [-1, 1] as the references read one (PNG -> np2torch), with
    a flat dark band (flat regions and levels < 64 are where truncation bites)."""
    im = _image(shape, seed, "uint8")
    im[: shape[0] // 3] = 40
    return _ref_np2torch(im)


def _close(actual, expected, tol=1e-5):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * max(1.0, float(np.abs(expected).max())))


# ---------------------------------------------------------------------------
# The resize.
# ---------------------------------------------------------------------------

RESIZE_CASES = [
    # (input HWC shape, scale, output_shape)
    ((16, 16, 3), 2.0, None),  # upscale, integer factor
    ((13, 17, 3), 1.5, None),  # upscale, odd sizes, ceil(19.5) / ceil(25.5)
    ((12, 20, 1), 1 / 0.75, None),  # SinGAN's 1 / scale_factor upscale
    ((32, 24, 4), 0.5, None),  # downscale, antialiasing
    ((31, 9, 3), 0.75, None),  # non-integer downscale, odd sizes
    ((40, 50, 2), 0.75**3, None),  # SinGAN level scale
    ((25, 37, 3), 0.77, None),  # arbitrary factor
    ((21, 30, 3), [0.6, 1.4], None),  # per-dimension scales: H down, W up
    ((21, 30, 1), [1.3], None),  # H only
    ((27, 19, 3), None, (20, 44)),  # H down (antialias on, also for W's upscale), W up
    ((18, 30, 3), None, (41, 13)),  # H up (antialias off, also for W's downscale), W down
    ((15, 22, 5), None, (15, 9)),  # H unchanged (skipped), W down
    ((10, 10, 3), None, (7,)),  # H only, via output_shape
]


@pytest.mark.parametrize("shape,scale,output_shape", RESIZE_CASES)
@pytest.mark.parametrize("kind", ["float", "uint8"])
def test_resize_matches_reference(shape, scale, output_shape, kind):
    im = _image(shape, seed=sum(shape) + len(kind), kind=kind)
    expected = _ref_imresize_in(im, scale_factor=scale, output_shape=output_shape).astype(np.float64)
    exact = ir.imresize_np(im, scale, output_shape)
    assert exact.dtype == np.float64
    np.testing.assert_array_equal(exact, expected)  # the reference's arithmetic, bit for bit
    got = ir.imresize(im.astype(np.float32), scale, output_shape)
    assert got.dtype == jnp.float32
    _close(got, expected)
    assert ir.resize_plan(shape[:2], scale, output_shape).out_hw == expected.shape[:2]


# Box upscaling is left out: the reference's squeeze breaks it (one tap per
# output pixel); test_box_upscaling_copies_input_pixels checks ours.
@pytest.mark.parametrize("kernel, scale", [(k, s) for k in ("lanczos2", "lanczos3", "linear", "box")
                                           for s in (0.6, 1.7) if (k, s) != ("box", 1.7)])
def test_other_kernels_match_reference(kernel, scale):
    im = _image((14, 19, 2), seed=3)
    expected = _ref_imresize_in(im, scale_factor=scale, kernel=kernel)
    np.testing.assert_array_equal(ir.imresize_np(im, scale, kernel=kernel), expected)
    _close(ir.imresize(im, scale, kernel=kernel), expected)


def test_box_upscaling_copies_input_pixels():
    im = _image((14, 19, 2), seed=3)
    out = ir.imresize_np(im, 1.7, kernel="box")
    assert out.shape == (24, 33, 2)
    for c in range(2):  # each output pixel is one input pixel: a nearest-neighbour copy
        assert np.isin(out[..., c], im[..., c]).all()
    _close(ir.imresize(im, 1.7, kernel="box"), out)


def test_antialiasing_off_matches_reference():
    im = _image((30, 22, 3), seed=4)
    expected = _ref_imresize_in(im, scale_factor=0.4, antialiasing=False)
    np.testing.assert_array_equal(ir.imresize_np(im, 0.4, antialiasing=False), expected)
    _close(ir.imresize(im, 0.4, antialiasing=False), expected)
    # Antialiasing really changes the result (so the flag is honoured).
    assert np.abs(ir.imresize_np(im, 0.4) - expected).max() > 1e-2


def test_values_of_the_reference_itself():
    # Printed by SinGAN's / ConSinGAN's imresize_in (run on x86-64).
    im = (np.arange(35).reshape(5, 7, 1) % 6).astype(np.float64) * np.array([1.0, -2.0])
    down = np.array(
        [
            [0.7020118343195233, 2.3880823401950155, 4.222296544035675, 1.9482720178372341, 0.6601531170251534],
            [2.3723365836041883, 4.053164054751042, 2.1763625229638683, 1.1898346601347227, 1.7376454620296822],
            [4.253957636566335, 2.1375790977750566, 1.048519218651546, 3.1058601134215493, 3.6299883233738583],
        ]
    )
    up = np.array(
        [
            [-0.13157894736842074, 0.3459752321981425, 1.1008771929824555, 1.7675438596491233, 2.4967105263157894],
            [0.3459752321981425, 0.8235294117647058, 1.5784313725490189, 2.2450980392156867, 2.9742647058823537],
            [1.1124512670565296, 1.5900054466230933, 2.3449074074074057, 3.0115740740740735, 3.74074074074074],
            [1.825414230019493, 2.3029684095860565, 3.057870370370369, 3.7245370370370363, 4.453703703703703],
            [2.0592105263157894, 2.536764705882353, 3.291666666666665, 3.9583333333333335, 4.6875],
        ]
    )
    up_last_column = np.array([3.0036549707602336, 3.481209150326798, 4.247685185185184, 4.960648148148148, 5.194444444444444])
    for resize, tol in [(ir.imresize_np, 1e-12), (ir.imresize, 1e-5)]:
        got = np.asarray(resize(im, 0.6))
        _close(got[..., 0], down, tol)
        _close(got[..., 1], -2 * down, tol)
        got = np.asarray(resize(im[:3, :4, :1], 1.5))[..., 0]
        assert got.shape == (5, 6)
        _close(got[:, :5], up, tol)
        _close(got[:, 5], up_last_column, tol)
    # The top-left corner: a MATLAB-style symmetric border would give 0 there
    # (the input's first 2x2 block is [[0, 1], [1, 2]], its corner 0); the
    # reference drops the taps before the start instead (-0.1316).
    assert ir.imresize_np(im[:3, :4, :1], 1.5)[0, 0, 0] == pytest.approx(-0.13157894736842074, abs=1e-12)


def test_oracle_cast_is_this_platforms_cast():
    # The oracle's explicit wrap-around is what the reference's np.uint does
    # here (on x86-64); elsewhere the reference itself would behave differently.
    x = np.array([-3.0, -1.0, 0.0, 5.0])
    with np.errstate(invalid="ignore"):
        native = np.uint(x)
    if native[0] != np.uint64(2**64 - 3):
        pytest.skip(f"this platform casts -3.0 to uint64 as {native[0]}, not by wrapping around")
    np.testing.assert_array_equal(_x86_uint(x), native)


def test_batch_equals_each_image():
    batch = _image((3, 11, 14, 3), seed=5).astype(np.float32)
    got = ir.imresize(batch, 0.7)
    assert got.shape == (3, 8, 10, 3)
    for b in range(3):
        _close(got[b], _ref_imresize_in(batch[b].astype(np.float64), scale_factor=0.7))
    np.testing.assert_array_equal(ir.imresize_np(batch, 0.7)[1], ir.imresize_np(batch[1], 0.7))


def test_jit_equals_eager():
    batch = jnp.asarray(_image((2, 19, 23, 3), seed=6), jnp.float32)
    for kw in [dict(scale=0.75), dict(scale=1 / 0.75), dict(output_shape=(12, 40))]:
        eager = ir.imresize(batch, **kw)
        jitted = jax.jit(functools.partial(ir.imresize, **kw))(batch)
        np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-6, atol=1e-6)
        eager = ir.imresize_like_singan(batch, **kw)
        jitted = jax.jit(functools.partial(ir.imresize_like_singan, **kw))(batch)
        np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-6, atol=1e-6)
    hwc = batch[0]
    np.testing.assert_allclose(
        np.asarray(jax.jit(lambda x: ir.imresize(x, 0.5))(hwc)), np.asarray(ir.imresize(hwc, 0.5)), atol=1e-6
    )


def test_contribution_matrices_are_cached_and_rows_sum_to_one():
    ir.resize_matrix.cache_clear()
    a = ir.resize_matrix(31, 24, 0.75)
    b = ir.resize_matrix(31, 24, 0.75)
    assert a is b and not a.flags.writeable
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-12)
    assert ir.resize_matrix.cache_info().hits == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="scale or output_shape"):
        ir.imresize(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="HWC"):
        ir.imresize(np.zeros((4, 4)), 0.5)
    with pytest.raises(ValueError, match="kernel"):
        ir.imresize(np.zeros((4, 4, 1)), 0.5, kernel="nearest")
    with pytest.raises(ValueError, match="positive"):
        ir.imresize(np.zeros((4, 4, 1)), -0.5)


# ---------------------------------------------------------------------------
# SinGAN's imresize: the uint8 round trip.
# ---------------------------------------------------------------------------


def test_uint8_round_trip_matches_reference():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    x = ir.singan_from_uint8(levels)
    np.testing.assert_array_equal(x, _ref_np2torch(levels))
    assert x.dtype == np.float32
    back = ir.singan_to_uint8(x)
    np.testing.assert_array_equal(back, _ref_torch2uint8(x))
    # Found by running the reference: levels 1..63 come back one lower (the
    # float32 (v / 255 - 0.5) * 2 and back lands just under v; astype truncates).
    expected = np.arange(256) - ((np.arange(256) >= 1) & (np.arange(256) <= 63))
    np.testing.assert_array_equal(back[..., 0].reshape(-1), expected)

    # imresize at scale 1 is exactly that round trip, in both paths and under jit.
    ref = _ref_imresize(x, 1.0)
    np.testing.assert_array_equal(ir.imresize_like_singan_np(x, 1.0), ref)
    np.testing.assert_array_equal(np.asarray(ir.imresize_like_singan(x, 1.0)), ref)
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda v: ir.imresize_like_singan(v, 1.0))(x)), ref)


def test_truncation_at_level_boundaries_under_jit():
    # Values a few float32 ulps either side of each level's boundary: the jitted
    # truncation must pick the reference's level every time.
    base = _ref_np2torch(np.arange(256.0))
    x = np.concatenate([np.nextafter(base, np.float32(s) * np.inf) for s in (-1, 1)] + [base])
    x = np.concatenate([x, np.float32([-1.5, 1.5, -1.0, 1.0, 0.0])]).astype(np.float32)
    img = np.broadcast_to(x[None, :, None], (2, x.size, 3)).copy()
    expected = _ref_imresize(img, 1.0)
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda v: ir.imresize_like_singan(v, 1.0))(img)), expected)


@pytest.mark.parametrize(
    "shape,scale,output_shape",
    [((30, 41, 3), 0.75, None), ((17, 23, 3), 1 / 0.75, None), ((26, 33, 3), None, (40, 20)), ((9, 12, 1), 2.3, None)],
)
def test_singan_imresize_matches_reference(shape, scale, output_shape):
    x = _singan_image(shape, seed=sum(shape))
    expected = _ref_imresize(x, scale, output_shape)
    got = ir.imresize_like_singan_np(x, scale, output_shape)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    _close(ir.imresize_like_singan(x, scale, output_shape), expected)
    batch = np.stack([x, -x])
    _close(ir.imresize_like_singan(batch, scale, output_shape)[1], _ref_imresize(-x, scale, output_shape))


def test_singan_imresize_value_of_the_reference_itself():
    # Printed by the reference's imresize(np2torch(img), 0.75, opt) (channel 0).
    img = (np.arange(90).reshape(6, 5, 3) * 7 % 256).astype(np.uint8)
    expected = np.array(
        [
            [-0.8137624, -0.6094143, -0.29170316, -0.056786776],
            [0.3376323, 0.59516835, -0.04965639, -0.14653611],
            [-0.11389643, 0.12822735, -0.122041464, -0.08500743],
            [-0.035372376, 0.17597127, 0.45576203, 0.67218494],
            [-0.96306795, -0.74977875, -0.51819485, -0.31809968],
        ],
        np.float32,
    )
    x = ir.singan_from_uint8(img)
    np.testing.assert_array_equal(ir.imresize_like_singan_np(x, 0.75)[..., 0], expected)
    _close(np.asarray(ir.imresize_like_singan(x, 0.75))[..., 0], expected)


# ---------------------------------------------------------------------------
# Pyramids.
# ---------------------------------------------------------------------------

# (H, W) of each level, printed by the reference code (SinGAN: adjust_scales2image
# then creat_reals_pyramid; ConSinGAN: adjust_scales2image then create_reals_pyramid).
SINGAN_SHAPES = {
    # skimage.data.astronaut(): 10 scales
    (512, 512): [(26, 26), (33, 33), (42, 42), (54, 54), (70, 70), (90, 90), (117, 117), (150, 150), (194, 194),
                 (250, 250)],
    # skimage.data.chelsea(): 8 scales
    (300, 451): [(25, 38), (33, 50), (44, 65), (57, 85), (75, 111), (98, 146), (128, 191), (167, 250)],
    (200, 180): [(28, 26), (36, 32), (46, 41), (59, 53), (75, 68), (96, 86), (123, 110), (157, 141), (200, 180)],
}  # fmt: skip
CONSINGAN_SHAPES = {
    # (H, W, max_size, train_stages, train_mode)
    (512, 512, 128, 6, "generation"): [(25, 25), (30, 30), (38, 38), (53, 53), (93, 93), (128, 128)],
    (300, 451, 128, 6, "generation"): [(25, 38), (29, 43), (35, 51), (44, 66), (68, 100), (86, 128)],
    (300, 451, 128, 5, "harmonization"): [(25, 38), (35, 51), (47, 70), (64, 94), (86, 128)],
    (512, 512, 250, 6, "generation"): [(25, 25), (33, 33), (45, 45), (72, 72), (158, 158), (250, 250)],
    (300, 451, 250, 3, "generation"): [(26, 38), (65, 97), (167, 250)],
}


@pytest.mark.parametrize("hw", sorted(SINGAN_SHAPES))
def test_singan_scales_and_shapes(hw):
    scales = ir.singan_scales(hw)
    shapes = ir.singan_pyramid_shapes(scales)
    assert shapes == SINGAN_SHAPES[hw]
    assert scales.stop_scale + 1 == len(shapes)
    assert scales.real_hw == shapes[-1]
    # The oracle's numbers, on a blank image of that size (only shapes matter).
    _, ref = _ref_singan_adjust_scales2image(np.zeros(hw + (3,), np.float32))
    assert scales._asdict() == dict(ref, real_hw=scales.real_hw)
    assert {(512, 512): 10, (300, 451): 8}.get(hw, len(shapes)) == len(shapes)


@pytest.mark.parametrize("key", sorted(CONSINGAN_SHAPES))
def test_consingan_scales_and_shapes(key):
    h, w, max_size, stages, mode = key
    scales = ir.consingan_scales((h, w), train_stages=stages, max_size=max_size)
    shapes = ir.consingan_pyramid_shapes(scales, harmonization=mode == "harmonization")
    assert shapes == CONSINGAN_SHAPES[key]
    assert len(shapes) == stages
    _, ref = _ref_consingan_adjust_scales2image(np.zeros((h, w, 3), np.float32), stages, 25, max_size)
    assert scales._asdict() == dict(ref, real_hw=scales.real_hw)


def test_singan_pyramid_matches_reference():
    image = _singan_image((300, 451, 3), seed=7)  # chelsea's size
    ref_real, ref_scales = _ref_singan_adjust_scales2image(image)
    ref_reals = _ref_singan_creat_reals_pyramid(ref_real, ref_scales["stop_scale"], ref_scales["scale_factor"])

    real, scales = ir.singan_adjust_scales2image(image)
    np.testing.assert_array_equal(real, ref_real)
    reals = ir.singan_reals_pyramid(real, scales.scale_factor, scales.stop_scale)
    assert len(reals) == len(ref_reals) == 8
    for got, expected in zip(reals, ref_reals):
        np.testing.assert_array_equal(got, expected)

    # The jax path, level by level from the same training image.
    jreal, _ = ir.singan_adjust_scales2image(image, resize=ir.imresize_like_singan)
    _close(jreal, ref_real)
    jreals = ir.singan_reals_pyramid(ref_real, scales.scale_factor, scales.stop_scale, resize=ir.imresize_like_singan)
    for got, expected in zip(jreals, ref_reals):
        _close(got, expected)


@pytest.mark.parametrize("mode", ["generation", "harmonization"])
def test_consingan_pyramid_matches_reference(mode):
    image = _singan_image((150, 97, 3), seed=8)
    ref_real, ref_scales = _ref_consingan_adjust_scales2image(image, train_stages=5, max_size=128)
    ref_reals = _ref_consingan_create_reals_pyramid(ref_real, ref_scales["stop_scale"], ref_scales["scale_factor"], mode)

    real, scales = ir.consingan_adjust_scales2image(image, train_stages=5, max_size=128)
    np.testing.assert_array_equal(real, ref_real)
    reals = ir.consingan_reals_pyramid(real, scales.scale_factor, scales.stop_scale, harmonization=mode == "harmonization")
    assert len(reals) == 5
    for got, expected in zip(reals, ref_reals):
        np.testing.assert_array_equal(got, expected)
    assert reals[-1] is real  # the finest level is the training image itself

    jreals = ir.consingan_reals_pyramid(
        ref_real, scales.scale_factor, scales.stop_scale, harmonization=mode == "harmonization",
        resize=ir.imresize_like_singan,
    )  # fmt: skip
    for got, expected in zip(jreals, ref_reals):
        _close(got, expected)


def test_pyramid_argument_errors():
    with pytest.raises(ValueError, match="train_stages"):
        ir.consingan_scales((100, 100), train_stages=1)
    with pytest.raises(ValueError, match="train_stages must be >= 3"):
        ir.consingan_pyramid_scales(0.5, 1)
    assert ir.consingan_pyramid_scales(0.5, 1, harmonization=True) == [0.5]
    with pytest.raises(ValueError, match="stop_scale"):
        ir.singan_scales((10, 10))
