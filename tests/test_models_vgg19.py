"""pix2pixHD's VGG19 perceptual loss (jaxgan.models.vgg19) equals the
reference's (NVIDIA/pix2pixHD, models/networks.py, Vgg19 and VGGLoss) on
torchvision's VGG19: the five relu outputs, the loss and its gradient, with
weights read from a torch.save file without torch; the .npz cache, the
refusal of incomplete files and of downloads with a wrong hash. The torch
side is written here after the reference's description."""

import hashlib
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torchvision
from torch_parity import nhwc, torch_count

from jaxgan import download as download_lib
from jaxgan.convert import torch_checkpoint
from jaxgan.models import vgg19
from jaxgan.state import count_params

tnn = torch.nn

# torchvision's vgg19().features[:30] (13 convs, features.0 to features.28),
# measured with torch; the whole .features (16 convs) has 20,024,384.
FEATURES_30_PARAMS = 12_944_960


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    # load_vgg19_params writes converted weights into the cache: never the user's.
    monkeypatch.setenv("JAXGAN_CACHE", str(tmp_path / "cache"))


# --------------------------------------------------------------------------
# The reference in torch


class TorchVgg19(tnn.Module):
    """The reference's Vgg19: torchvision's .features cut into five slices, each slice's output returned."""

    def __init__(self, features):
        super().__init__()
        self.slices = tnn.ModuleList([features[0:2], features[2:7], features[7:12], features[12:21], features[21:30]])

    def forward(self, x):
        out = []
        for s in self.slices:
            x = s(x)
            out.append(x)
        return out


def torch_vgg_loss(vgg, x, y):
    """The reference's VGGLoss.forward: weighted L1 (mean) of each slice, y's features detached."""
    weights = [1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0]
    x_vgg, y_vgg = vgg(x), vgg(y)
    return sum(w * tnn.L1Loss()(a, b.detach()) for w, a, b in zip(weights, x_vgg, y_vgg))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """torchvision's VGG19 with its own random init (seeded), saved as a .pth:
    all of .features (so the convs past relu5_1 must be dropped) plus one
    classifier tensor (the 400 MB classifier itself would only slow the test)."""
    torch.manual_seed(0)
    model = torchvision.models.vgg19(weights=None).eval()
    # torchvision initialises conv biases to zero; random ones make the
    # comparison see a dropped or misplaced bias.
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.features:
            if isinstance(m, tnn.Conv2d):
                m.bias.uniform_(-0.1, 0.1, generator=gen)
    full = model.state_dict()
    state = {k: v for k, v in full.items() if k.startswith("features.")}
    state["classifier.6.bias"] = full["classifier.6.bias"]
    path = tmp_path_factory.mktemp("weights") / "vgg19_random.pth"
    torch.save(state, path)
    params = vgg19.convert_pth(path)  # no cache written
    return {"path": path, "vgg": TorchVgg19(model.features).eval(), "params": params}


def _inputs(n=2, size=32, seed=0):
    """NCHW images in [-1, 1], as the reference's VGGLoss receives them."""
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3, size, size)).astype(np.float32)


def _tree_equal(a, b):
    la, lb = jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves_with_path(b)
    assert [p for p, _ in la] == [p for p, _ in lb]
    for (p, x), (_, y) in zip(la, lb):
        assert np.asarray(x).dtype == np.float32 and np.array_equal(np.asarray(x), np.asarray(y)), p


# --------------------------------------------------------------------------
# Parity


def test_parameter_count_equals_torchvision():
    init = lambda k: vgg19.VGG19Features().init(k, jnp.zeros((1, 32, 32, 3)))
    ours = count_params(jax.eval_shape(init, jax.random.key(0))["params"])
    theirs = torch_count(lambda: torchvision.models.vgg19(weights=None).features[:30])
    assert ours == theirs == FEATURES_30_PARAMS


