"""jaxgan/augment.py against numpy written here from the definitions of
DiffAugment (Zhao et al. 2020) and StudioGAN's CR augmentation (src/utils/
diffaug.py, src/utils/cr.py), transposed from NCHW to NHWC.

Shapes are non-square (12 x 6, where every derived size differs between H and W) so that a mix-up of H and W fails, and 32 x 32.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxgan import augment

SMALL = (5, 12, 6, 3)
SQUARE = (2, 32, 32, 3)
FULL = "color,translation,cutout"


def images(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(np.float32)


# --- numpy references, one example and one pixel at a time
def ref_brightness(x, u):
    out = np.empty_like(x)
    for b in range(x.shape[0]):
        out[b] = x[b] + (u[b] - 0.5)
    return out


def ref_saturation(x, u):
    out = np.empty_like(x)
    for b in range(x.shape[0]):
        for i in range(x.shape[1]):
            for j in range(x.shape[2]):
                m = x[b, i, j].mean()
                out[b, i, j] = (x[b, i, j] - m) * (2 * u[b]) + m
    return out


def ref_contrast(x, u):
    out = np.empty_like(x)
    for b in range(x.shape[0]):
        m = x[b].mean()
        out[b] = (x[b] - m) * (u[b] + 0.5) + m
    return out


def ref_translate(x, t_h, t_w):
    n, h, w, _ = x.shape
    out = np.zeros_like(x)
    for b in range(n):
        for i in range(h):
            for j in range(w):
                si, sj = i + t_h[b], j + t_w[b]
                if 0 <= si < h and 0 <= sj < w:
                    out[b, i, j] = x[b, si, sj]
    return out


def ref_translate_studiogan(x, t_h, t_w):
    # The reference's own scheme: zero-pad by 1, clamp the index into the padded image.
    n, h, w, _ = x.shape
    pad = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.empty_like(x)
    for b in range(n):
        for i in range(h):
            for j in range(w):
                out[b, i, j] = pad[b, min(max(i + t_h[b] + 1, 0), h + 1), min(max(j + t_w[b] + 1, 0), w + 1)]
    return out


def ref_cutout(x, off_h, off_w):
    n, h, w, _ = x.shape
    size_h, size_w = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
    out = x.copy()
    for b in range(n):
        top, left = off_h[b] - size_h // 2, off_w[b] - size_w // 2
        for i in range(h):
            for j in range(w):
                if top <= i <= top + size_h - 1 and left <= j <= left + size_w - 1:
                    out[b, i, j] = 0
    return out


def ref_flip(x, mask):
    out = x.copy()
    for b in range(x.shape[0]):
        if mask[b]:
            out[b] = x[b, :, ::-1]
    return out


def ref_translate_reflect(x, t_h, t_w, max_h, max_w):
    n, h, w, _ = x.shape
    pad = np.pad(x, ((0, 0), (max_h, max_h), (max_w, max_w), (0, 0)), mode="reflect")
    out = np.empty_like(x)
    for b in range(n):
        for i in range(h):
            for j in range(w):
                out[b, i, j] = pad[b, i + t_h[b] + max_h, j + t_w[b] + max_w]
    return out


def ref_diffaugment(x, policy, draws):
    for name, d in zip(policy.split(","), draws):
        d = {k: np.asarray(v) for k, v in d.items()}
        if name == "color":
            x = ref_contrast(ref_saturation(ref_brightness(x, d["brightness"]), d["saturation"]), d["contrast"])
        elif name == "translation":
            x = ref_translate(x, d["t_h"], d["t_w"])
        else:
            x = ref_cutout(x, d["offset_h"], d["offset_w"])
    return x


# The ops jitted: one compile each instead of one per primitive.
brightness = jax.jit(augment.brightness)
saturation = jax.jit(augment.saturation)
contrast = jax.jit(augment.contrast)
translate = jax.jit(augment.translate)
cutout = jax.jit(augment.cutout)
flip = jax.jit(augment.flip)
translate_reflect = jax.jit(augment.translate_reflect, static_argnames=("max_h", "max_w"))


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), b, rtol=1e-6, atol=2e-6)


# --- policy
def test_check_policy():
    assert augment.DIFFAUGMENT_POLICIES == ("color", "translation", "cutout")
    assert augment.check_policy("") == ()
    assert augment.check_policy(FULL) == ("color", "translation", "cutout")
    assert augment.check_policy("cutout,color") == ("cutout", "color")
    for bad, name in (("colour", "colour"), ("color,flip", "flip"), ("color, cutout", " cutout"), ("color,", "")):
        with pytest.raises(ValueError) as err:
            augment.check_policy(bad)
        msg = str(err.value)
        assert "\n" not in msg and repr(name) in msg
        assert all(p in msg for p in augment.DIFFAUGMENT_POLICIES)
    with pytest.raises(ValueError, match="flip"):
        augment.diffaugment(jnp.zeros(SMALL), jax.random.key(0), "flip")


def test_empty_policy_returns_the_input():
    x = jnp.asarray(images(SMALL))
    assert augment.diffaugment(x, jax.random.key(0), "") is x
    assert augment.diffaugment_draws(jax.random.key(0), SMALL, "") == ()


def test_sizes_as_the_references_round_them():
    assert augment.translation_shifts(12, 6) == (2, 1)  # int(2.0), int(1.25)
    assert augment.translation_shifts(8, 8) == (1, 1)  # int(1.5)
    assert augment.translation_shifts(32, 32) == (4, 4)
    assert augment.cutout_size(12, 6) == (6, 3)
    assert augment.cutout_size(7, 5) == (4, 3)  # int(4.0), int(3.0)
    assert augment.cutout_offset_bounds(12, 6) == (13, 6)  # even size: one past the last row
    assert augment.cutout_offset_bounds(32, 32) == (33, 33)
    assert augment.cr_max_shifts(12, 6) == (1, 0)  # truncated: int(1.5) = 1, int(0.75) = 0
    assert augment.cr_max_shifts(32, 32) == (4, 4)


# --- pure operations
@pytest.mark.parametrize("shape", [SMALL, SQUARE])
def test_color_ops(shape):
    x = images(shape)
    rng = np.random.default_rng(1)
    u = rng.uniform(0, 1, shape[0]).astype(np.float32)
    u[0], u[-1] = 0.0, np.float32(1 - 2**-24)  # the ends of [0, 1)
    close(brightness(jnp.asarray(x), u), ref_brightness(x, u))
    close(saturation(jnp.asarray(x), u), ref_saturation(x, u))
    close(contrast(jnp.asarray(x), u), ref_contrast(x, u))


def test_translate():
    x = images(SMALL)
    # max shifts (2, 1) with both signs, zero, and past the border (all zeros)
    t_h = np.array([-2, 2, 0, 2, 12])
    t_w = np.array([-1, 1, 0, -1, 0])
    out = translate(jnp.asarray(x), t_h, t_w)
    close(out, ref_translate(x, t_h, t_w))
    close(out, ref_translate_studiogan(x, t_h, t_w))
    assert not np.asarray(out[4]).any()

    x = images(SQUARE)
    t_h, t_w = np.array([-4, 4]), np.array([4, -3])
    close(translate(jnp.asarray(x), t_h, t_w), ref_translate_studiogan(x, t_h, t_w))


def test_cutout():
    x = images(SMALL)
    # size 6 x 3, offsets in [0, 13) x [0, 6): the corners, the largest, the middle
    off_h = np.array([0, 12, 0, 12, 6])
    off_w = np.array([0, 0, 5, 5, 3])
    out = np.asarray(cutout(jnp.asarray(x), off_h, off_w))
    close(out, ref_cutout(x, off_h, off_w))
    # offset 0: rows 0..2 (= -3..2 clipped) and columns 0..1 (= -1..1 clipped) are cut
    assert not out[0, :3, :2].any() and out[0, 3:, :].all() and out[0, :, 2:].all()
    # offset (12, 5): rows 9..11 (= 9..14 clipped) and columns 4..5 (= 4..6 clipped)
    assert not out[3, 9:, 4:].any() and out[3, :9].all() and out[3, :, :4].all()
    # the middle: a full 6 x 3 rectangle, rows 3..8, columns 2..4
    assert (out[4] == 0).all(axis=-1).sum() == 18 and not out[4, 3:9, 2:5].any()

    x = images(SQUARE)
    off_h, off_w = np.array([0, 32]), np.array([32, 17])
    close(cutout(jnp.asarray(x), off_h, off_w), ref_cutout(x, off_h, off_w))


def test_flip():
    x = images(SMALL)
    mask = np.array([True, False, True, False, False])
    close(flip(jnp.asarray(x), mask), ref_flip(x, mask))


@pytest.mark.parametrize(
    "shape,max_h,max_w,t_h,t_w",
    [
        (SMALL, 1, 0, [-1, 1, 0, 1, -1], [0, 0, 0, 0, 0]),  # CR's maxima for 12 x 6
        (SMALL, 3, 2, [-3, 3, 0, -3, 2], [2, -2, 1, -2, 2]),  # deeper reflection
        (SQUARE, 4, 4, [-4, 4], [4, -4]),
    ],
)
def test_translate_reflect(shape, max_h, max_w, t_h, t_w):
    x = images(shape)
    t_h, t_w = np.array(t_h), np.array(t_w)
    out = translate_reflect(jnp.asarray(x), t_h, t_w, max_h=max_h, max_w=max_w)
    close(out, ref_translate_reflect(x, t_h, t_w, max_h, max_w))


# --- the augmentations with their own draws
# Each is jitted once with its draws as a second output (same key, same
# draws), so one compile checks both that it jits and what it computed.
def with_draws(policy):
    return jax.jit(lambda x, k: (augment.diffaugment(x, k, policy), augment.diffaugment_draws(k, x.shape, policy)))


def cr_with_draws(x, k):
    return augment.cr_augment(x, k), augment.cr_augment_draws(k, x.shape)


def ref_cr_augment(x, d):
    d = {k: np.asarray(v) for k, v in d.items()}
    mh, mw = int(x.shape[1] / 8), int(x.shape[2] / 8)
    return ref_translate_reflect(ref_flip(x, d["flip"]), d["t_h"], d["t_w"], mh, mw)


@pytest.mark.parametrize(
    "shape,policy", [(SMALL, FULL), (SMALL, "cutout,color"), (SMALL, "translation,translation"), (SQUARE, FULL)]
)
def test_diffaugment_composes_the_ops_with_its_draws(shape, policy):
    x = images(shape)
    key = jax.random.key(3)
    out, draws = with_draws(policy)(jnp.asarray(x), key)
    fields = {"color": ["brightness", "contrast", "saturation"], "translation": ["t_h", "t_w"],
              "cutout": ["offset_h", "offset_w"]}
    assert [sorted(d) for d in draws] == [fields[n] for n in policy.split(",")]
    for d in draws:
        for v in d.values():
            assert v.shape == (shape[0],)
    expected = ref_diffaugment(x, policy, draws)
    close(out, expected)


def test_cr_augment_composes_the_ops_with_its_draws():
    key = jax.random.key(4)
    for shape in (SMALL, SQUARE):
        x = images(shape)
        out, d = jax.jit(cr_with_draws)(jnp.asarray(x), key)
        close(out, ref_cr_augment(x, d))


@pytest.mark.parametrize(
    "shape,shift,bound,cr_shift",
    [(SMALL, (2, 1), (13, 6), (1, 0)), ((5, 32, 32, 3), (4, 4), (33, 33), (4, 4))],
)
def test_draw_ranges(shape, shift, bound, cr_shift):
    # 20 keys x 100 examples (a vmap over keys compiles three times slower)
    shape = (100,) + shape[1:]
    draws = jax.jit(lambda k: (augment.diffaugment_draws(k, shape, FULL), augment.cr_augment_draws(k, shape)))
    keys = jax.random.split(jax.random.key(5), 20)
    (color, trans, cut), cr = jax.tree.map(lambda *v: np.concatenate(v), *[draws(k) for k in keys])
    for name in ("brightness", "saturation", "contrast"):
        u = color[name]
        assert u.dtype == np.float32 and u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.03
    # independent per example and per operation
    assert np.unique(color["brightness"]).size == color["brightness"].size
    assert not np.array_equal(color["brightness"], color["saturation"])
    # inclusive ranges of shifts, and exactly them
    assert set(trans["t_h"]) == set(range(-shift[0], shift[0] + 1))
    assert set(trans["t_w"]) == set(range(-shift[1], shift[1] + 1))
    assert set(cut["offset_h"]) == set(range(bound[0]))
    assert set(cut["offset_w"]) == set(range(bound[1]))
    assert set(cr["t_h"]) == set(range(-cr_shift[0], cr_shift[0] + 1))
    assert set(cr["t_w"]) == set(range(-cr_shift[1], cr_shift[1] + 1))
    assert cr["flip"].dtype == bool and abs(cr["flip"].mean() - 0.5) < 0.04  # sd of the rate 0.011


# --- differentiation, dtypes, sharding
def test_gradients_flow_to_the_images():
    x = images(SMALL)
    key = jax.random.key(6)

    @jax.jit
    def grads(x):
        out = {}
        for policy in (FULL, "translation,cutout"):
            g = jax.grad(lambda x: augment.diffaugment(x, key, policy).sum())(x)
            out[policy] = g, augment.diffaugment_draws(key, x.shape, policy)
        return out

    got = grads(jnp.asarray(x))
    # The policy is affine in x; the gradient of the sum is its linear part
    # transposed applied to ones: the cutout mask, shifted back, then through
    # contrast and saturation (both linear and symmetric).
    grad, (color, trans, cut) = got[FULL]
    mask = ref_cutout(np.ones_like(x), np.asarray(cut["offset_h"]), np.asarray(cut["offset_w"]))
    back = ref_translate(mask, -np.asarray(trans["t_h"]), -np.asarray(trans["t_w"]))
    expected = ref_saturation(ref_contrast(back, np.asarray(color["contrast"])), np.asarray(color["saturation"]))
    assert np.isfinite(np.asarray(grad)).all()
    close(grad, expected)
    # without colour: exactly the 0/1 mask of the input pixels that reach the output uncut
    grad, (trans, cut) = got["translation,cutout"]
    mask = ref_cutout(np.ones_like(x), np.asarray(cut["offset_h"]), np.asarray(cut["offset_w"]))
    expected = ref_translate(mask, -np.asarray(trans["t_h"]), -np.asarray(trans["t_w"]))
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(np.asarray(grad), expected)


def test_keeps_the_input_dtype():
    x = jnp.asarray(images(SMALL), jnp.bfloat16)
    (out, draws), (cr_out, cr_draws) = jax.jit(lambda x, k: (with_draws(FULL)(x, k), cr_with_draws(x, k)))(
        x, jax.random.key(7))
    assert out.dtype == cr_out.dtype == jnp.bfloat16
    x32 = np.asarray(x, np.float32)
    # the colour ops compute in float32 and round once
    np.testing.assert_allclose(np.asarray(out, np.float32), ref_diffaugment(x32, FULL, draws), atol=2**-6)
    np.testing.assert_array_equal(np.asarray(cr_out, np.float32), ref_cr_augment(x32, cr_draws))


def test_batch_sharded_over_devices():
    devices = jax.devices()
    if len(devices) < 2:
        pytest.skip("needs several devices (tests/conftest.py makes 8 CPU ones)")
    mesh = Mesh(np.asarray(devices), ("data",))
    x = images((len(devices),) + SMALL[1:])
    xs = jax.device_put(jnp.asarray(x), NamedSharding(mesh, PartitionSpec("data")))
    key = jax.random.key(8)
    (out, draws), (cr_out, cr_draws) = jax.jit(lambda x, k: (with_draws(FULL)(x, k), cr_with_draws(x, k)))(xs, key)
    assert out.sharding.is_equivalent_to(xs.sharding, x.ndim)
    close(out, ref_diffaugment(x, FULL, draws))
    close(cr_out, ref_cr_augment(x, cr_draws))
