"""Import pytorch-pretrained-biggan weights (DeepMind's BigGAN-deep 128/256/512)
into jaxgan's `BigGANDeepGenerator` variables.

pytorch-pretrained-biggan is the PyPI port of the TF Hub BigGAN-deep generators.
Its state dict holds, per spectrally normalised layer, `weight_orig` (the raw
weight), `weight_u` and `weight_v` (torch's power-iteration vectors); per
BatchNorm, `running_means` / `running_vars` tables of shape [n_stats, C]: the
"standing statistics" DeepMind measured for n_stats truncation values evenly
spaced in [0, 1]. Everything is mapped one to one:

    weight_orig -> params kernel (transposed to [in, out] / HWIO)
    weight_u, weight_v -> spectral u, v (v reordered to HWIO's fan-in order)
    running_means/vars -> standing statistics, turned into `batch_stats` for a
                          chosen truncation by `batch_stats_at`

With those, jaxgan in eval mode computes sigma = u^T W v exactly as torch's
spectral norm does in eval mode, so outputs match the port (tests pin this).

Only numpy is needed: `pytorch_model.bin` files are read without torch by
`jaxgan.convert.torch_checkpoint`, in the legacy `torch.save` layout (the
2019 releases predate torch 1.6's zip layout) or the zip one.

Getting the weights (`load_pretrained`):

    load_pretrained("biggan-deep-256")        # downloaded on first use, then cached
    load_pretrained("/path/to/dir")           # holding pytorch_model.bin + config.json
    load_pretrained("/path/to/pytorch_model.bin")  # config.json beside it

Named models come from the URLs pytorch-pretrained-biggan downloads from,
cached in `cache_dir` (default $JAXGAN_CACHE/pretrained/<name>, else
~/.cache/jaxgan/pretrained/<name>; the same variable as the FID weights'
cache). A copy already in pytorch-pretrained-biggan's own cache
($PYTORCH_PRETRAINED_BIGGAN_CACHE, else ~/.pytorch_pretrained_biggan) is used
in place. $JAXGAN_PRETRAINED_URL_PREFIX replaces the URLs' common prefix, for a
mirror (and the tests' local server): the files are then fetched from
`<prefix><name>-pytorch_model.bin` and `<prefix><name>-config.json`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
from typing import Any, Mapping

import numpy as np

from jaxgan import download
from jaxgan.convert import torch_checkpoint
from jaxgan.download import DownloadError  # noqa: F401 - raised by load_pretrained; importable from here
from jaxgan.models.biggan import g_channels
from jaxgan.models.biggan_deep import BigGANDeepGenerator

# The released models' settings (pytorch_pretrained_biggan.config / its
# convert_tf_to_pytorch.py): 1000 classes, z 128, ch 128, eps 1e-4 for both SN
# and BN, 51 sets of standing statistics.
RELEASED_RESOLUTIONS = (128, 256, 512)

# What pytorch-pretrained-biggan 0.1.1 downloads per model name
# (pytorch_pretrained_biggan/model.py: PRETRAINED_MODEL_ARCHIVE_MAP and
# PRETRAINED_CONFIG_ARCHIVE_MAP), keyed by the file names its from_pretrained
# expects in a local directory (WEIGHTS_NAME, CONFIG_NAME there).
WEIGHTS_NAME = "pytorch_model.bin"
CONFIG_NAME = "config.json"
_S3 = "https://s3.amazonaws.com/models.huggingface.co/biggan/"
PRETRAINED_URLS = {
    f"biggan-deep-{r}": {WEIGHTS_NAME: f"{_S3}biggan-deep-{r}-pytorch_model.bin",
                         CONFIG_NAME: f"{_S3}biggan-deep-{r}-config.json"}
    for r in RELEASED_RESOLUTIONS
}
# A directory URL that replaces _S3 above: a mirror, or a test's local server.
URL_PREFIX_ENV = "JAXGAN_PRETRAINED_URL_PREFIX"

log = logging.getLogger("jaxgan.convert")


@dataclasses.dataclass
class ConvertedGenerator:
    """A converted generator: the module, its params and spectral vectors, and
    the standing statistics per BatchNorm path: {path: (means, vars)}, each
    [n_stats, C]."""

    model: BigGANDeepGenerator
    params: dict
    spectral: dict
    standing_stats: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]]

    def variables(self, truncation: float, interpolation: str = "port") -> dict:
        """The variables to `model.apply` for samples drawn at `truncation`."""
        return {"params": self.params, "spectral": self.spectral,
                "batch_stats": batch_stats_at(self.standing_stats, truncation, interpolation)}


def _get(config: Any, key: str) -> Any:
    return config[key] if isinstance(config, Mapping) else getattr(config, key)


def generator_from_config(config: Any, dtype: Any = None) -> BigGANDeepGenerator:
    """The jaxgan generator equal to a pytorch-pretrained-biggan `BigGANConfig`
    (or its config.json as a dict). Raises if the config's layer list is not a
    BigGAN-deep layout jaxgan builds."""
    resolution, ch, z_dim = _get(config, "output_dim"), _get(config, "channel_width"), _get(config, "z_dim")
    expected = expected_layers(resolution)
    got = [tuple(layer) for layer in _get(config, "layers")]
    if got != expected:
        raise ValueError(f"config layers {got} are not the BigGAN-deep {resolution} layout {expected}")
    position = _get(config, "attention_layer_position")
    if not 0 < position <= len(got):
        raise ValueError(f"attention_layer_position {position} is outside the {len(got)} layers")
    # The port puts attention before layer `position`, i.e. after the previous
    # layer; its resolution is 4 doubled once per upsampling layer before it.
    attention_resolution = 4 * 2 ** sum(up for up, _, _ in got[:position])
    eps = _get(config, "eps")
    kw = dict(dtype=dtype) if dtype is not None else {}
    # The port's class embedding has z_dim columns (its class_embed_dim is unused).
    return BigGANDeepGenerator(resolution=resolution, ch=ch, dim_z=z_dim, shared_dim=z_dim,
                               num_classes=_get(config, "num_classes"), attention=(attention_resolution,),
                               sn_eps=eps, bn_eps=eps, to_rgb_features=ch, **kw)


def expected_layers(resolution: int) -> list[tuple[bool, int, int]]:
    """The port's (upsample, in, out) channel-multiplier list for a resolution."""
    out = []
    for c_in, c_out in g_channels(resolution, 1):
        out += [(False, c_in, c_in), (True, c_in, c_out)]
    return out


