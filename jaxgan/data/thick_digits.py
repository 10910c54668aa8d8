"""The CycleGAN quickstart task (`config.data.source = 'thick_digits'`):
unpaired translation from MNIST-5k digits (jaxgan.data.mnist5k, padded to
32x32, grey) to the same kind of digits morphologically thickened; no
download.

Thickening: `scipy.ndimage.grey_dilation` of the uint8 digit with a 3x3
square footprint (each pixel becomes the brightest of its 8-neighbourhood:
every stroke grows by one pixel on each side), then to [-1, 1]. On the 500
held-out digits the do-nothing translation (the input itself) is 0.200 from
its thickened truth in mean L1 ([-1, 1] units).

Splits (`config.data.split`), fixed and deterministic, built on
edges2digits' split (jaxgan.data.edges2digits.split_indices), so the 500
held-out digits are the same ones its benchmarks hold out:
- 'train': unpaired. Domain A is every other one of edges2digits' 4500
  training digits (`split_indices()["train_a"]`: positions 0, 2, 4, ... of
  the sorted indices, 2250 digits), domain B the thickened OTHER half
  (`"train_b"`: positions 1, 3, 5, ..., 2250 digits); the halves share no
  digit, so no (digit, its thickened self) pair is ever seen, and both are
  balanced over the classes (mnist5k stores the classes in blocks).
- 'test': edges2digits' 500 held-out digits as A, each with its own
  thickened version as the truth (`held_out`), for evaluation only.

Batches: `{"input": float32 [B, 32, 32, input_channels] (domain A, thin),
"image": float32 [B, 32, 32, channels] (domain B, thick), "label": int32
zeros [B]}` in [-1, 1]. An epoch walks the 2250 A digits in a fresh order;
each A gets an independently drawn random B of the B half (the reference's
unaligned dataset draws a random B index unless --serial_batches), drawn by
the pipeline's order as a pure function of (seed, process, position), so a
resumed run sees the batches an uninterrupted one would. No flips (mirrored
digits are not digits) and no crops (image_size 32, load_size 0 or 32).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from jaxgan.data import edges2digits, mnist5k

SIZE = 32
SPLITS = ("train", "test")
FOOTPRINT = np.ones((3, 3), bool)  # the dilation's structuring element: a 3x3 square


def thicken(digits: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W] digits dilated (grey_dilation, 3x3 square), each image alone."""
    from scipy import ndimage

    # A footprint of depth 1 on the batch axis: one image never spills into the next.
    return ndimage.grey_dilation(np.asarray(digits), footprint=FOOTPRINT[None], mode="constant", cval=0)


@functools.lru_cache(maxsize=1)
def split_indices() -> dict[str, np.ndarray]:
    """{'train_a': 2250, 'train_b': 2250, 'test': 500} indices into mnist5k's
    digits: the two disjoint halves of edges2digits' training digits and its
    held-out ones (module docstring)."""
    split = edges2digits.split_indices()
    out = {"train_a": split["train"][0::2], "train_b": split["train"][1::2], "test": split["test"]}
    for a in out.values():
        a.setflags(write=False)
    return out


@functools.lru_cache(maxsize=1)
def all_digits() -> tuple[np.ndarray, np.ndarray]:
    """(digits, thickened digits), float32 [5000, 32, 32] in [-1, 1]."""
    images, _ = mnist5k.load_arrays()
    digits = mnist5k.padded(images)
    scale = lambda x: x.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
    thin, thick = scale(digits), scale(thicken(digits))
    for a in (thin, thick):
        a.setflags(write=False)
    return thin, thick


def _check(data_config: Any, split: str) -> tuple[int, int]:
    if split not in SPLITS:
        raise ValueError(f"config.data.split must be 'train' (2250 + 2250 unpaired digits) or 'test' (500 held-out "
                         f"pairs) for thick_digits, got {split!r}")
    if int(data_config.image_size) != SIZE:
        raise ValueError(f"config.data.image_size must be {SIZE} for thick_digits, got {data_config.image_size}")
    if int(data_config.load_size) not in (0, SIZE):
        raise ValueError(f"config.data.load_size must be 0 or {SIZE} for thick_digits (no crops of digits), got "
                         f"{data_config.load_size}")
    if data_config.get("direction", "AtoB") != "AtoB":
        raise ValueError(f"config.data.direction must be 'AtoB' for thick_digits (A: the digits, B: thickened), "
                         f"got {data_config.direction!r}")
    if data_config.random_flip:
        raise ValueError("config.data.random_flip must be False or unset for thick_digits: mirrored digits are not "
                         "digits")
    channels = int(data_config.input_channels), int(data_config.channels)
    if any(c not in (1, 3) for c in channels):
        raise ValueError(f"config.data.input_channels and channels must be 1 or 3, got {channels}")
    return channels


def _with_channels(x: np.ndarray, channels: int) -> np.ndarray:
    return np.repeat(x[..., None], channels, axis=-1)


def held_out(data_config: Any, split: str, num: int | None = None) -> dict[str, np.ndarray]:
    """{"input": digits, "image": their thickened truths}, float32 [N, 32, 32,
    C], of the first `num` (None: all) digits of `split`: 'test' the 500
    held-out digits (classes in turn 0, 1, ..., 9, 0, ...), 'train' the A half
    (whose thickened versions training never shows)."""
    cin, cout = _check(data_config, split)
    thin, thick = all_digits()
    idx = split_indices()["test" if split == "test" else "train_a"][:num]
    return {"input": _with_channels(thin[idx], cin), "image": _with_channels(thick[idx], cout)}


def build(data_config: Any, **kwargs: Any):
    """The unpaired training stream of config.data.split 'train' (module docstring)."""
    from jaxgan.data.paired import PairedPipeline

    if data_config.split != "train":
        raise ValueError(f"config.data.split must be 'train' to train on thick_digits ('test' holds the held-out "
                         f"pairs), got {data_config.split!r}")
    cin, cout = _check(data_config, data_config.split)
    thin, thick = all_digits()
    split = split_indices()
    a_idx, b_idx = split["train_a"], split["train_b"]

    def load(i: int, augment):
        # PairOrder's `top` draw, uniform in [0, crop_room], is the position's random B (no crops here).
        _, b, _ = augment
        return _with_channels(thin[a_idx[i]], cin), _with_channels(thick[b_idx[b]], cout)

    return PairedPipeline(
        load=load, describe=lambda i: f"thick_digits[{a_idx[i]}]", num_records=len(a_idx),
        input_shape=(SIZE, SIZE, cin), image_shape=(SIZE, SIZE, cout), random_flip=False,
        crop_room=len(b_idx) - 1, num_workers=int(data_config.num_workers), name="thick_digits", **kwargs)
