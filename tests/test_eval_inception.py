"""FID Inception parity with pytorch-fid, weights conversion, sharded
extraction and the `python -m jaxgan.eval` command.

No weights can be downloaded here, so the reference is a randomly initialised
pytorch-fid FID Inception whose weights are scaled to keep unit-variance
activations (He-normal convs; BatchNorm statistics measured by a train-mode
pass). PyTorch's default init would shrink the features to ~1e-7 and let any
implementation "match"; the tests assert the features are O(1) first.
"""

import inspect
import json
import os
from unittest import mock

import numpy as np
import pytest

import torch
import pytorch_fid.inception as pytorch_fid_inception

from jaxgan.eval import __main__ as eval_main
from jaxgan.eval import features as feats_mod
from jaxgan.eval import metrics, weights

pytestmark = pytest.mark.parity

BATCH = 8  # one image per fake device


def _fid_inception_without_download():
    """pytorch-fid's own fid_inception_v3(), its download replaced by the
    model's own (random) state dict: the structure is pytorch-fid's, not ours."""

    def own_state_dict(*args, **kwargs):
        return inspect.currentframe().f_back.f_locals["inception"].state_dict()

    with mock.patch.object(pytorch_fid_inception, "load_state_dict_from_url", own_state_dict):
        return pytorch_fid_inception.fid_inception_v3()


def _smooth_images(rng, n, size):
    """[0, 1] images with spatial structure (not white noise), NCHW."""
    low = rng.uniform(0, 1, (n, 3, 8, 8)).astype(np.float32)
    x = torch.nn.functional.interpolate(torch.from_numpy(low), size=(size, size), mode="bilinear",
                                        align_corners=False)
    x = x + 0.1 * torch.from_numpy(rng.standard_normal((n, 3, size, size)).astype(np.float32))
    return x.clamp(0, 1)


@pytest.fixture(scope="module")
def torch_reference(tmp_path_factory):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = _fid_inception_without_download()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, torch.nn.BatchNorm2d):
                # Positive BN shifts keep most ReLUs active: with zero-mean
                # shifts the random net is chaotic and amplifies fp32 rounding
                # to ~3e-4 in torch itself (measured against float64), which
                # would make a 1e-4 parity bound meaningless. With these, torch
                # fp32 is within ~2e-5 of float64 and features still differ
                # per image (std ~0.1).
                m.weight.uniform_(0.5, 1.0)
                m.bias.normal_(0.5, 0.3)
                m.momentum = None  # cumulative average: one pass sets the statistics
                m.reset_running_stats()
            elif isinstance(m, torch.nn.Linear):
                torch.nn.init.normal_(m.weight, std=1 / np.sqrt(m.in_features))
                m.bias.normal_(0.0, 1.0)
    with mock.patch.object(pytorch_fid_inception, "fid_inception_v3", lambda: net):
        model = pytorch_fid_inception.InceptionV3([3])  # resize_input, normalize_input: pytorch-fid's defaults
    # BatchNorm statistics from a train-mode pass over images like the test's.
    model.train()
    with torch.no_grad():
        model(_smooth_images(rng, 16, 64))
    model.eval()
    path = tmp_path_factory.mktemp("weights") / "random_fid_inception.pth"
    torch.save(net.state_dict(), path)

    def run(images_nchw_01):
        with torch.no_grad():
            pool = model(images_nchw_01)[0][:, :, 0, 0]
            return pool.numpy(), net.fc(pool).numpy()

    return {"path": path, "run": run, "net": net}


@pytest.fixture(scope="module")
def extractor(torch_reference, tmp_path_factory):
    with mock.patch.dict(os.environ, {"JAXGAN_CACHE": str(tmp_path_factory.mktemp("cache"))}):
        params, weights_id = weights.load_inception_params(torch_reference["path"])
    return feats_mod.InceptionExtractor(params, weights_id=weights_id, input_range=(0.0, 1.0),
                                        batch_size=BATCH, progress=False)