def _np(t: Any) -> np.ndarray:
    if hasattr(t, "detach"):  # a torch tensor
        t = t.detach().cpu().numpy()
    return np.asarray(t, dtype=np.float32)


class _Reader:
    """Pops tensors from a state dict, so unused or missing keys are caught."""

    def __init__(self, state_dict: Mapping[str, Any]):
        self.remaining = dict(state_dict)

    def pop(self, key: str) -> np.ndarray:
        if key not in self.remaining:
            raise KeyError(f"state dict has no {key!r}: not a pytorch-pretrained-biggan BigGAN state dict?")
        return _np(self.remaining.pop(key))

    def sn_dense(self, prefix: str, bias: bool) -> tuple[dict, dict]:
        w = self.pop(f"{prefix}.weight_orig")  # [out, in]
        params = {"kernel": w.T}
        if bias:
            params["bias"] = self.pop(f"{prefix}.bias")
        return params, {"u": self.pop(f"{prefix}.weight_u"), "v": self.pop(f"{prefix}.weight_v")}

    def sn_conv(self, prefix: str, bias: bool) -> tuple[dict, dict]:
        w = self.pop(f"{prefix}.weight_orig")  # [out, in, kh, kw]
        c_out, c_in, kh, kw = w.shape
        params = {"kernel": w.transpose(2, 3, 1, 0)}  # HWIO
        if bias:
            params["bias"] = self.pop(f"{prefix}.bias")
        # torch flattens the fan-in as (in, kh, kw); jaxgan as (kh, kw, in).
        v = self.pop(f"{prefix}.weight_v").reshape(c_in, kh, kw).transpose(1, 2, 0).reshape(-1)
        return params, {"u": self.pop(f"{prefix}.weight_u"), "v": v}


