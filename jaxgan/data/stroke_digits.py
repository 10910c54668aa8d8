"""The StarGAN quickstart task (`config.data.source = 'stroke_digits'`):
MNIST-5k digits (jaxgan.data.mnist5k, padded to 32x32, grey) in six stroke
styles, described by three attributes, "Thick", "Thin" and "Slanted"; no
download.

Attributes (`config.data.attributes` must be ("Thick", "Thin", "Slanted"),
in this order; `config.data.exclusive` must hold "Thick" and "Thin", which
are mutually exclusive: a digit is thick, thin or of normal width, and
slanted or upright): six domains, `DOMAINS` (label vectors) and
`DOMAIN_NAMES`: normal, Slanted, Thick, Thick+Slanted, Thin, Thin+Slanted.
The true transforms, deterministic, on the uint8 digit, width first, then
slant (`render`):
- Thick: grey_dilation with a 3x3 square (jaxgan.data.thick_digits.thicken:
  each stroke grows a pixel on every side);
- Thin: one iteration (both sub-iterations) of Zhang-Suen thinning (Zhang
  and Suen 1984, CACM 27(3)) on the mask of pixels above 64, keeping the
  surviving pixels' grey values and clearing the rest: every stroke loses
  its outer pixels but keeps its connectivity (4997 of the 5000 digits keep
  their number of 8-connected pieces; the thinning deletes a few 2x2
  specks whole), so the digit stays readable
  (a grey erosion does not: with a 3x3 cross the digit classifier below
  reads 64% of the held-out digits, 38% with a 3x3 square);
- Slanted: a horizontal shear, italic: row y moves right by 0.3 (y_c - y)
  pixels about the image's centre row y_c = 15.5 (top right, bottom left,
  +-4.7 px at the edges), linear interpolation along the row, rounded to
  uint8. Clipping: 5 of the 5000 normal digits lose ink to the border (at
  most 0.23% of theirs), 50 of the 5000 thick ones (at most 1.5%).

Measured on the 500 held-out digits (`python benchmarks/stargan_quality.py
--data-figures` prints these). Ink (the sum of pixel values relative to the
normal digits): Thick 2.005, Thin 0.445, Slanted 1.000 (either width). The
digit classifier of benchmarks/quickstart_quality.py (trained on 4000 normal
digits, seed 0, 15 epochs) reads 98.2% of the normal digits, 97.6% slanted;
95.4% of the thin ones, 83.4% thin and slanted; 90.0% of the thick ones,
85.8% thick and slanted. Do-nothing mean L1 ([-1, 1] units) per target
domain: a digit in its source domain against its truth in the target,
averaged over the held-out digits whose source domain is another (what
benchmarks/stargan_quality.py calls the baseline): normal 0.163, Slanted
0.166, Thick 0.242, Thick+Slanted 0.240, Thin 0.196, Thin+Slanted 0.195.
Its domain classifier (6 outputs, 3 epochs on the 4500 training digits in
all six domains) reads 97.1% of the held-out digits' true renders.

Splits (`config.data.split`), fixed, built on edges2digits' split
(jaxgan.data.edges2digits.split_indices), so the 500 held-out digits are the
ones its benchmarks hold out:
- 'train': the 4500 training digits, each shown in ONE source domain only:
  within each class, a fixed permutation of its 450 digits (numpy's
  default_rng([TRAIN_SEED, class])) deals them to the domains in turn, 75 of
  each class per domain, 750 per domain. No digit appears in two domains, so
  no translation pair is ever seen (StarGAN's training is unpaired).
- 'test': the 500 held-out digits (classes in turn 0, 1, ..., 9, 0, ...);
  the k-th of class c has source domain (k + c) mod 6, 82 to 84 per domain,
  8 or 9 of each class; the first six digits show the six domains.

Batches: `{"image": float32 [B, 32, 32, channels] in [-1, 1], "label":
float32 [B, 3]}` (the source domain's attributes); channels 1, or 3
repeating the grey level. No flips (mirrored digits are not digits: a
random_flip of True is an error), no crops (image_size 32). The arrays are in
memory: num_workers 0 is enough. Order and resume: jaxgan.data.pipeline's
(a pure function of seed, process and position).

Held out (`held_out`): {"image", "label", "digit"} of the first `num`
digits of a split, "digit" the normal uint8 digit [N, 32, 32], from which
`render` gives the truth of any target domain.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from jaxgan.data import edges2digits, mnist5k
from jaxgan.data.thick_digits import thicken

SIZE = 32
SPLITS = ("train", "test")
ATTRIBUTES = ("Thick", "Thin", "Slanted")
EXCLUSIVE = ("Thick", "Thin")
# The six domains' label vectors over ATTRIBUTES: width (normal, Thick, Thin) x Slanted (no, yes).
DOMAINS = np.array([[0, 0, 0], [0, 0, 1], [1, 0, 0], [1, 0, 1], [0, 1, 0], [0, 1, 1]], np.float32)
DOMAIN_NAMES = ("normal", "Slanted", "Thick", "Thick+Slanted", "Thin", "Thin+Slanted")
DOMAINS.setflags(write=False)
THIN_THRESHOLD = 64  # Thin: pixels above it are the stroke that Zhang-Suen thins
SHEAR = 0.3  # Slanted: pixels of horizontal shift per row
TRAIN_SEED = 0x57A6  # the deal of training digits to domains


# -------------------------------------------------------------- transforms


def _neighbours(mask: np.ndarray) -> list[np.ndarray]:
    """Zhang-Suen's P2..P9 (N, NE, E, SE, S, SW, W, NW) of every pixel, uint8 0/1."""
    p = np.pad(mask, ((0, 0), (1, 1), (1, 1))).astype(np.uint8)
    h, w = mask.shape[1:]
    at = lambda dy, dx: p[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
    return [at(-1, 0), at(-1, 1), at(0, 1), at(1, 1), at(1, 0), at(1, -1), at(0, -1), at(-1, -1)]


def zhang_suen(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """bool [N, H, W] masks after `iterations` of Zhang-Suen thinning (each
    two sub-iterations, pixels removed in parallel; each image alone)."""
    mask = np.asarray(mask, bool)
    for _ in range(iterations):
        for first in (True, False):
            p2, p3, p4, p5, p6, p7, p8, p9 = ring = _neighbours(mask)
            count = sum(r.astype(np.int32) for r in ring)  # B(P1): the set neighbours
            # A(P1): 0 -> 1 steps around the ring P2, P3, ..., P9, P2.
            steps = sum(((ring[i] == 0) & (ring[(i + 1) % 8] == 1)).astype(np.int32) for i in range(8))
            if first:
                side = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)  # south-east boundary, north-west corner
            else:
                side = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)  # north-west boundary, south-east corner
            mask = mask & ~((count >= 2) & (count <= 6) & (steps == 1) & side)
    return mask


