"""Output parity with pytorch-pretrained-biggan (DeepMind's BigGAN-deep port).

Weights come from randomly initialised port models, brought to the scale of a
trained model first: torch's default init with its random, unrelated SN vectors
gives a meaningless sigma, a zero attention gamma would leave attention out of
the comparison, and the final BN's weights are left uninitialised by the port.
The tests check that the compared images are far from constant.
"""

import hashlib
import http.server
import logging
import os
import shutil
import sys
import threading
import types
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pytorch_pretrained_biggan import BigGAN, BigGANConfig, truncated_noise_sample
from pytorch_pretrained_biggan.convert_tf_to_pytorch import BigGAN128, BigGAN256, BigGAN512

import jax
from jaxgan.convert import torch_checkpoint
from jaxgan.convert.pytorch_pretrained_biggan import (URL_PREFIX_ENV, DownloadError, batch_stats_at,
                                                     convert_state_dict, expected_layers, generator_from_config,
                                                     load_pretrained, load_pretrained_files, pretrained_urls,
                                                     stats_index_weights)
from jaxgan.state import count_params

pytestmark = pytest.mark.parity

# 0.55 lies between two standing-statistics entries; at 0.56 the port's
# interpolation jumps to the next entry (see stats_index_weights).
TRUNCATIONS = (0.4, 0.55, 0.56, 1.0)
CLASSES = (1, 207, 555, 999)


def _trained_scale(model: BigGAN, seed: int) -> BigGAN:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "weight_u"):  # converge the power iteration, as training would
                w = module.weight_orig.reshape(module.weight_orig.shape[0], -1)
                u = module.weight_u
                for _ in range(30):
                    v = F.normalize(w.t() @ u, dim=0)
                    u = F.normalize(w @ v, dim=0)
                module.weight_u.copy_(u)
                module.weight_v.copy_(v)
            if hasattr(module, "running_means"):  # standing statistics differ per truncation
                module.running_means.copy_(0.3 * torch.randn(module.running_means.shape, generator=g))
                module.running_vars.copy_(0.5 + torch.rand(module.running_vars.shape, generator=g))
            if hasattr(module, "gamma"):
                module.gamma.fill_(0.7)
        bn = model.generator.bn
        bn.weight.copy_(1 + 0.1 * torch.randn(bn.weight.shape, generator=g))
        bn.bias.copy_(0.1 * torch.randn(bn.bias.shape, generator=g))
    return model.eval()


def _reference(config: BigGANConfig, seed: int):
    torch.manual_seed(seed)
    model = _trained_scale(BigGAN(config), seed)
    return model, convert_state_dict(model.state_dict(), config)


def _assert_parity(model, converted, batch=4):
    apply = jax.jit(converted.model.apply)
    labels = np.eye(1000, dtype=np.float32)[list(CLASSES[:batch])]
    for i, truncation in enumerate(TRUNCATIONS):
        z = truncated_noise_sample(batch, 128, truncation, seed=i)
        with torch.no_grad():
            ref = model(torch.from_numpy(z), torch.from_numpy(labels), truncation).numpy().transpose(0, 2, 3, 1)
        out = np.asarray(apply(converted.variables(truncation), z, labels))
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-4)
        # Non-trivial images: spread within each image and across the batch,
        # not saturated by tanh.
        assert ref.std(axis=(1, 2, 3)).min() > 0.03
        assert np.abs(ref[0] - ref[1]).mean() > 0.03
        assert (np.abs(ref) > 0.99).mean() < 0.05


@pytest.mark.parametrize("resolution", [128, 256, 512])
def test_parity_small_width(resolution):
    # Every layer of the released layouts at a width of 8 (4 at 512).
    ch = 4 if resolution == 512 else 8
    config = BigGANConfig(output_dim=resolution, channel_width=ch, layers=expected_layers(resolution))
    _assert_parity(*_reference(config, seed=resolution), batch=2 if resolution == 512 else 4)


def test_parity_full_128_config():
    _assert_parity(*_reference(BigGAN128, seed=0))


@pytest.mark.parametrize("config", [BigGAN128, BigGAN256, BigGAN512], ids=["128", "256", "512"])
def test_released_layouts_and_parameter_counts(config):
    assert [tuple(layer) for layer in config.layers] == expected_layers(config.output_dim)
    model = generator_from_config(config)
    assert model.attention == (64,) and model.sn_eps == model.bn_eps == 1e-4
    import jax.numpy as jnp

    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 128)), jnp.zeros((1, 1000)))
    torch_count = sum(p.numel() for p in BigGAN(config).parameters())
    assert count_params(shapes["params"]) == torch_count


def test_conversion_rejects_unknown_and_missing_entries():
    config = BigGANConfig(output_dim=128, channel_width=8, layers=expected_layers(128))
    state = BigGAN(config).state_dict()
    with pytest.raises(ValueError, match="not used by the conversion"):
        convert_state_dict({**state, "generator.extra": torch.zeros(1)}, config)
    del state["generator.gen_z.weight_u"]
    with pytest.raises(KeyError, match="generator.gen_z.weight_u"):
        convert_state_dict(state, config)
    with pytest.raises(ValueError, match="not the BigGAN-deep 128 layout"):
        generator_from_config(BigGANConfig(output_dim=128, channel_width=8, layers=expected_layers(128)[:-2]))


