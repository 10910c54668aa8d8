"""SIFID: the Single-Image FID of SinGAN (Shaham, Dekel & Michaeli, ICCV 2019).

FID compares two sets of images through one Inception vector per image. SIFID
compares two single images through the *internal* statistics of an early
Inception feature map: every spatial position of the map is one sample, each
image gets the mean and covariance of its positions, and SIFID is the Frechet
distance of the two Gaussians. A SinGAN evaluation reports the mean SIFID over
(real image, generated image) pairs.

What the official script (SinGAN's `SIFID/sifid_score.py` with its
`SIFID/inception.py`) computes, and so what this module computes:

- the network is torchvision's ImageNet Inception-v3 (`inception_v3(pretrained=
  True)`), *not* pytorch-fid's FID Inception: the layers are the same, the
  weights differ. `load_sifid_params()` fetches torchvision's file; the FID
  weights (`weights.load_inception_params`) work too but give other numbers;
- its blocks are cut before the pools, unlike pytorch-fid's: `dims=64` is the
  output of Conv2d_2b_3x3 (before the first max pool), `dims=192` the output
  of Conv2d_4a_3x3 (before the second max pool). The script's command line
  uses 192, the layer the paper names ("the convolutional layer just before
  the second pooling layer"), so that is the default here;
- images are not resized (`resize_input=False`): the map keeps each image's
  size, and real and fake may differ in size;
- an image file becomes uint8 pixels (matplotlib's imread of a .jpg, the
  script's default suffix), then float32 / 255, then 2x - 1
  (`normalize_input=True`). jaxgan's [-1, 1] images are that last range
  already; uint8 images go through the same two steps. (For .png files the
  script divides imread's [0, 1] floats by 255 again, a bug not reproduced.)
- mean over positions, `np.cov` over positions (unbiased, N - 1), then
  pytorch-fid's Frechet distance. `metrics.frechet_distance` takes
  tr(sqrtm(sigma1 sigma2)) from two symmetric eigendecompositions instead of
  scipy's sqrtm: equal in exact arithmetic, and free of sqrtm's complex noise
  on the near-singular covariances of small images.

The network runs jitted on the accelerator, batched per image size; the
statistics and the distance are float64 on the host (the distance is a
difference of traces of similar size, where float32 would lose digits).

    params = load_sifid_params()                     # torchvision's Inception, the stem only
    per_pair = sifid(real_images, fake_images, params)   # [N] float64
    score = mean_sifid(real_images, fake_images, params)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.convert import torch_checkpoint
from jaxgan.eval import inception, metrics, weights

# What torchvision's inception_v3(pretrained=True) loads (Inception_V3_Weights.IMAGENET1K_V1).
TORCHVISION_INCEPTION_URL = "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth"

# The layers of each SIFID block, named as in torchvision / pytorch-fid and in
# `inception.FIDInceptionV3`; a max pool sits between the two groups.
_BEFORE_POOL1 = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3")
_BEFORE_POOL2 = ("Conv2d_3b_1x1", "Conv2d_4a_3x3")
LAYERS = {64: _BEFORE_POOL1, 192: _BEFORE_POOL1 + _BEFORE_POOL2}
DEFAULT_DIMS = 192


def _check_dims(dims: int) -> None:
    if dims not in LAYERS:
        raise ValueError(f"SIFID dims must be one of {sorted(LAYERS)} (SinGAN's blocks before the first / "
                         f"second max pool), got {dims}")


class SIFIDInception(nn.Module):
    """The start of Inception-v3 up to SinGAN's SIFID block, on [-1, 1] NHWC images.

    Built from `inception.BasicConv` under the layer names of
    `inception.FIDInceptionV3`, so its params are a subtree of that network's
    (`stem_params`). Returns the [N, h, w, dims] feature map.
    """

    dims: int = DEFAULT_DIMS
    precision: Any = jax.lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        _check_dims(self.dims)
        C = functools.partial(inception.BasicConv, precision=self.precision)
        x = C(32, 3, stride=2, name="Conv2d_1a_3x3")(x)
        x = C(32, 3, name="Conv2d_2a_3x3")(x)
        x = C(64, 3, padding=1, name="Conv2d_2b_3x3")(x)
        if self.dims == 64:
            return x
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")
        x = C(80, 1, name="Conv2d_3b_1x1")(x)
        return C(192, 3, name="Conv2d_4a_3x3")(x)


def stem_params(params: Mapping, dims: int = DEFAULT_DIMS) -> dict:
    """The layers `SIFIDInception(dims)` uses, from a full `FIDInceptionV3`
    param tree (or from one that holds only those layers)."""
    _check_dims(dims)
    missing = [k for k in LAYERS[dims] if k not in params]
    if missing:
        raise ValueError(f"the Inception params lack {missing} (needed for SIFID dims={dims})")
    return {k: params[k] for k in LAYERS[dims]}


def convert_state_dict(state_dict: Mapping[str, np.ndarray], dims: int = DEFAULT_DIMS) -> dict:
    """A torch Inception-v3 state dict (torchvision's `inception_v3`, the one
    SinGAN's script uses, or pytorch-fid's) -> `SIFIDInception(dims)` params.

    Only the layers up to the SIFID block are read (the rest of the file, e.g.
    torchvision's 1000-class fc and AuxLogits, is ignored); each of those must
    be present with the expected shape."""
    _check_dims(dims)
    template = jax.eval_shape(lambda: SIFIDInception(dims).init(jax.random.key(0), jnp.zeros((1, 75, 75, 3))))
    params: dict = {}
    for layer in LAYERS[dims]:
        def get(name, layer=layer):
            key = f"{layer}.{name}"
            if key not in state_dict:
                raise ValueError(f"not an Inception-v3 state dict: no tensor {key!r}")
            return np.asarray(state_dict[key], np.float32)

        params[layer] = {
            "kernel": np.ascontiguousarray(np.transpose(get("conv.weight"), (2, 3, 1, 0))),  # OIHW -> HWIO
            "bn": {"scale": get("bn.weight"), "bias": get("bn.bias"), "mean": get("bn.running_mean"),
                   "var": get("bn.running_var")},
        }
    wrong = [(path, np.shape(got), want.shape) for (path, got), want in zip(
        jax.tree_util.tree_leaves_with_path(params), jax.tree_util.tree_leaves(template["params"]))
        if np.shape(got) != want.shape]
    if wrong:
        path, got, want = wrong[0]
        raise ValueError(f"not an Inception-v3 state dict: {jax.tree_util.keystr(path)} has shape {got}, "
                         f"expected {want}")
    return params


def load_sifid_params(path: str | os.PathLike | None = None, dims: int = DEFAULT_DIMS) -> dict:
    """`SIFIDInception(dims)` params from a torch Inception-v3 .pth (read
    without torch), by default torchvision's ImageNet weights, which SinGAN's
    script uses (downloaded into the jaxgan cache on first use)."""
    if path is None:
        path = weights.download(TORCHVISION_INCEPTION_URL)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Inception weights not found: {path}")
    return convert_state_dict(torch_checkpoint.load_state_dict(path), dims)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _feature_map(dims: int, precision, input_range: tuple[float, float] | None, params, images):
    if input_range is None:  # uint8: the script's float32 / 255, then 2x - 1
        x = inception.to_inception_range(images.astype(jnp.float32) / 255.0, (0.0, 1.0))
    else:
        x = inception.to_inception_range(images.astype(jnp.float32), input_range)
    return SIFIDInception(dims, precision).apply({"params": params}, x)


def _as_image_list(images, what: str) -> list[np.ndarray]:
    """[N, H, W, C] array, one [H, W, C] image, or a sequence of [H, W, C]
    images (sizes may differ) -> list of [H, W, 3] arrays. A fourth (alpha)
    channel is dropped, as the script's `images[..., 0:3]` does."""
    if isinstance(images, (np.ndarray, jax.Array)):
        arr = np.asarray(images)
        items = [arr] if arr.ndim == 3 else list(arr) if arr.ndim == 4 else None
        if items is None:
            raise ValueError(f"{what}: expected [N, H, W, 3] or [H, W, 3] images, got shape {arr.shape}")
    else:
        items = [np.asarray(im) for im in images]
    out = []
    for im in items:
        if im.ndim != 3 or im.shape[-1] not in (3, 4):
            raise ValueError(f"{what}: each image must be [H, W, 3] (or RGBA), got shape {im.shape}")
        if im.dtype != np.uint8 and not np.issubdtype(im.dtype, np.floating):
            raise ValueError(f"{what}: images must be uint8 or float, got {im.dtype}")
        out.append(im[..., :3])
    return out


def feature_maps(images, params: Mapping, *, dims: int = DEFAULT_DIMS,
                 input_range: tuple[float, float] = (-1.0, 1.0), batch_size: int = 16,
                 precision=jax.lax.Precision.HIGHEST) -> list[np.ndarray]:
    """The SIFID feature map of each image: a list of float32 [h, w, dims].

    `images` as `sifid` takes them. Images of one size run through the jitted
    network together, `batch_size` at a time (the last batch padded, so each
    size compiles once); `params` is `SIFIDInception` params or a full
    `FIDInceptionV3` tree."""
    ims = _as_image_list(images, "images")
    params = stem_params(params, dims)
    out: list[np.ndarray | None] = [None] * len(ims)
    groups: dict[tuple, list[int]] = {}
    for i, im in enumerate(ims):
        groups.setdefault((im.shape, im.dtype == np.uint8), []).append(i)
    for (shape, is_u8), idx in groups.items():
        rng = None if is_u8 else tuple(float(v) for v in input_range)
        for s in range(0, len(idx), batch_size):
            part = idx[s:s + batch_size]
            batch = np.stack([ims[i] for i in part])
            if len(part) < batch_size and len(idx) > batch_size:
                batch = np.concatenate([batch, np.zeros((batch_size - len(part),) + shape, batch.dtype)])
            fmap = np.asarray(_feature_map(dims, precision, rng, params, batch))
            for j, i in enumerate(part):
                out[i] = fmap[j]
    return out


def sifid_from_feature_maps(real_map: np.ndarray, fake_map: np.ndarray) -> float:
    """SIFID of two [h, w, D] feature maps (sizes may differ): the Frechet
    distance of the Gaussians fitted to their positions (float64)."""
    real = np.asarray(real_map).reshape(-1, real_map.shape[-1])
    fake = np.asarray(fake_map).reshape(-1, fake_map.shape[-1])
    return metrics.frechet_distance(*metrics.statistics(real), *metrics.statistics(fake))


def sifid(real, fake, params: Mapping, *, dims: int = DEFAULT_DIMS,
          input_range: tuple[float, float] = (-1.0, 1.0), batch_size: int = 16,
          precision=jax.lax.Precision.HIGHEST) -> np.ndarray:
    """Per-pair SIFID of real[i] vs fake[i]: float64 [N].

    `real` and `fake`: [N, H, W, 3] arrays, single [H, W, 3] images, or
    sequences of [H, W, 3] images (any sizes; a real and its fake need not
    match). Float images are in `input_range` (default [-1, 1], what jaxgan's
    generators emit); uint8 images are [0, 255], taken as the script takes a
    decoded .jpg. `params`: `load_sifid_params()` for the paper's numbers (or
    any `SIFIDInception` / full `FIDInceptionV3` params)."""
    real_l, fake_l = _as_image_list(real, "real"), _as_image_list(fake, "fake")
    if len(real_l) != len(fake_l) or not real_l:
        raise ValueError(f"need as many real as fake images (>= 1), got {len(real_l)} and {len(fake_l)}")
    kw = dict(params=params, dims=dims, input_range=input_range, batch_size=batch_size, precision=precision)
    maps = feature_maps(real_l + fake_l, **kw)
    n = len(real_l)
    return np.array([sifid_from_feature_maps(maps[i], maps[n + i]) for i in range(n)], np.float64)


def mean_sifid(real, fake, params: Mapping, **kwargs) -> float:
    """The mean SIFID over the pairs: the number the script prints."""
    return float(np.mean(sifid(real, fake, params, **kwargs)))
