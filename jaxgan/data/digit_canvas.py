"""The pix2pixHD quickstart task (`config.data.source = 'digit_canvas'`):
64x64 grey canvases of 2 to 4 MNIST-5k digits (jaxgan.data.mnist5k, 28x28)
drawn from an 11-class label map and an instance map; no download. The
pix2pixHD counterpart of edges2digits.

A canvas: k in {2, 3, 4} (uniform) digits, each a 28x28 MNIST image pasted
with its top-left corner uniform in [0, 36]^2, so every digit lies whole
inside the canvas.
- "image": the per-pixel max of the digits' ink, to [-1, 1] (background -1).
- "label_map": 0 background, 1 + the digit's class on the digit's silhouette:
  its ink (pixels > INK, a quarter of full ink) dilated by one pixel (3x3
  square): the strokes thickened, a silhouette rather than the exact
  strokes, so the generator has to draw the strokes inside it. Later digits
  overwrite.
- "instance": 0 background, else label * 1000 + j, j = 0, 1, ... counting the
  canvas' digits of that label in drawing order, on the same silhouettes:
  Cityscapes' ids, so pix2pixHD's `id // 1000` is the label id.
With probability TOUCH_SHARE the first two digits are of one class and their
silhouettes touch (4-adjacent or overlapping by at most a tenth of the
smaller): one blob of one label in the label map that only the instance map
(its edges) splits into two digits. Every other digit keeps a gap of at least
one pixel to every silhouette already drawn (8-neighbourhood), so its ink
overlaps nothing and it stays recognisable; a digit with no such place on
the canvas (a full search after MAX_TRIES random draws) is left out.
Measured at the fixed seeds (`stats`): 49.7% (train) and 50.2% (test) of
canvases hold a touching same-class pair (and no other canvas has two
instances in one blob of the label map); 2.98 (train) and 3.08 (test)
digits per canvas, 2, 3 and 4 digits on 33%, 36% and 31% of the training
canvases; 0.8% (train) and 0.4% (test) of the drawn digits left out. The
digits of a canvas are distinct images.

Splits (`config.data.split`), fixed and deterministic (numpy default_rng at
fixed seeds), generated once per process (about 2 s for both, reading the digits included): 'train',
4000 canvases of edges2digits' 4500 training digits only, and 'test', 500
canvases of its 500 held-out digits only (edges2digits.split_indices), which
benchmarks/quickstart_quality.py's digit classifier never trained on: a
benchmark crops each digit's 28x28 box (`digits_of`) out of a generated
canvas and classifies it.

No flips (mirrored digits are not digits) and no crops: image_size and
load_size are 64 (load_size 0 too), label_nc 11; "instance" is in the batches
when config.data.instance is set (the reference's --no_instance leaves it out).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

from jaxgan.data import edges2digits, mnist5k

SIZE = 64
DIGIT = 28
LABEL_NC = 1 + mnist5k.NUM_CLASSES  # background + 10 digit classes
SPLITS = {"train": 4000, "test": 500}  # canvases per split
SEEDS = {"train": 0xCA7A, "test": 0x7E57}
INK = 64  # uint8 ink above which a pixel is the digit's (a quarter of full ink)
TOUCH_SHARE = 0.5  # canvases drawn with two touching digits of one class
TOUCH_OVERLAP = 0.1  # their silhouettes overlap by at most this share of the smaller one
MAX_TRIES = 256  # random places tried per digit
_BATCH = 64  # places tested at once
_SQUARE = np.ones((3, 3), bool)
_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)


class Canvases(NamedTuple):
    """A split's canvases and the digits drawn on them."""
    images: np.ndarray  # uint8 [N, 64, 64]: ink
    instances: np.ndarray  # uint16 [N, 64, 64]: instance ids; label = id // 1000
    digits: dict[str, np.ndarray]  # digits_of
    touching: np.ndarray  # bool [N]: the first two digits are of one class and touch
    dropped: int  # digits drawn but left out for want of room


@functools.lru_cache(maxsize=1)
def silhouettes() -> tuple[np.ndarray, np.ndarray]:
    """(silhouettes bool [5000, 28, 28], their areas) of mnist5k's digits."""
    from scipy import ndimage

    images, _ = mnist5k.load_arrays()
    ink = images > INK
    sil = ndimage.binary_dilation(ink, structure=_SQUARE[None])  # one digit at a time: no dilation across digits
    sil.setflags(write=False)
    return sil, sil.sum(axis=(1, 2))


def _dilate(mask: np.ndarray, structure: np.ndarray) -> np.ndarray:
    out = mask.copy()
    h, w = mask.shape
    for dy, dx in zip(*np.nonzero(structure)):
        dy, dx = dy - 1, dx - 1
        out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] |= mask[max(-dy, 0):h + min(-dy, 0),
                                                                          max(-dx, 0):w + min(-dx, 0)]
    return out