def test_standing_statistics_interpolation():
    # 'port' mirrors pytorch-pretrained-biggan's BigGANBatchNorm arithmetic.
    assert stats_index_weights(1.0, 51) == [(50, 1.0)]
    assert stats_index_weights(0.5, 51) == [(25, 1.0)]
    assert stats_index_weights(0.4, 51) == [(20, 1.0)]
    (i, a), (j, b) = stats_index_weights(0.56, 51)  # 0.56 / 0.02 = 28.000000000000004
    assert (i, j) == (28, 29) and b > 0.999999
    (i, a), (j, b) = stats_index_weights(0.56, 51, "linear")
    assert (i, j) == (28, 29) and a > 0.999999
    (i, a), (j, b) = stats_index_weights(0.55, 51, "linear")
    assert (i, j) == (27, 28) and a == pytest.approx(0.5) and b == pytest.approx(0.5)
    assert stats_index_weights(1.0, 51, "linear") == [(50, 1.0)]
    table = np.arange(51, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    stats = batch_stats_at({("bn",): (table, table + 1)}, 0.55, "linear")
    np.testing.assert_allclose(stats["bn"]["mean"], 27.5, rtol=1e-6)
    np.testing.assert_allclose(stats["bn"]["var"], 28.5, rtol=1e-6)
    with pytest.raises(ValueError, match="truncation must be in"):
        stats_index_weights(0.0, 51)


# --- load_pretrained: the released file format, local paths, download and cache ---


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A small random BigGAN-deep 128 written as convert_tf_to_pytorch.py wrote
    the release: `torch.save(model.state_dict())` (torch 1.0's legacy layout;
    the zip layout too) and `config.to_json_string()` as config.json. Like the
    release, whose tensors are `torch.from_numpy` of transposed TF arrays, the
    weights are non-contiguous views. Same config and seed as
    test_parity_small_width[128], so the XLA compilation cache is shared."""
    config = BigGANConfig(output_dim=128, channel_width=8, layers=expected_layers(128))
    torch.manual_seed(128)
    model = _trained_scale(BigGAN(config), seed=128)
    with torch.no_grad():
        model.embeddings.weight.data = model.embeddings.weight.data.t().contiguous().t()
        for module in model.modules():
            if hasattr(module, "weight_orig") and module.weight_orig.dim() == 4:
                module.weight_orig.data = module.weight_orig.data.permute(2, 3, 1, 0).contiguous().permute(3, 2, 0, 1)
    assert not model.embeddings.weight.is_contiguous()
    root = tmp_path_factory.mktemp("released")
    dirs = {}
    for layout, zip_format in (("legacy", False), ("zip", True)):
        d = dirs[layout] = root / layout
        d.mkdir()
        torch.save(model.state_dict(), d / "pytorch_model.bin", _use_new_zipfile_serialization=zip_format)
        (d / "config.json").write_text(config.to_json_string(), encoding="utf-8")
        assert zipfile.is_zipfile(d / "pytorch_model.bin") == zip_format
    return types.SimpleNamespace(model=model, dirs=dirs, reference=convert_state_dict(model.state_dict(), config),
                                 weights=(dirs["legacy"] / "pytorch_model.bin").read_bytes(),
                                 config=(dirs["legacy"] / "config.json").read_bytes())


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """No proxy for the local server; caches (ours and pytorch-pretrained-biggan's) in tmp_path."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JAXGAN_CACHE", str(tmp_path / "jaxgan_cache"))
    monkeypatch.setenv("PYTORCH_PRETRAINED_BIGGAN_CACHE", str(tmp_path / "port_cache"))
    monkeypatch.delenv(URL_PREFIX_ENV, raising=False)
    return monkeypatch


class _FileServer:
    """A threaded local HTTP server for {url path: bytes}; paths in `truncate`
    announce their full length but send half, then close (a broken download)."""

    def __init__(self, files, truncate=()):
        self.requests = requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if self.path in truncate else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _served(released):
    return {"/biggan-deep-128-pytorch_model.bin": released.weights, "/biggan-deep-128-config.json": released.config}


def _assert_same_variables(a, b):
    assert a.model == b.model
    for x, y in ((a.params, b.params), (a.spectral, b.spectral)):
        assert jax.tree.structure(x) == jax.tree.structure(y)
        for u, v in zip(jax.tree.leaves(x), jax.tree.leaves(y)):
            np.testing.assert_array_equal(u, v)
    assert a.standing_stats.keys() == b.standing_stats.keys()
    for key, (means, variances) in a.standing_stats.items():
        np.testing.assert_array_equal(means, b.standing_stats[key][0])
        np.testing.assert_array_equal(variances, b.standing_stats[key][1])


def test_load_pretrained_from_files_without_torch(released, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # any `import torch` while loading fails
    legacy = load_pretrained(released.dirs["legacy"])
    from_bin = load_pretrained(str(released.dirs["zip"] / "pytorch_model.bin"))
    from_files = load_pretrained_files(released.dirs["zip"] / "pytorch_model.bin", released.dirs["zip"] / "config.json")
    monkeypatch.undo()
    for converted in (legacy, from_bin, from_files):
        _assert_same_variables(converted, released.reference)
    _assert_parity(released.model, legacy)


def test_load_pretrained_downloads_once_then_reads_the_cache(released, isolated_env, tmp_path, caplog):
    server = _FileServer(_served(released))
    isolated_env.setenv(URL_PREFIX_ENV, server.url)
    caplog.set_level(logging.INFO, logger="jaxgan.download")
    try:
        first = load_pretrained("biggan-deep-128", cache_dir=tmp_path / "cache")
        first_default = load_pretrained("biggan-deep-128")  # $JAXGAN_CACHE/pretrained/<name>
    finally:
        server.stop()
    assert sorted(server.requests) == sorted(list(_served(released)) * 2)
    default_dir = tmp_path / "jaxgan_cache" / "pretrained" / "biggan-deep-128"
    for d in (tmp_path / "cache", default_dir):
        assert sorted(os.listdir(d)) == ["config.json", "pytorch_model.bin"]
        assert (d / "pytorch_model.bin").read_bytes() == released.weights
    messages = [r.getMessage() for r in caplog.records]
    assert any("downloading " + server.url + "biggan-deep-128-pytorch_model.bin" in m and "MB" in m for m in messages)
    assert any("%" in m for m in messages)  # progress of the multi-MB weights
    # The server is gone: both caches answer alone.
    again = load_pretrained("biggan-deep-128", cache_dir=tmp_path / "cache")
    again_default = load_pretrained("biggan-deep-128")
    for converted in (first, first_default, again, again_default):
        _assert_same_variables(converted, released.reference)


def test_failed_download_leaves_nothing_partial(released, isolated_env, tmp_path):
    server = _FileServer(_served(released), truncate={"/biggan-deep-128-pytorch_model.bin"})
    isolated_env.setenv(URL_PREFIX_ENV, server.url)
    cache = tmp_path / "cache"
    try:
        with pytest.raises(DownloadError, match="biggan-deep-128-pytorch_model.bin") as e:
            load_pretrained("biggan-deep-128", cache_dir=cache)
    finally:
        server.stop()
    message = str(e.value)
    assert "pytorch_model.bin and config.json in one directory" in message and "bytes" in message
    assert os.listdir(cache) == ["config.json"]  # complete; the weights and their .part file are gone
    # Nothing listening any more: the error names the URL, the cache stays empty.
    with pytest.raises(DownloadError, match=r"could not download http://127\.0\.0\.1:\d+/biggan-deep-256-config"):
        load_pretrained("biggan-deep-256", cache_dir=tmp_path / "cache256")
    assert os.listdir(tmp_path / "cache256") == []


def test_load_pretrained_reuses_pytorch_pretrained_biggans_cache(released, isolated_env, tmp_path):
    isolated_env.setenv(URL_PREFIX_ENV, "http://127.0.0.1:9/")  # nothing listens: no download possible
    port_cache = tmp_path / "port_cache"
    port_cache.mkdir()
    etag = hashlib.sha256(b'"etag"').hexdigest()
    for filename, url in pretrained_urls("biggan-deep-128").items():
        stem = hashlib.sha256(url.encode()).hexdigest()
        shutil.copy(released.dirs["legacy"] / filename, port_cache / f"{stem}.{etag}")
        (port_cache / f"{stem}.{etag}.json").write_text('{"url": "%s", "etag": "\\"etag\\""}' % url)
    converted = load_pretrained("biggan-deep-128", cache_dir=tmp_path / "ours")
    _assert_same_variables(converted, released.reference)
    assert not (tmp_path / "ours").exists()  # used in place, not copied


def test_load_pretrained_errors(released, isolated_env, tmp_path):
    with pytest.raises(ValueError, match="biggan-deep-128, biggan-deep-256, biggan-deep-512"):
        load_pretrained("biggan-deep-1024")
    no_config = tmp_path / "no_config"
    no_config.mkdir()
    shutil.copy(released.dirs["zip"] / "pytorch_model.bin", no_config)
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_pretrained(no_config)
    # A cache holding another model's files under a name.
    wrong = tmp_path / "wrong"
    shutil.copytree(released.dirs["zip"], wrong)
    with pytest.raises(ValueError, match="128x128 model, not biggan-deep-256"):
        load_pretrained("biggan-deep-256", cache_dir=wrong)
    # A damaged cached file is named, with the way out.
    damaged = tmp_path / "damaged"
    shutil.copytree(released.dirs["legacy"], damaged)
    (damaged / "pytorch_model.bin").write_bytes(released.weights[: len(released.weights) // 2])
    with pytest.raises(torch_checkpoint.CheckpointError, match="truncated.*delete it"):
        load_pretrained("biggan-deep-128", cache_dir=damaged)