def thin(digits: np.ndarray) -> np.ndarray:
    """uint8 [N, H, W] digits thinned: the pixels above THIN_THRESHOLD that
    survive one Zhang-Suen iteration keep their grey values, all others 0."""
    digits = np.asarray(digits)
    return np.where(zhang_suen(digits > THIN_THRESHOLD), digits, 0).astype(np.uint8)


def slant(digits: np.ndarray, shear: float = SHEAR) -> np.ndarray:
    """uint8 [N, H, W] digits sheared: row y moves right by shear * (centre - y)
    pixels, linearly interpolated along the row (zeros from outside), rounded."""
    digits = np.asarray(digits)
    n, h, w = digits.shape
    y, x = np.arange(h)[:, None], np.arange(w)[None, :]
    src = x - shear * ((h - 1) / 2 - y)  # out[y, x] = in[y, src]
    x0 = np.floor(src).astype(np.int64)
    frac = (src - x0).astype(np.float32)
    a = digits.astype(np.float32)

    def at(xi):
        inside = (xi >= 0) & (xi < w)
        taken = np.take_along_axis(a, np.broadcast_to(np.clip(xi, 0, w - 1), (n, h, w)), axis=2)
        return np.where(inside, taken, np.float32(0))

    return np.rint((1 - frac) * at(x0) + frac * at(x0 + 1)).astype(np.uint8)


