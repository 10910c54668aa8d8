"""Sampling helpers: truncation, interpolation, picture and npz files."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from PIL import Image

from jaxgan import pictures, sampling


KEY = jax.random.key(0)


# ------------------------------------------------------------------ truncation


@pytest.mark.parametrize("psi", [1.0, 0.5, 0.1])
def test_truncated_normal_z_within_two_psi(psi):
    z = np.asarray(sampling.truncated_normal_z(KEY, (512, 128), psi))
    assert z.shape == (512, 128) and z.dtype == np.float32
    assert np.abs(z).max() <= 2 * psi + 1e-6
    # Truncated to [-2, 2] then scaled: values reach close to the bound.
    assert np.abs(z).max() > 1.9 * psi


def test_truncated_normal_z_norm_shrinks_with_psi():
    norms = [float(jnp.linalg.norm(sampling.truncated_normal_z(KEY, (256, 128), psi), axis=-1).mean())
             for psi in (1.0, 0.5, 0.1)]
    assert norms[0] > norms[1] > norms[2] > 0
    # Same key: the same draw scaled, so norms scale with psi.
    np.testing.assert_allclose(norms[1] / norms[0], 0.5, rtol=1e-5)
    # Scale of truncnorm(-2, 2) * psi, not of an untruncated normal.
    expected = np.sqrt(128) * scipy.stats.truncnorm(-2, 2).std()
    np.testing.assert_allclose(norms[0], expected, rtol=0.03)


def test_truncated_normal_z_psi_zero_is_zero_and_range_is_checked():
    np.testing.assert_array_equal(sampling.truncated_normal_z(KEY, (4, 8), 0.0), np.zeros((4, 8)))
    with pytest.raises(ValueError):
        sampling.truncated_normal_z(KEY, (4, 8), 1.5)
    with pytest.raises(ValueError):
        sampling.truncated_normal_z(KEY, (4, 8), -0.1)


@pytest.mark.parametrize("threshold", [0.5, 1.0, 2.0])
def test_resampled_normal_z_within_threshold_with_truncnorm_std(threshold):
    z = np.asarray(sampling.resampled_normal_z(KEY, (400, 250), threshold))
    assert np.abs(z).max() <= threshold
    expected = scipy.stats.truncnorm(-threshold, threshold).std()
    np.testing.assert_allclose(z.std(), expected, rtol=0.02)
    # Not the psi convention: truncated_normal_z(psi=threshold/2) has the same
    # bound but a smaller spread below threshold 2 (at 2 they coincide).
    scaled = np.asarray(sampling.truncated_normal_z(KEY, (400, 250), threshold / 2))
    if threshold < 2:
        assert scaled.std() < 0.98 * z.std()
    else:
        np.testing.assert_allclose(scaled, z)
    with pytest.raises(ValueError):
        sampling.resampled_normal_z(KEY, (2, 2), 0.0)


# ------------------------------------------------------------------ interpolation


def test_lerp_endpoints_and_midpoint():
    a = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]], np.float32)
    b = np.array([[3.0, 0.0, -1.0], [2.0, 5.0, 0.0]], np.float32)
    out = np.asarray(sampling.lerp(a, b, 5))
    assert out.shape == (5, 2, 3)
    np.testing.assert_array_equal(out[0], a)
    np.testing.assert_array_equal(out[-1], b)
    np.testing.assert_allclose(out[2], (a + b) / 2, atol=1e-6)
    np.testing.assert_allclose(np.diff(out, axis=0), np.broadcast_to((b - a) / 4, (4, 2, 3)), atol=1e-6)


def test_slerp_endpoints_and_unit_norm_on_the_arc():
    k0, k1 = jax.random.split(KEY)
    a = jax.random.normal(k0, (6, 128))
    b = jax.random.normal(k1, (6, 128))
    a, b = a / jnp.linalg.norm(a, axis=-1, keepdims=True), b / jnp.linalg.norm(b, axis=-1, keepdims=True)
    out = np.asarray(sampling.slerp(a, b, 9))
    assert out.shape == (9, 6, 128)
    np.testing.assert_array_equal(out[0], np.asarray(a))
    np.testing.assert_array_equal(out[-1], np.asarray(b))
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-5)
    # Equal angular steps: the angle to a grows linearly, per row.
    angles = np.arccos(np.clip(np.einsum("tnd,nd->tn", out, np.asarray(a)), -1, 1))
    np.testing.assert_allclose(angles, np.linspace(0, 1, 9)[:, None] * angles[-1][None], atol=1e-3)
    # lerp of the same vectors leaves the sphere in the middle.
    assert np.linalg.norm(np.asarray(sampling.lerp(a, b, 9))[4], axis=-1).max() < 0.9


def test_slerp_parallel_rows_fall_back_to_lerp():
    a = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], np.float32)
    b = np.array([[3.0, 0.0, 0.0], [0.0, 2.0, 1e-8]], np.float32)
    out = np.asarray(sampling.slerp(a, b, 5))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, np.asarray(sampling.lerp(a, b, 5)), atol=1e-6)


def test_interpolate_z_and_classes_one_hot_weights():
    z0, z1 = jax.random.normal(KEY, (2, 16))
    z, y = sampling.interpolate_z_and_classes(z0, z1, 3, 7, n=5, num_classes=10)
    assert z.shape == (5, 16) and y.shape == (5, 10) and y.dtype == jnp.float32
    y = np.asarray(y)
    np.testing.assert_array_equal(y[0], np.eye(10)[3])
    np.testing.assert_array_equal(y[-1], np.eye(10)[7])
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(y[:, 7], np.linspace(0, 1, 5), atol=1e-6)
    np.testing.assert_allclose(np.asarray(z), np.asarray(sampling.slerp(z0, z1, 5)))
    # Batched pairs, lerp, and unconditional.
    zb, yb = sampling.interpolate_z_and_classes(jnp.zeros((3, 4)), jnp.ones((3, 4)), jnp.array([0, 1, 2]),
                                                jnp.array([2, 1, 0]), n=3, mode="lerp", num_classes=3)
    assert zb.shape == (3, 3, 4) and yb.shape == (3, 3, 3)
    np.testing.assert_allclose(np.asarray(zb[1]), 0.5)
    z_only, none = sampling.interpolate_z_and_classes(z0, z1, n=4)
    assert none is None and z_only.shape == (4, 16)
    with pytest.raises(ValueError):
        sampling.interpolate_z_and_classes(z0, z1, 3, 7, n=5)  # int labels without num_classes


def test_class_vectors_drive_the_generator_like_labels():
    """Soft class inputs: a one-hot y gives G's int-label output, and the
    interpolated vectors run through G (layers.lookup takes both)."""
    from jaxgan.models import biggan

    G = biggan.BigGANGenerator(resolution=32, ch=4, num_classes=5, dim_z=20, shared_dim=8, attention=())
    z = jax.random.normal(KEY, (2, G.z_dim))
    labels = jnp.array([1, 4])
    by_label, variables = G.init_with_output(KEY, z, labels)
    apply = G.apply
    zi, yi = sampling.interpolate_z_and_classes(z[0], z[1], 1, 4, n=3, num_classes=5)
    # One float call: the two one-hot end points and the midpoint.
    by_vector = apply(variables, jnp.concatenate([z, zi[1:2]]),
                      jnp.concatenate([sampling.class_vectors(labels, 5), yi[1:2]]))
    np.testing.assert_allclose(np.asarray(by_vector[:2]), np.asarray(by_label), atol=1e-5)
    assert np.all(np.isfinite(np.asarray(by_vector[2])))


# ------------------------------------------------------------------ files


def _images(n, h=8, w=6, c=3, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, h, w, c)).astype(np.float32)


def test_save_png_writes_the_grid(tmp_path):
    images = _images(6)
    path = pictures.save_png(tmp_path / "sub" / "grid.png", images, ncol=3)
    with Image.open(path) as im:
        assert im.format == "PNG"
        # 2 rows x 3 columns of 8x6 with 2-pixel borders: W = 3*(6+2)+2, H = 2*(8+2)+2.
        assert im.size == (26, 22)
        np.testing.assert_array_equal(np.asarray(im), pictures.make_grid(images, ncol=3))
    gray = pictures.save_png(tmp_path / "gray.png", _images(4, c=1))
    with Image.open(gray) as im:
        assert im.mode == "L" and im.size == (18, 22)


def test_save_gif_frame_count_and_size(tmp_path):
    frames = [_images(4, seed=i) for i in range(5)]
    path = pictures.save_gif(tmp_path / "interp.gif", frames, duration_ms=80)
    with Image.open(path) as im:
        assert im.format == "GIF"
        assert im.n_frames == 5
        assert im.size == (2 * (6 + 2) + 2, 2 * (8 + 2) + 2)
        assert im.info["duration"] == 80
        im.seek(4)
        assert im.convert("RGB").size == im.size
    with pytest.raises(ValueError):
        pictures.save_gif(tmp_path / "empty.gif", [])


def test_save_npz_round_trip(tmp_path):
    images = _images(5)
    labels = np.array([3, 1, 4, 1, 5])
    path = pictures.save_npz(tmp_path / "samples.npz", jnp.asarray(images), jnp.asarray(labels))
    with np.load(path) as data:
        assert set(data.files) == {"x", "y"}
        assert data["x"].dtype == np.uint8 and data["x"].shape == (5, 8, 6, 3)
        np.testing.assert_array_equal(data["x"], pictures.to_uint8(images))
        np.testing.assert_array_equal(data["y"], labels)
    with np.load(pictures.save_npz(tmp_path / "x_only.npz", images)) as data:
        assert data.files == ["x"]
    with pytest.raises(ValueError):
        pictures.save_npz(tmp_path / "bad.npz", images, labels[:3])