def _windows(mask: np.ndarray, tops: np.ndarray, lefts: np.ndarray) -> np.ndarray:
    """The 28x28 windows of a canvas mask at the given corners: [n, 28, 28]."""
    view = np.lib.stride_tricks.sliding_window_view(mask, (DIGIT, DIGIT))
    return view[tops, lefts]


_ALL = np.stack(np.divmod(np.arange((SIZE - DIGIT + 1) ** 2), SIZE - DIGIT + 1))  # every corner: [2, 37 * 37]


def _place(rng, ok, near: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """A random corner where `ok(tops, lefts)` holds: the first of batches
    of uniform draws (within 22 pixels of `near` if given), else one of all
    the corners where it holds, else None."""
    for _ in range(MAX_TRIES // _BATCH):
        if near is None:
            tops, lefts = rng.integers(0, SIZE - DIGIT + 1, (2, _BATCH))
        else:
            tops, lefts = rng.integers(-22, 23, (2, _BATCH)) + np.asarray(near)[:, None]
            inside = (tops >= 0) & (tops <= SIZE - DIGIT) & (lefts >= 0) & (lefts <= SIZE - DIGIT)
            tops, lefts = tops[inside], lefts[inside]
        good = ok(tops, lefts)
        if good.any():
            i = int(np.argmax(good))
            return int(tops[i]), int(lefts[i])
    # Crowded canvases: search every corner (about 1 ms) rather than give up on the digit.
    good = np.flatnonzero(ok(*_ALL))
    if not len(good):
        return None
    i = int(rng.choice(good))
    return int(_ALL[0, i]), int(_ALL[1, i])


def _free_place(rng, occupied, sil) -> tuple[int, int] | None:
    """A corner where `sil` keeps a pixel's gap to `occupied`."""
    blocked = _dilate(occupied, _SQUARE)
    return _place(rng, lambda tops, lefts: ~(_windows(blocked, tops, lefts) & sil).any(axis=(1, 2)))


def _touching_place(rng, first, top, left, sil, limit) -> tuple[int, int] | None:
    """A corner near (top, left) where `sil` touches `first`'s silhouette
    (a canvas mask) and overlaps it by at most `limit` pixels."""
    near = _dilate(first, _CROSS)

    def ok(tops, lefts):
        contact = (_windows(near, tops, lefts) & sil).any(axis=(1, 2))
        return contact & ((_windows(first, tops, lefts) & sil).sum(axis=(1, 2)) <= limit)

    return _place(rng, ok, near=(top, left))


@functools.lru_cache(maxsize=None)
def canvases(split: str) -> Canvases:
    """The canvases of `split`, made once per process (module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"config.data.split must be 'train' ({SPLITS['train']} canvases) or 'test' "
                         f"({SPLITS['test']}) for digit_canvas, got {split!r}")
    images, labels = mnist5k.load_arrays()
    sil, area = silhouettes()
    pool = edges2digits.split_indices()[split]
    by_class = [pool[labels[pool] == c] for c in range(mnist5k.NUM_CLASSES)]
    rng = np.random.default_rng(SEEDS[split])
    n = SPLITS[split]
    ink = np.zeros((n, SIZE, SIZE), np.uint8)
    inst = np.zeros((n, SIZE, SIZE), np.uint16)
    touching = np.zeros(n, bool)
    rows = []  # (canvas, class, top, left, instance id, mnist5k index)
    dropped = 0
    for c in range(n):
        k = int(rng.integers(2, 5))
        chosen = [int(d) for d in rng.choice(pool, k, replace=False)]
        pair = rng.random() < TOUCH_SHARE
        if pair:  # a twin of the first digit's class, another image of it
            twins = by_class[int(labels[chosen[0]])]
            chosen[1] = int(rng.choice(twins[~np.isin(twins, chosen[:1] + chosen[2:])]))
        occupied = np.zeros((SIZE, SIZE), bool)
        placed = []
        for j, d in enumerate(chosen):
            where = None
            if j == 1 and pair:
                (t0, l0, d0) = placed[0]
                first = np.zeros((SIZE, SIZE), bool)
                first[t0:t0 + DIGIT, l0:l0 + DIGIT] = sil[d0]
                where = _touching_place(rng, first, t0, l0, sil[d], TOUCH_OVERLAP * min(area[d0], area[d]))
                touching[c] = where is not None
            if where is None:
                where = _free_place(rng, occupied, sil[d])
            if where is None:
                dropped += 1  # no room left: the canvas has one digit fewer
                continue
            t, l = where
            occupied[t:t + DIGIT, l:l + DIGIT] |= sil[d]
            placed.append((t, l, d))
        counts = [0] * LABEL_NC
        for t, l, d in placed:
            label = 1 + int(labels[d])
            ident = label * 1000 + counts[label]
            counts[label] += 1
            box = (c, slice(t, t + DIGIT), slice(l, l + DIGIT))
            ink[box] = np.maximum(ink[box], images[d])
            inst[box][sil[d]] = ident
            rows.append((c, label - 1, t, l, ident, d))
    table = np.asarray(rows, np.int32).reshape(-1, 6)
    digits = {key: table[:, i] for i, key in enumerate(("canvas", "class", "top", "left", "instance", "index"))}
    for a in (ink, inst, touching, *digits.values()):
        a.setflags(write=False)
    return Canvases(ink, inst, digits, touching, dropped)


def digits_of(split: str) -> dict[str, np.ndarray]:
    """The digits drawn on `split`'s canvases, one row each, by canvas then
    drawing order: {"canvas": canvas index, "class": 0..9, "top", "left": the
    corner of its 28x28 box, "instance": its instance id, "index": its
    mnist5k index}, int32 [M] each. A touching neighbour's ink may reach into
    a box; where the canvas' instance map equals "instance" (the digit's
    silhouette) isolates the digit."""
    return canvases(split).digits


def stats(split: str) -> dict[str, float]:
    """What the module docstring reports of a split."""
    cv = canvases(split)
    per_canvas = np.bincount(cv.digits["canvas"], minlength=len(cv.images))
    return {"canvases": len(cv.images), "digits_per_canvas": float(per_canvas.mean()),
            "share_with_k": {k: float((per_canvas == k).mean()) for k in (1, 2, 3, 4)},
            "touching_share": float(cv.touching.mean()),
            "dropped_share": cv.dropped / (len(cv.digits["canvas"]) + cv.dropped)}


def _check(data_config: Any, split: str) -> int:
    if split not in SPLITS:
        raise ValueError(f"config.data.split must be 'train' ({SPLITS['train']} canvases) or 'test' "
                         f"({SPLITS['test']}) for digit_canvas, got {split!r}")
    if int(data_config.image_size) != SIZE:
        raise ValueError(f"config.data.image_size must be {SIZE} for digit_canvas, got {data_config.image_size}")
    if int(data_config.load_size) not in (0, SIZE):
        raise ValueError(f"config.data.load_size must be 0 or {SIZE} for digit_canvas (no crops of canvases), got "
                         f"{data_config.load_size}")
    if int(data_config.label_nc) != LABEL_NC:
        raise ValueError(f"config.data.label_nc must be {LABEL_NC} for digit_canvas (background and 10 digit "
                         f"classes), got {data_config.label_nc}")
    channels = int(data_config.channels)
    if channels not in (1, 3):
        raise ValueError(f"config.data.channels must be 1 or 3 for digit_canvas, got {channels}")
    return channels


def _example(cv: Canvases, i, channels: int, instance: bool) -> dict[str, np.ndarray]:
    ids = cv.instances[i].astype(np.int32)[..., None]
    out = {"label_map": ids // 1000}
    if instance:
        out["instance"] = ids
    image = cv.images[i].astype(np.float32)[..., None] * np.float32(2 / 255) - np.float32(1)
    out["image"] = np.repeat(image, channels, axis=-1) if channels > 1 else image
    return out


def held_out(data_config: Any, split: str, num: int | None = None) -> dict[str, np.ndarray]:
    """{"label_map": int32 [N, 64, 64, 1], "instance" (config.data.instance):
    int32 [N, 64, 64, 1], "image": float32 [N, 64, 64, C]} of the first `num`
    (None: all) canvases of `split`."""
    channels = _check(data_config, split)
    return _example(canvases(split), slice(0, num), channels, bool(data_config.instance))


def build(data_config: Any, **kwargs: Any):
    from jaxgan.data.paired import PairedPipeline

    split = data_config.split
    channels = _check(data_config, split)
    if data_config.random_flip:
        raise ValueError("config.data.random_flip must be False or unset for digit_canvas: mirrored digits are "
                         "not digits")
    cv = canvases(split)
    instance = bool(data_config.instance)
    shapes = {"label_map": (SIZE, SIZE, 1), **({"instance": (SIZE, SIZE, 1)} if instance else {}),
              "image": (SIZE, SIZE, channels)}
    return PairedPipeline(
        load=lambda i, augment: _example(cv, i, channels, instance), describe=lambda i: f"digit_canvas/{split}[{i}]",
        num_records=len(cv.images), shapes=shapes, label_nc=LABEL_NC, random_flip=False,
        num_workers=int(data_config.num_workers), name="digit_canvas", **kwargs)
