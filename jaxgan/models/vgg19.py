"""pix2pixHD's VGG19 perceptual loss (NVIDIA/pix2pixHD, models/networks.py,
`Vgg19` and `VGGLoss`) on torchvision's ImageNet VGG19, read without torch.

`VGG19Features` is torchvision's `vgg19().features` up to layer 29 (relu5_1):
3x3 convolutions (padding 1) each followed by a ReLU, and 2x2 stride-2 max
pools at indices 4, 9, 18 and 27. It returns the reference's five slices'
outputs, relu1_1 (index 1), relu2_1 (6), relu3_1 (11), relu4_1 (20) and
relu5_1 (29): 64, 128, 256, 512 and 512 channels at 1, 1/2, 1/4, 1/8 and 1/16
of the input's side. The layers from index 30 on (three more convs, a pool)
are not part of it.

`vgg_loss(vgg, params, x, y)` is the reference's VGGLoss: sum over the five
outputs of weight_i * mean |vgg(x)_i - vgg(y)_i|, weights 1/32, 1/16, 1/8,
1/4, 1, with y's features under stop_gradient (the reference's .detach()).
The trainer multiplies it by lambda_feat (10) itself. Inputs are NHWC and go in
as the reference passes them: the generator's range [-1, 1], without
ImageNet's mean/std normalisation (which torchvision's weights were trained
with; pix2pixHD does not apply it).

Weights: torchvision's published VGG19 (`VGG19_URL`,
https://download.pytorch.org/models/vgg19-dcbb9e9d.pth, 548 MB; `dcbb9e9d` is
its sha256 prefix, which torchvision checks and so does this module). They are
not shipped with jaxgan: `load_vgg19_params()` downloads the file into the
cache ($JAXGAN_CACHE, else ~/.cache/jaxgan) on first use, reads it without torch
(jaxgan.convert.torch_checkpoint) and caches the 26 tensors of features.0 to
features.28 (13 convs, 12,944,960 parameters, 52 MB) as a .npz, which later
loads read instead (the .pth stays beside it; deleting it frees 548 MB and
later loads still work). Offline, pass the file: `load_vgg19_params(PATH)`, or
`--config.loss.vgg_weights=PATH` to the trainer; PATH is torchvision's .pth
(under any name, e.g. torch.hub's ~/.cache/torch/hub/checkpoints/
vgg19-dcbb9e9d.pth; only downloads are hash-checked) or a .npz this module
wrote (`convert_pth`).

Flax names are the state dict's (jaxgan.models.pix2pix's rule, which
`pix2pix.params_from_torch_state_dict` applies): torch `features.0.weight`
[out, in, 3, 3] is `features_0/kernel` (HWIO), `features.0.bias` is
`features_0/bias`. Parameters are float32; `dtype` is the compute dtype (e.g.
bfloat16), and the loss is summed in float32 either way.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import download as download_lib
from jaxgan.convert import torch_checkpoint
from jaxgan.models.pix2pix import conv_stride1, params_from_torch_state_dict

Array = jax.Array
log = logging.getLogger("jaxgan.models.vgg19")

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"

# torchvision's vgg19().features indices up to relu5_1.
CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28)
CONV_WIDTHS = (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 512, 512, 512)
POOL_INDICES = (4, 9, 18, 27)
# The ReLUs that end the reference's slices [0:2], [2:7], [7:12], [12:21], [21:30].
OUTPUT_INDICES = (1, 6, 11, 20, 29)
LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)

STATE_DICT_KEYS = tuple(f"features.{i}.{t}" for i in CONV_INDICES for t in ("weight", "bias"))
_SOURCE_KEY = "__source__"


class Conv3x3(nn.Module):
    """torch's Conv2d(in, features, 3, padding=1) with a bias; kernel HWIO,
    float32 parameters, computed in `dtype` (input and kernel cast), through
    conv_stride1's fast CPU gradients. The init is torchvision's (kaiming
    normal, fan_out; zero bias), though the weights are always loaded."""

    features: int
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array) -> Array:
        kernel = self.param("kernel", nn.initializers.variance_scaling(2.0, "fan_out", "normal"),
                            (3, 3, x.shape[-1], self.features), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        y = conv_stride1(x.astype(self.dtype), kernel.astype(self.dtype), ((1, 1), (1, 1)))
        return y + bias.astype(self.dtype)


class VGG19Features(nn.Module):
    """torchvision's vgg19().features[:30] on NHWC images, returning the
    reference's [relu1_1, relu2_1, relu3_1, relu4_1, relu5_1] (in `dtype`).
    Any side works; torch's flooring max pools halve it four times."""

    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, x: Array) -> list[Array]:
        widths = dict(zip(CONV_INDICES, CONV_WIDTHS))
        x = x.astype(self.dtype)
        outputs = []
        for i in range(OUTPUT_INDICES[-1] + 1):
            if i in widths:
                x = Conv3x3(widths[i], dtype=self.dtype, name=f"features_{i}")(x)
            elif i in POOL_INDICES:
                x = nn.max_pool(x, (2, 2), strides=(2, 2))
            else:  # the ReLU after each conv
                x = nn.relu(x)
            if i in OUTPUT_INDICES:
                outputs.append(x)
        return outputs