@pytest.mark.parity
def test_features_equal_the_reference(reference):
    x = _inputs()
    with torch.no_grad():
        want = [nhwc(t) for t in reference["vgg"](torch.from_numpy(x))]
    got = jax.jit(vgg19.VGG19Features().apply)(reference["params"], jnp.asarray(x.transpose(0, 2, 3, 1)))
    assert len(got) == 5
    for g, w, (side, channels) in zip(got, want, [(32, 64), (16, 128), (8, 256), (4, 512), (2, 512)]):
        assert g.shape == w.shape == (2, side, side, channels) and g.dtype == jnp.float32
        scale = np.abs(w).max()
        # Far from constant: spread over positions and channels, and the two images differ.
        assert w.std() > 0.05 * scale and np.abs(w[0] - w[1]).max() > 0.1 * scale
        np.testing.assert_allclose(np.asarray(g), w, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parity
def test_loss_and_its_gradient_equal_the_reference(reference):
    x, y = _inputs(seed=0), _inputs(seed=1)
    xt = torch.from_numpy(x).requires_grad_(True)
    loss_t = torch_vgg_loss(reference["vgg"], xt, torch.from_numpy(y))
    loss_t.backward()
    want_grad = nhwc(xt.grad)

    vgg, params = vgg19.VGG19Features(), reference["params"]
    xj, yj = jnp.asarray(x.transpose(0, 2, 3, 1)), jnp.asarray(y.transpose(0, 2, 3, 1))
    fn = jax.jit(jax.value_and_grad(lambda a, b: vgg19.vgg_loss(vgg, params, a, b), argnums=(0, 1)))
    loss, (grad_x, grad_y) = fn(xj, yj)
    assert loss.shape == () and loss.dtype == jnp.float32
    np.testing.assert_allclose(float(loss), loss_t.item(), rtol=1e-5)
    scale = np.abs(want_grad).max()
    assert want_grad.std() > 0.05 * scale
    np.testing.assert_allclose(np.asarray(grad_x), want_grad, rtol=1e-4, atol=1e-5 * scale)
    assert not np.asarray(grad_y).any()  # y's features are detached, as in the reference
    # One forward pass on concat([x, y]): the same loss and gradient.
    loss1, grad1 = jax.jit(jax.value_and_grad(lambda a: vgg19.vgg_loss(vgg, params, a, yj, one_pass=True)))(xj)
    np.testing.assert_allclose(float(loss1), float(loss), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(grad1), np.asarray(grad_x), rtol=1e-5, atol=1e-6 * scale)
    # The loss is zero on equal inputs (the trainer's lambda_feat is applied outside).
    assert float(vgg19.vgg_loss(vgg, params, xj, xj)) == 0.0


def test_bfloat16_compute_stays_close_to_float32(reference):
    x = jnp.asarray(_inputs(n=1).transpose(0, 2, 3, 1))
    f32 = jax.jit(vgg19.VGG19Features().apply)(reference["params"], x)
    bf16 = jax.jit(vgg19.VGG19Features(dtype=jnp.bfloat16).apply)(reference["params"], x)
    for a, b in zip(f32, bf16):
        assert b.dtype == jnp.bfloat16
        assert float(jnp.abs(a - b.astype(jnp.float32)).max()) < 0.03 * float(jnp.abs(a).max())


# --------------------------------------------------------------------------
# Weights: conversion, cache, refusals, download


def test_converted_npz_reloads_identically_and_is_cached(reference, tmp_path, monkeypatch):
    pth, params = reference["path"], reference["params"]
    assert sorted(params["params"]) == sorted(f"features_{i}" for i in vgg19.CONV_INDICES)  # 30, 32, 34 dropped
    assert params["params"]["features_0"]["kernel"].shape == (3, 3, 3, 64)
    npz = tmp_path / "vgg19.npz"
    vgg19.convert_pth(pth, npz)
    _tree_equal(vgg19.load_vgg19_params(npz), params)
    with np.load(npz) as z:
        assert len([k for k in z.files if not k.startswith("__")]) == 26

    # A .pth path: converted once into the cache, later loads do not read the .pth again ...
    _tree_equal(vgg19.load_vgg19_params(pth), params)
    cached = list((tmp_path / "cache" / "vgg19-converted").iterdir())
    assert len(cached) == 1 and cached[0].suffix == ".npz"

    def no_reading(path):
        raise AssertionError(f"read {path} again")

    monkeypatch.setattr(torch_checkpoint, "load_state_dict", no_reading)
    _tree_equal(vgg19.load_vgg19_params(pth), params)
    # ... until the file changes.
    os.utime(pth, ns=(pth.stat().st_atime_ns, pth.stat().st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="read"):
        vgg19.load_vgg19_params(pth)


def test_incomplete_or_wrong_files_are_refused(reference, tmp_path):
    state = torch.load(reference["path"])
    missing = tmp_path / "no_features_16.pth"
    torch.save({k: v for k, v in state.items() if k != "features.16.weight"}, missing)
    with pytest.raises(ValueError, match=r"no_features_16\.pth: no 'features\.16\.weight'") as e:
        vgg19.load_vgg19_params(missing)
    assert "\n" not in str(e.value)
    misshapen = tmp_path / "one_channel.pth"
    torch.save({**state, "features.0.weight": state["features.0.weight"][:, :1]}, misshapen)
    with pytest.raises(ValueError, match=r"one_channel\.pth: .*features_0/kernel"):
        vgg19.load_vgg19_params(misshapen)
    # A .npz without one of the arrays.
    flat = {f"{n}/{leaf}": v for n, leaves in reference["params"]["params"].items() for leaf, v in leaves.items()}
    del flat["features_28/bias"]
    np.savez(tmp_path / "partial.npz", **flat)
    with pytest.raises(ValueError, match=r"partial\.npz: no 'features_28/bias'"):
        vgg19.load_vgg19_params(tmp_path / "partial.npz")
    with pytest.raises(FileNotFoundError):
        vgg19.load_vgg19_params(tmp_path / "absent.pth")


def test_first_use_download_is_hash_checked_and_converted_once(reference, tmp_path, monkeypatch):
    """load_vgg19_params() offline: VGG19_URL pointed at local file:// copies
    named after torchvision's convention, <name>-<sha256 prefix>.pth."""
    src = tmp_path / "src"
    src.mkdir()
    digest = download_lib.sha256(reference["path"])
    good = src / f"vgg19-{digest[:8]}.pth"
    shutil.copyfile(reference["path"], good)
    bad = src / "vgg19-00000000.pth"
    shutil.copyfile(reference["path"], bad)
    cache = tmp_path / "cache"

    monkeypatch.setattr(vgg19, "VGG19_URL", bad.as_uri())
    with pytest.raises(download_lib.DownloadError, match="does not start with 00000000.*vgg_weights=PATH"):
        vgg19.load_vgg19_params()
    assert not cache.exists() or not any(cache.iterdir())  # nothing partial kept, nothing converted

    monkeypatch.setattr(vgg19, "VGG19_URL", good.as_uri())
    _tree_equal(vgg19.load_vgg19_params(), reference["params"])
    assert sorted(p.name for p in cache.iterdir()) == sorted([good.name, good.stem + ".npz"])
    assert hashlib.sha256((cache / good.name).read_bytes()).hexdigest() == digest
    (cache / good.name).unlink()  # later loads need only the .npz
    monkeypatch.setattr(torch_checkpoint, "load_state_dict", lambda p: pytest.fail(f"read {p} again"))
    _tree_equal(vgg19.load_vgg19_params(), reference["params"])


def test_published_url_carries_the_hash_prefix_torchvision_checks():
    assert vgg19.VGG19_URL == "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
    assert vgg19._hash_prefix_from_name(vgg19.VGG19_URL.rsplit("/", 1)[-1]) == "dcbb9e9d"
    assert torchvision.models.VGG19_Weights.IMAGENET1K_V1.url == vgg19.VGG19_URL