def convert_state_dict(state_dict: Mapping[str, Any], config: Any) -> ConvertedGenerator:
    """Maps a pytorch-pretrained-biggan `BigGAN.state_dict()` (torch tensors or
    numpy arrays) and its config onto a `BigGANDeepGenerator`."""
    model = generator_from_config(config)
    r = _Reader(state_dict)
    params: dict = {}
    spectral: dict = {}
    standing: dict = {}

    def put(path, p, s=None):
        params[path] = p
        if s is not None:
            spectral[path] = s

    params["shared"] = {"embedding": r.pop("embeddings.weight").T}  # Linear [z, classes] on one-hot
    put("linear", *r.sn_dense("generator.gen_z", bias=True))

    position = _get(config, "attention_layer_position")
    n_layers = len(_get(config, "layers"))
    for i in range(n_layers):
        src = f"generator.layers.{i if i < position else i + 1}"
        block_params, block_spectral = {}, {}
        for k in range(4):
            bn = f"bn{k + 1}"
            gain_p, gain_s = r.sn_dense(f"{src}.bn_{k}.scale", bias=False)
            bias_p, bias_s = r.sn_dense(f"{src}.bn_{k}.offset", bias=False)
            block_params[bn] = {"gain": gain_p, "bias": bias_p}
            block_spectral[bn] = {"gain": gain_s, "bias": bias_s}
            standing[(f"block{i}", bn)] = (r.pop(f"{src}.bn_{k}.running_means"), r.pop(f"{src}.bn_{k}.running_vars"))
            conv_p, conv_s = r.sn_conv(f"{src}.conv_{k}", bias=True)
            block_params[f"conv{k + 1}"], block_spectral[f"conv{k + 1}"] = conv_p, conv_s
        put(f"block{i}", block_params, block_spectral)

    src = f"generator.layers.{position}"
    attn_params, attn_spectral = {}, {}
    for ours, theirs in (("theta", "snconv1x1_theta"), ("phi", "snconv1x1_phi"), ("g", "snconv1x1_g"),
                         ("o", "snconv1x1_o_conv")):
        attn_params[ours], attn_spectral[ours] = r.sn_conv(f"{src}.{theirs}", bias=False)
    attn_params["gamma"] = r.pop(f"{src}.gamma").reshape(())
    put(f"attention{position - 1}", attn_params, attn_spectral)

    params["output_bn"] = {"scale": r.pop("generator.bn.weight"), "bias": r.pop("generator.bn.bias")}
    standing[("output_bn",)] = (r.pop("generator.bn.running_means"), r.pop("generator.bn.running_vars"))
    put("output_conv", *r.sn_conv("generator.conv_to_rgb", bias=True))

    if r.remaining:
        raise ValueError(f"state dict entries not used by the conversion: {sorted(r.remaining)}")
    return ConvertedGenerator(model, params, spectral, standing)


def stats_index_weights(truncation: float, n_stats: int, interpolation: str = "port") -> list[tuple[int, float]]:
    """(index, weight) pairs that mix the standing statistics for `truncation`.

    The tables hold statistics for truncations k / (n_stats - 1). 'port'
    reproduces pytorch-pretrained-biggan exactly: with t / step = i + c it takes
    c * S[i] + (1 - c) * S[i+1], weights swapped against linear interpolation,
    so it jumps where floating point leaves c a hair above 0 or below 1: at
    0.56 (0.56 / 0.02 = 28.000000000000004) it uses ~S[29], the statistics of
    0.58, and at 0.58 (28.999...) ~S[28]. Grid values such as 0.4, 0.5 and 1.0
    come out exact. That is what the port, and numbers computed with it, use.
    'linear' is plain linear interpolation, (1 - c) * S[i] + c * S[i+1].
    """
    if not 0 < truncation <= 1:
        raise ValueError(f"truncation must be in (0, 1], got {truncation}")
    step = 1.0 / (n_stats - 1)
    coef, start = math.modf(truncation / step)
    start = int(start)
    if interpolation == "port":
        return [(start, 1.0)] if coef == 0.0 else [(start, coef), (start + 1, 1.0 - coef)]
    if interpolation == "linear":
        if start >= n_stats - 1:
            return [(n_stats - 1, 1.0)]
        return [(start, 1.0 - coef), (start + 1, coef)]
    raise ValueError(f"interpolation must be 'port' or 'linear', got {interpolation!r}")


def batch_stats_at(standing: Mapping[tuple[str, ...], tuple[np.ndarray, np.ndarray]], truncation: float,
                   interpolation: str = "port") -> dict:
    """`batch_stats` for a truncation from the standing statistics tables."""
    out: dict = {}
    for path, (means, variances) in standing.items():
        weights = stats_index_weights(truncation, means.shape[0], interpolation)
        node = out
        for key in path:
            node = node.setdefault(key, {})
        node["mean"] = sum(np.float32(w) * means[i] for i, w in weights).astype(np.float32)
        node["var"] = sum(np.float32(w) * variances[i] for i, w in weights).astype(np.float32)
    return out


def load_pretrained_files(weights_path: str | os.PathLike, config_path: str | os.PathLike) -> ConvertedGenerator:
    """Converts a `pytorch_model.bin` + `config.json` pair of
    pytorch-pretrained-biggan. Reads the `.bin` without torch (zip or legacy
    torch.save layout)."""
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    state_dict = torch_checkpoint.load_state_dict(weights_path)
    return convert_state_dict(state_dict, config)


def pretrained_urls(name: str) -> dict[str, str]:
    """{file name: URL} of a named model, with $JAXGAN_PRETRAINED_URL_PREFIX
    (a directory URL) in place of the official location when it is set."""
    if name not in PRETRAINED_URLS:
        raise ValueError(_not_found_message(name))
    urls = dict(PRETRAINED_URLS[name])
    prefix = os.environ.get(URL_PREFIX_ENV)
    if prefix:
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        urls = {filename: prefix + url.rsplit("/", 1)[1] for filename, url in urls.items()}
    return urls