# --------------------------------------------------------------------------
# The loss


def loss_from_features(x_features: Sequence[Array], y_features: Sequence[Array]) -> Array:
    """sum_i LAYER_WEIGHTS[i] * mean |x_i - stop_gradient(y_i)|, in float32."""
    if len(x_features) != len(LAYER_WEIGHTS) or len(y_features) != len(LAYER_WEIGHTS):
        raise ValueError(f"expected {len(LAYER_WEIGHTS)} feature maps per side, got "
                         f"{len(x_features)} and {len(y_features)}")
    total = jnp.zeros((), jnp.float32)
    for w, a, b in zip(LAYER_WEIGHTS, x_features, y_features):
        b = jax.lax.stop_gradient(b)
        total = total + w * jnp.mean(jnp.abs(a.astype(jnp.float32) - b.astype(jnp.float32)))
    return total


def features_pair(vgg: VGG19Features, params: Mapping, x: Array, y: Array) -> tuple[list[Array], list[Array]]:
    """(vgg(x), vgg(y)) from ONE forward pass on concat([x, y]) along the batch:
    half the calls, the same values (every layer works per image). Under
    jax.grad with respect to x only, the backward pass still runs over the y
    half too (its cotangent is zero but concatenated into the full batch), so
    this trades a larger backward for fewer, larger forward calls: on the CPU,
    value_and_grad at 4x64x64 took 0.38 s this way and 0.29 s as two calls."""
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    n = x.shape[0]
    features = vgg.apply(params, jnp.concatenate([x, y.astype(x.dtype)], axis=0))
    return [f[:n] for f in features], [f[n:] for f in features]


def vgg_loss(vgg: VGG19Features, params: Mapping, x: Array, y: Array, one_pass: bool = False) -> Array:
    """The reference's VGGLoss(x, y) (not multiplied by lambda_feat): a float32
    scalar; gradients flow into x only. NHWC images in [-1, 1], as the
    reference passes them (no ImageNet normalisation).

    By default x and y go through VGG separately, as in the reference: y's
    forward pass is then not differentiated at all. `one_pass=True` uses
    `features_pair` (one call on the concatenated batch; the same value)."""
    if one_pass:
        x_features, y_features = features_pair(vgg, params, x, y)
    else:
        if x.shape != y.shape:
            raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
        x_features = vgg.apply(params, x)
        y_features = vgg.apply(params, jax.lax.stop_gradient(y))
    return loss_from_features(x_features, y_features)


# --------------------------------------------------------------------------
# Weights


@functools.cache
def _param_shapes() -> dict:
    x = jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32)
    return dict(jax.eval_shape(VGG19Features().init, jax.random.key(0), x))  # ShapeDtypeStructs


def _flat_shapes() -> dict[str, tuple[int, ...]]:
    params = _param_shapes()["params"]
    return {f"features_{i}/{leaf}": tuple(s.shape) for i in CONV_INDICES for leaf, s in params[f"features_{i}"].items()}


def cache_dir() -> Path:
    return download_lib.cache_root()


def _hash_prefix_from_name(name: str) -> str | None:
    # torch.hub's convention, which torchvision's file names follow: `<name>-<sha256 prefix>.<ext>`.
    m = re.search(r"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$", name)
    return m.group(1) if m else None


def download(url: str | None = None, directory: str | os.PathLike | None = None) -> Path:
    """Fetch `url` (default VGG19_URL) into `directory` (default: the cache),
    refusing a file whose sha256 does not start with the prefix in its name,
    as torchvision's download does. A file already there is returned as is
    (only verified downloads are ever written under that name)."""
    url = url or VGG19_URL
    directory = Path(directory or cache_dir())
    name = url.rsplit("/", 1)[-1]
    target = directory / name
    if target.exists():
        return target
    return download_lib.download(url, target, sha256_prefix=_hash_prefix_from_name(name), hint=(
        f"Download torchvision's VGG19 weights ({VGG19_URL}) by other means and pass their path "
        f"(--config.loss.vgg_weights=PATH, or load_vgg19_params(PATH)); torch.hub keeps them in "
        f"~/.cache/torch/hub/checkpoints/. Or place the file in {directory}"))


