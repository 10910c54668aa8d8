"""The pix2pix quickstart task (`config.data.source = 'edges2digits'`): the
Sobel edge map of each MNIST-5k digit (jaxgan.data.mnist5k, 32x32) as the
input, the digit as the target; no download.

Edge map: the gradient magnitude of the digit (scaled to [0, 1]) under the
3x3 Sobel operator, divided by the image's largest magnitude, then to
[-1, 1] (background -1, strongest edges 1); scipy.ndimage computes it once per
process for all 5000 digits.

Splits (`config.data.split`), fixed and deterministic: 'test' is 50 digits of
each class, 500 in all, ordered 0, 1, ..., 9, 0, 1, ...; the rest (4500) is
'train'. The 50 are the first 50
of the 100 per class that benchmarks/quickstart_quality.py's digit classifier
holds out at its default seed 0 (the same draws: numpy's default_rng(0), one
permutation of each class's indices in class order), so the classifier that
scores the translations never trained on their targets.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from jaxgan.data import mnist5k

SIZE = 32
SPLITS = ("train", "test")
HELD_OUT_PER_CLASS = 50


@functools.lru_cache(maxsize=1)
def split_indices() -> dict[str, np.ndarray]:
    """{'train': 4500 indices (sorted), 'test': 500} into mnist5k's digits."""
    _, labels = mnist5k.load_arrays()
    rng = np.random.default_rng(0)  # the digit classifier's held-out draws (module docstring)
    held = np.stack([np.sort(rng.permutation(np.flatnonzero(labels == c))[:100][:HELD_OUT_PER_CLASS])
                     for c in range(mnist5k.NUM_CLASSES)])
    # Classes take turns (0, 1, ..., 9, 0, ...): any first n pairs, as a sample grid shows them, mix the digits.
    test = held.T.ravel()
    train = np.setdiff1d(np.arange(len(labels)), test)
    for a in (train, test):
        a.setflags(write=False)
    return {"train": train, "test": test}


def sobel_edges(digits: np.ndarray) -> np.ndarray:
    """Edge maps float32 [N, H, W] in [-1, 1] of uint8 digits [N, H, W]."""
    from scipy import ndimage

    x = digits.astype(np.float32) / 255.0
    kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
    # One image at a time: the kernels get a batch axis of size 1 (ndimage.sobel would also smooth across images).
    gx = ndimage.correlate(x, kx[None], mode="constant")
    gy = ndimage.correlate(x, kx.T[None], mode="constant")
    magnitude = np.hypot(gx, gy)
    top = magnitude.max(axis=(1, 2), keepdims=True)
    return (2.0 * magnitude / np.maximum(top, 1e-6) - 1.0).astype(np.float32)


@functools.lru_cache(maxsize=1)
def all_pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edges float32 [5000, 32, 32], digits float32 [5000, 32, 32] in [-1, 1], labels)."""
    images, labels = mnist5k.load_arrays()
    digits = mnist5k.padded(images)
    edges, targets = sobel_edges(digits), digits.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
    for a in (edges, targets):
        a.setflags(write=False)
    return edges, targets, labels


def _check(data_config: Any, split: str) -> tuple[int, int]:
    if split not in SPLITS:
        raise ValueError(f"config.data.split must be 'train' (4500 digits) or 'test' (500) for edges2digits, "
                         f"got {split!r}")
    if int(data_config.image_size) != SIZE:
        raise ValueError(f"config.data.image_size must be {SIZE} for edges2digits, got {data_config.image_size}")
    if int(data_config.load_size) not in (0, SIZE):
        raise ValueError(f"config.data.load_size must be 0 or {SIZE} for edges2digits (no crops of digits), got "
                         f"{data_config.load_size}")
    channels = int(data_config.input_channels), int(data_config.channels)
    if any(c not in (1, 3) for c in channels):
        raise ValueError(f"config.data.input_channels and channels must be 1 or 3, got {channels}")
    return channels


def _with_channels(x: np.ndarray, channels: int) -> np.ndarray:
    return np.repeat(x[..., None], channels, axis=-1)


def pairs(data_config: Any, split: str, num: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(edges, digits) float32 [N, 32, 32, C] of the first `num` digits of `split`."""
    cin, cout = _check(data_config, split)
    edges, digits, _ = all_pairs()
    idx = split_indices()[split][:num]
    return _with_channels(edges[idx], cin), _with_channels(digits[idx], cout)


def labels(split: str) -> np.ndarray:
    """The digits' classes of `split`, in the order of `pairs`."""
    return np.asarray(mnist5k.load_arrays()[1])[split_indices()[split]]


def build(data_config: Any, **kwargs: Any):
    from jaxgan.data.paired import PairedPipeline

    cin, cout = _check(data_config, data_config.split)
    edges, digits, _ = all_pairs()
    idx = split_indices()[data_config.split]

    def load(i: int, augment):
        flip = augment[0]
        source, target = _with_channels(edges[idx[i]], cin), _with_channels(digits[idx[i]], cout)
        return (source[:, ::-1], target[:, ::-1]) if flip else (source, target)

    flip = data_config.random_flip
    return PairedPipeline(
        load=load, describe=lambda i: f"edges2digits[{idx[i]}]", num_records=len(idx),
        input_shape=(SIZE, SIZE, cin), image_shape=(SIZE, SIZE, cout),
        random_flip=bool(flip) if flip is not None else False,  # mirrored digits are not digits
        num_workers=int(data_config.num_workers), name="edges2digits", **kwargs)