def test_conversion_covers_every_tensor(torch_reference, tmp_path, monkeypatch):
    monkeypatch.setenv("JAXGAN_CACHE", str(tmp_path))
    params, weights_id = weights.load_inception_params(torch_reference["path"])
    n_params = sum(np.size(v) for v in weights.inception.flatten_params(params).values())
    sd = torch_reference["net"].state_dict()
    assert n_params == sum(v.numel() for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    np.testing.assert_array_equal(params["Mixed_7c"]["branch_pool"]["kernel"][0, 0],
                                  sd["Mixed_7c.branch_pool.conv.weight"].numpy()[:, :, 0, 0].T)
    # The .npz cache round-trips and keeps the weights id.
    cached, cached_id = weights.load_npz(tmp_path / "random_fid_inception.npz")
    assert cached_id == weights_id
    np.testing.assert_array_equal(cached["fc_kernel"], params["fc_kernel"])


@pytest.mark.parametrize("size", [32, 128])
def test_features_match_pytorch_fid(torch_reference, extractor, size):
    rng = np.random.default_rng(size)
    images = _smooth_images(rng, BATCH, size)
    ref_pool, ref_logits = torch_reference["run"](images)
    # Guard against a vacuous pass: features must be O(1), and differ per image.
    assert np.abs(ref_pool).mean() > 0.05, np.abs(ref_pool).mean()
    assert np.std(ref_pool, axis=0).mean() > 1e-2
    out = extractor.features(images.numpy().transpose(0, 2, 3, 1))
    np.testing.assert_allclose(out["pool3"], ref_pool, atol=1e-4, rtol=0)
    assert np.abs(ref_logits).max() > 1.0
    np.testing.assert_allclose(out["logits"], ref_logits, atol=1e-4, rtol=0)
    # logits_unbiased is logits minus the fc bias (what the original IS code used).
    np.testing.assert_allclose(out["logits_unbiased"] + extractor.params["fc_bias"], out["logits"], atol=1e-5)


def test_fid_between_different_image_sets_is_far_from_zero(extractor):
    rng = np.random.default_rng(1)
    a = _smooth_images(rng, BATCH, 32).numpy().transpose(0, 2, 3, 1)
    b = np.clip(a * 0.5 + 0.4, 0, 1)  # dimmer, lower contrast
    fa, fb = extractor.features(a)["pool3"], extractor.features(b)["pool3"]
    # 8 samples: compare means only (a rank-7 covariance makes FID mostly noise).
    assert np.sum((fa.mean(0) - fb.mean(0)) ** 2) > 1.0
    assert metrics.fid_from_features(fa, fb) > 1.0


def test_input_ranges_agree(extractor):
    """[-1, 1] floats (jaxgan's generators), [0, 1] floats and uint8 give the same features."""
    rng = np.random.default_rng(2)
    u8 = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    fu8 = extractor.features(u8)["pool3"]
    ext_pm1 = feats_mod.InceptionExtractor(extractor.params, weights_id=extractor.weights_id,
                                           batch_size=BATCH, progress=False)
    fpm1 = ext_pm1.features(u8.astype(np.float32) / 127.5 - 1)["pool3"]
    np.testing.assert_allclose(fpm1, fu8, atol=1e-4)


def test_extract_streams_pads_and_stops(extractor):
    """Batches of odd sizes give the same features as one call; num_images truncates."""
    rng = np.random.default_rng(3)
    imgs = rng.uniform(0, 1, (11, 32, 32, 3)).astype(np.float32)
    whole = extractor.features(imgs)["pool3"]
    streamed = extractor.extract(iter([imgs[:3], imgs[3:8], imgs[8:]]))["pool3"]
    np.testing.assert_allclose(streamed, whole, atol=1e-5)
    first = extractor.extract(iter([imgs[:5], imgs[5:]]), num_images=6)["pool3"]
    assert first.shape == (6, 2048)
    np.testing.assert_allclose(first, whole[:6], atol=1e-5)
    with pytest.raises(ValueError, match="ran out"):
        extractor.extract(iter([imgs[:2]]), num_images=5)


def test_compute_metrics_and_reference_cache(extractor, tmp_path):
    rng = np.random.default_rng(4)
    real = rng.uniform(0, 1, (16, 32, 32, 3)).astype(np.float32)
    calls = []

    def real_batches():
        calls.append(1)
        return iter([real[:5], real[5:]])

    kw = {"dataset": "toy/32", "split": "train", "resolution": 32, "cache_dir": tmp_path}
    ref = feats_mod.reference_statistics(extractor, real_batches, **kw)
    again = feats_mod.reference_statistics(extractor, real_batches, **kw)
    assert len(calls) == 1  # second call read the cache
    np.testing.assert_array_equal(ref["mu"], again["mu"])
    assert feats_mod.reference_stats_path(tmp_path, "toy/32", "train", 32, extractor.weights_id).exists()

    def generate(index, batch_size):  # deterministic per index, like fold_in(key, index)
        return np.random.default_rng(100 + index).uniform(0, 1, (batch_size, 32, 32, 3)).astype(np.float32) ** 2

    out = feats_mod.compute_metrics(generate, ref, extractor, num_images=14, batch_size=6, is_splits=2,
                                    kid_subsets=10, kid_subset_size=10)
    assert out["num_images"] == 14
    assert out["fid"] > 0 and np.isfinite(out["fid"])
    assert out["is_mean"] >= 1.0
    assert np.isfinite(out["kid_mean"])


def test_cli_on_image_folders(torch_reference, tmp_path, monkeypatch, capsys):
    import PIL.Image as PIL
    rng = np.random.default_rng(5)
    for name, gamma, n in (("a", 1.0, 8), ("b", 3.0, 8)):
        d = tmp_path / name
        d.mkdir()
        imgs = (255 * rng.uniform(0, 1, (n, 32, 32, 3)) ** gamma).astype(np.uint8)
        for i, img in enumerate(imgs):
            PIL.fromarray(img).save(d / f"{i}.png")
    np.savez(tmp_path / "b.npz", images=imgs.transpose(0, 3, 1, 2))  # the same images, as NCHW uint8
    monkeypatch.setenv("JAXGAN_CACHE", str(tmp_path / "cache"))
    # In-process (same compiled network as the other tests); `python -m
    # jaxgan.eval` only calls this main().
    rc = eval_main.main([str(tmp_path / "a"), str(tmp_path / "b"), "--inception-weights",
                         str(torch_reference["path"]), "--batch-size", "8", "--kid-subset-size", "5",
                         "--is-splits", "4"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["fid"] > 1.0
    assert result["num_images_a"] == 8 and "is_mean_a" in result and "kid_mean" in result
    # --save-stats A OUT, then FID of B (now an .npz of images) against the saved statistics: the same number.
    assert eval_main.main(["--save-stats", str(tmp_path / "a"), str(tmp_path / "a_stats.npz"), "--inception-weights",
                           str(torch_reference["path"]), "--batch-size", "8"]) == 0
    stats = np.load(tmp_path / "a_stats.npz")
    assert stats["mu"].shape == (2048,) and stats["sigma"].shape == (2048, 2048)
    capsys.readouterr()
    assert eval_main.main([str(tmp_path / "a_stats.npz"), str(tmp_path / "b.npz"), "--inception-weights",
                           str(torch_reference["path"]), "--batch-size", "8"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    np.testing.assert_allclose(again["fid"], result["fid"], rtol=1e-6)