def params_from_state_dict(state_dict: Mapping[str, Any], source: str = "the state dict") -> dict:
    """{'params': ...} (float32 numpy) from torchvision's VGG19 state dict:
    `features.N.*` for N <= 28 are kept, everything else (the later convs,
    the classifier) is dropped. A missing or misshapen tensor raises a one-line
    ValueError naming `source`."""
    kept = {}
    for key in STATE_DICT_KEYS:
        if key not in state_dict:
            raise ValueError(f"{source}: no {key!r}; not torchvision's VGG19 state dict?")
        kept[key] = np.asarray(state_dict[key], dtype=np.float32)
    try:
        return params_from_torch_state_dict(kept, like=_param_shapes())
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None


def save_npz(params: Mapping, path: str | os.PathLike, source: str = "") -> None:
    """The 26 arrays as `features_N/kernel|bias`, plus where they came from."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat = {f"{name}/{leaf}": np.asarray(v, np.float32)
            for name, leaves in params["params"].items() for leaf, v in leaves.items()}
    flat[_SOURCE_KEY] = np.asarray(source)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **flat)
    os.replace(tmp, path)  # never leave a half-written cache behind


def _load_npz(path: Path) -> tuple[dict, str]:
    with np.load(path) as z:
        flat = {k: z[k] for k in z.files}
    source = str(flat.pop(_SOURCE_KEY, ""))
    params: dict = {}
    for key, shape in _flat_shapes().items():
        if key not in flat:
            raise ValueError(f"{path}: no {key!r}; not a VGG19 .npz written by jaxgan.models.vgg19?")
        if flat[key].shape != shape:
            raise ValueError(f"{path}: {key!r} has shape {flat[key].shape}, expected {shape}")
        name, leaf = key.split("/")
        params.setdefault(name, {})[leaf] = flat.pop(key).astype(np.float32)
    if flat:
        raise ValueError(f"{path}: unexpected arrays {sorted(flat)[:5]}")
    return {"params": params}, source


def load_npz(path: str | os.PathLike) -> dict:
    return _load_npz(Path(path))[0]


def convert_pth(pth: str | os.PathLike, npz: str | os.PathLike | None = None, source: str = "") -> dict:
    """Read torchvision's VGG19 .pth (without torch), keep features.0..28 and,
    with `npz`, save them there. Returns {'params': ...}."""
    pth = Path(pth)
    params = params_from_state_dict(torch_checkpoint.load_state_dict(pth), source=str(pth))
    if npz is not None:
        save_npz(params, npz, source)
    return params


def _cached(npz: Path, source: str) -> dict | None:
    """The params in `npz` if it exists and was converted from `source`."""
    if not npz.exists():
        return None
    try:
        params, got = _load_npz(npz)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # a damaged cache is rebuilt
        log.warning("ignoring %s: %s", npz, e)
        return None
    return params if got == source else None


def _stamp(pth: Path) -> str:
    # Which file a cached conversion came from, without hashing 548 MB on every load.
    st = pth.stat()
    return f"{pth.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def load_vgg19_params(path: str | os.PathLike | None = None) -> dict:
    """{'params': ...} (numpy float32) for `VGG19Features`.

    - None: the cache's converted weights; on first use downloads VGG19_URL
      (hash-checked) and converts it.
    - a .npz written by this module: read as is.
    - any other file: torchvision's VGG19 state dict (.pth under any name),
      read without torch. Its conversion is cached too (in the cache's
      vgg19-converted/, keyed by the file's path, size and mtime), so that
      later loads do not re-read the whole .pth; a cache that cannot be
      written is skipped with a warning.
    This is what the trainer's `--config.loss.vgg_weights=PATH` is passed to.
    """
    if path is None:
        name = VGG19_URL.rsplit("/", 1)[-1]
        npz = cache_dir() / (Path(name).stem + ".npz")
        source = f"download:{VGG19_URL}"
        return _cached(npz, source) or convert_pth(download(VGG19_URL), npz, source)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"VGG19 weights not found: {path}")
    if path.suffix == ".npz":
        return load_npz(path)
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:10]
    npz = cache_dir() / "vgg19-converted" / f"{path.stem}-{key}.npz"
    stamp = _stamp(path)
    if params := _cached(npz, stamp):
        return params
    params = convert_pth(path)
    try:
        save_npz(params, npz, stamp)
    except OSError as e:
        log.warning("could not cache the converted VGG19 weights at %s (%s); the .pth is read on every load", npz, e)
    return params