def default_cache_dir(name: str) -> str:
    """Where a named model is cached: $JAXGAN_CACHE/pretrained/<name>, else
    ~/.cache/jaxgan/pretrained/<name>."""
    return os.path.join(download.cache_root(), "pretrained", name)


def pretrained_files(name_or_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> tuple[str, str]:
    """(weights, config) paths for `load_pretrained`'s argument, downloading a
    named model's files on first use. A known name wins over a directory of the
    same name, as in pytorch-pretrained-biggan."""
    key = os.fspath(name_or_path)
    if key in PRETRAINED_URLS:
        return _fetch_named(key, cache_dir)
    if os.path.isdir(key):
        weights, config = os.path.join(key, WEIGHTS_NAME), os.path.join(key, CONFIG_NAME)
    elif os.path.isfile(key):
        weights, config = key, os.path.join(os.path.dirname(key), CONFIG_NAME)
    else:
        raise ValueError(_not_found_message(key))
    for path in (weights, config):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found: a pytorch-pretrained-biggan model is a {WEIGHTS_NAME} "
                                    f"with its {CONFIG_NAME} in the same directory")
    return weights, config


def load_pretrained(name_or_path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> ConvertedGenerator:
    """DeepMind's BigGAN-deep as pytorch-pretrained-biggan distributes it, as a
    jaxgan generator. `name_or_path`: 'biggan-deep-128', '-256' or '-512'
    (downloaded into `cache_dir` on first use, default `default_cache_dir`),
    a directory holding pytorch_model.bin and config.json, or the path of a
    pytorch_model.bin with config.json beside it.

        g = load_pretrained("biggan-deep-256")
        images = g.model.apply(g.variables(truncation), z, one_hot_labels)  # NHWC in [-1, 1]
    """
    weights, config = pretrained_files(name_or_path, cache_dir)
    log.info("loading %s from %s", os.fspath(name_or_path), weights)
    try:
        converted = load_pretrained_files(weights, config)
    except torch_checkpoint.CheckpointError as e:
        if os.fspath(name_or_path) not in PRETRAINED_URLS:
            raise
        raise torch_checkpoint.CheckpointError(f"{e}. If the cached {weights} is damaged, delete it and "
                                               "load_pretrained downloads it again") from e
    name = os.fspath(name_or_path)
    if name in PRETRAINED_URLS and f"biggan-deep-{converted.model.resolution}" != name:
        # A mirror or cache holding another model's files under this name.
        raise ValueError(f"{config} describes a {converted.model.resolution}x{converted.model.resolution} "
                         f"model, not {name}")
    return converted


def _not_found_message(key: str) -> str:
    return (f"{key!r} is neither a pretrained model name ({', '.join(PRETRAINED_URLS)}) nor an existing "
            f"directory holding {WEIGHTS_NAME} and {CONFIG_NAME} or a {WEIGHTS_NAME} file")


def _fetch_named(name: str, cache_dir: str | os.PathLike | None) -> tuple[str, str]:
    directory = os.fspath(cache_dir) if cache_dir is not None else default_cache_dir(name)
    urls = pretrained_urls(name)
    paths = {}
    for filename in (CONFIG_NAME, WEIGHTS_NAME):  # the small file first: a bad URL or network fails fast
        target = os.path.join(directory, filename)
        if not os.path.isfile(target):
            reused = _pytorch_pretrained_biggan_cached(urls[filename])
            if reused is not None:
                log.info("using pytorch-pretrained-biggan's cached copy of %s: %s", urls[filename], reused)
                target = reused
            else:
                download.download(urls[filename], target, hint=(
                    f"Without network access here, download {urls[WEIGHTS_NAME]} and {urls[CONFIG_NAME]} "
                    f"elsewhere, save them as {WEIGHTS_NAME} and {CONFIG_NAME} in one directory and pass "
                    f"that directory to load_pretrained (or put them in {directory})"))
        paths[filename] = target
    return paths[WEIGHTS_NAME], paths[CONFIG_NAME]


def _pytorch_pretrained_biggan_cached(url: str) -> str | None:
    """The file pytorch-pretrained-biggan cached for `url`, if any: it names
    files sha256(url) or sha256(url).sha256(etag), each with a .json beside it.
    Saves a second copy of the weights for users of both libraries."""
    directory = os.environ.get("PYTORCH_PRETRAINED_BIGGAN_CACHE") or os.path.join(
        os.path.expanduser("~"), ".pytorch_pretrained_biggan")
    stem = hashlib.sha256(url.encode("utf-8")).hexdigest()
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    found = [os.path.join(directory, n) for n in names
             if (n == stem or n.startswith(stem + ".")) and not n.endswith(".json")]
    found = [p for p in found if os.path.isfile(p)]
    return max(found, key=os.path.getmtime) if found else None