def _domain_flags(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.shape[1] != len(ATTRIBUTES):
        raise ValueError(f"stroke_digits labels are [N, {len(ATTRIBUTES)}] over {ATTRIBUTES}, got shape "
                         f"{labels.shape}")
    thick, thin_, slanted = (labels[:, i] > 0.5 for i in range(3))
    if np.any(thick & thin_):
        raise ValueError(f"stroke_digits labels set both Thick and Thin (mutually exclusive) for "
                         f"{int((thick & thin_).sum())} of {len(labels)} digits")
    return thick, thin_, slanted


def domain_index(labels: np.ndarray) -> np.ndarray:
    """int [N]: the index into DOMAINS of each label vector [N, 3]."""
    thick, thin_, slanted = _domain_flags(labels)
    return (2 * thick + 4 * thin_ + slanted).astype(np.int32)


def render_uint8(digits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """uint8 [N, 32, 32]: each normal digit [N, 32, 32] in the domain of its
    label vector [N, 3] over ATTRIBUTES (width first, then slant)."""
    digits = np.asarray(digits, np.uint8)
    thick, thin_, slanted = _domain_flags(labels)
    if len(digits) != len(thick):
        raise ValueError(f"{len(digits)} digits but {len(thick)} labels")
    out = digits.copy()
    if thick.any():
        out[thick] = thicken(digits[thick])
    if thin_.any():
        out[thin_] = thin(digits[thin_])
    if slanted.any():
        out[slanted] = slant(out[slanted])
    return out


def to_float(images: np.ndarray, channels: int = 1) -> np.ndarray:
    """uint8 [N, H, W] -> float32 [N, H, W, channels] in [-1, 1]."""
    x = np.asarray(images).astype(np.float32) * np.float32(2 / 255) - np.float32(1)
    return np.repeat(x[..., None], channels, axis=-1)


def render(digits: np.ndarray, labels: np.ndarray, channels: int = 1) -> np.ndarray:
    """float32 [N, 32, 32, channels] in [-1, 1]: uint8 digits [N, 32, 32] in
    the domains of their labels [N, 3] (`render_uint8`)."""
    return to_float(render_uint8(digits, labels), channels)


# ------------------------------------------------------------------ splits


@functools.lru_cache(maxsize=1)
def split_indices() -> dict[str, np.ndarray]:
    """{'train', 'test': indices into mnist5k's digits (edges2digits' split);
    'train_domain', 'test_domain': each digit's source domain (index into
    DOMAINS)} (module docstring)."""
    split = edges2digits.split_indices()
    classes = np.asarray(mnist5k.load_arrays()[1])
    train, test = split["train"], split["test"]
    train_domain = np.zeros(len(train), np.int32)
    for c in range(mnist5k.NUM_CLASSES):
        members = np.flatnonzero(classes[train] == c)
        dealt = np.random.default_rng([TRAIN_SEED, c]).permutation(members)
        train_domain[dealt] = np.arange(len(dealt)) % len(DOMAINS)
    k = np.arange(len(test)) // mnist5k.NUM_CLASSES  # the k-th digit of its class (classes take turns)
    test_domain = ((k + classes[test]) % len(DOMAINS)).astype(np.int32)
    out = {"train": train, "test": test, "train_domain": train_domain, "test_domain": test_domain}
    for a in out.values():
        a.setflags(write=False)
    return out


@functools.lru_cache(maxsize=1)
def normal_digits() -> np.ndarray:
    """uint8 [5000, 32, 32]: mnist5k's digits padded to 32x32."""
    digits = mnist5k.padded(mnist5k.load_arrays()[0])
    digits.setflags(write=False)
    return digits


@functools.lru_cache(maxsize=2)
def source_images(split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(digits uint8 [N, 32, 32], rendered in their source domains uint8
    [N, 32, 32], labels float32 [N, 3]) of `split`, in split order."""
    s = split_indices()
    digits = normal_digits()[s[split]]
    labels = DOMAINS[s[split + "_domain"]]
    rendered = render_uint8(digits, labels)
    for a in (digits, rendered, labels):
        a.setflags(write=False)
    return digits, rendered, labels


# ---------------------------------------------------------------- sources


def check(data_config: Any, split: str) -> int:
    """Checks the fields stroke_digits reads; returns the channels."""
    if split not in SPLITS:
        raise ValueError(f"config.data.split must be 'train' (4500 digits) or 'test' (500 held out) for "
                         f"stroke_digits, got {split!r}")
    attributes = tuple(data_config.get("attributes") or ())
    if attributes != ATTRIBUTES:
        raise ValueError(f"config.data.attributes must be {ATTRIBUTES} (in this order) for stroke_digits, got "
                         f"{attributes}")
    exclusive = [a for a in (data_config.get("exclusive") or ()) if a in ATTRIBUTES]
    if sorted(exclusive) != sorted(EXCLUSIVE):
        raise ValueError(f"config.data.exclusive must hold {EXCLUSIVE} for stroke_digits (a digit is thick, thin "
                         f"or neither), got {tuple(data_config.get('exclusive') or ())}")
    if int(data_config.image_size) != SIZE:
        raise ValueError(f"config.data.image_size must be {SIZE} for stroke_digits, got {data_config.image_size}")
    crop = data_config.get("crop_size")
    if crop not in (None, 0, SIZE):
        raise ValueError(f"config.data.crop_size must be 0 or {SIZE} for stroke_digits (no crops of digits), got "
                         f"{crop}")
    if data_config.get("random_flip"):
        raise ValueError("config.data.random_flip must be False or unset for stroke_digits: mirrored digits are "
                         "not digits")
    channels = int(data_config.channels)
    if channels not in (1, 3):
        raise ValueError(f"config.data.channels must be 1 or 3 for stroke_digits, got {channels}")
    return channels


def held_out(data_config: Any, split: str, num: int | None = None) -> dict[str, np.ndarray]:
    """{"image": float32 [N, 32, 32, C] (each digit in its source domain),
    "label": float32 [N, 3] (its source domain's attributes), "digit": uint8
    [N, 32, 32] (the normal digit)} of the first `num` (None: all) digits of
    `split` (module docstring)."""
    channels = check(data_config, split)
    digits, rendered, labels = source_images(split)
    return {"image": to_float(rendered[:num], channels), "label": labels[:num].copy(), "digit": digits[:num].copy()}


def build(data_config: Any, **kwargs: Any):
    from jaxgan.data.celeba_attrs import StarGANPipeline

    channels = check(data_config, data_config.split)
    _, rendered, labels = source_images(data_config.split)
    images = to_float(rendered, channels)
    int_labels = labels.astype(np.int32)
    return StarGANPipeline(
        load=lambda i, flip: (images[i], int_labels[i]), describe=lambda i: f"stroke_digits[{i}]",
        num_records=len(images), image_shape=(SIZE, SIZE, channels), random_flip=False,
        num_workers=int(data_config.num_workers), name="stroke_digits", attribute_names=ATTRIBUTES,
        label_kind="attributes", **kwargs)
