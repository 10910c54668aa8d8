"""The reference's CelebA loader for StarGAN (`config.data.source =
'celeba_attrs'`; yunjey/stargan, data_loader.py): the aligned CelebA images
with a 0/1 label per selected attribute.

Files: `config.data.attr_file` is list_attr_celeba.txt (the reference's
attr_path): line 1 the number of images, line 2 the 40 attribute names, then
one line per image, `filename v1 ... v40` with values 1 or -1;
`config.data.folder` holds the images (celeba_image_dir);
`config.data.attributes` selects and orders the attributes (selected_attrs;
configs default Black_Hair Blond_Hair Brown_Hair Male Young).

Split, the reference's exactly: the image lines (lines[2:]) shuffled by
Python's `random.Random(1234).shuffle` (the reference's `random.seed(1234);
random.shuffle(lines)`; a shuffle's swaps depend only on the list's length,
so the line numbers are shuffled here); the i-th shuffled line (0-based) is
'test' when `(i + 1) < 2000`, so 1999 test images (the reference's
off-by-one, kept), the rest 'train'. The label of an attribute is 1 where its
value is '1', else 0. Blank lines at the end of the file are dropped (the
reference would fail on them); anything else malformed stops with one line
naming the file and line: a missing attr file, a header without a selected
attribute (with close matches), a line with the wrong number of values, a
value other than 1 / -1, a filename seen before. A missing image folder is an
error; unreadable (or missing) images are skipped, counted and logged once
with their path (`bad_files`), as every source does.

Transform, the reference's (torchvision on the PIL image): 'train' a random
horizontal flip (unless `random_flip` is False), then for both splits
CenterCrop(`crop_size`, 178; top = int(round((h - crop) / 2.0)), left
likewise, zero padding where the image is smaller, as torchvision; 0: no
crop), Resize(`image_size`: the short side to image_size, PIL bilinear),
ToTensor + Normalize(0.5, 0.5): float32 in [-1, 1]. The flip comes first, as
in the reference: with an odd margin the crop of the flipped image is not the
flip of the crop.

StarGAN's batches (this module's pipeline class serves the three StarGAN
sources, stroke_digits, celeba_attrs and domain_folders):
`{"image": float32 [B, H, W, C] in [-1, 1], "label": ...}`, the label float32
[B, c_dim] of 0/1 attribute values in the order of `config.data.attributes`
(label_kind 'attributes'), or int32 [B] domain indices (label_kind
'domains'). The pipelines have `image_shape`, `num_classes` (None),
`attribute_names` (the attributes, or the domains' names) and `label_kind`,
and resume exactly as every RandomAccessPipeline: the order and flips are a
pure function of (seed, process, position).

Held out (`held_out`): the first `num` images of a split in the reference's
order (the shuffled lines), without flip: {"image", "label"}.
"""

from __future__ import annotations

import difflib
import functools
import os
import random
from typing import Any, Callable

import numpy as np
from PIL import Image

from jaxgan.data.pipeline import RandomAccessPipeline
from jaxgan.data.preprocess import BadFileLog, BadImageError, decode, log, scale_uint8, to_mode

SPLITS = ("train", "test")
SHUFFLE_SEED = 1234  # the reference's random.seed(1234)
TEST_LINES = 2000  # the reference's `(i+1) < 2000`: 1999 test images
CROP_SIZE = 178  # the reference's celeba_crop_size
LABEL_KINDS = ("attributes", "domains")
VALUES = frozenset(("1", "-1"))


class StarGANPipeline(RandomAccessPipeline):
    """RandomAccessPipeline (order, sharding, exact resume) over `load(index,
    flip) -> (image, label)` with StarGAN's labels: int 0/1 vectors [c_dim]
    batched as float32 [B, c_dim] (label_kind 'attributes'), or ints batched
    as int32 [B] (label_kind 'domains')."""

    def __init__(self, *, attribute_names: tuple[str, ...], label_kind: str, **kwargs: Any):
        if label_kind not in LABEL_KINDS:
            raise ValueError(f"label_kind must be one of {LABEL_KINDS}, got {label_kind!r}")
        super().__init__(num_classes=None, **kwargs)
        self.attribute_names = tuple(attribute_names)
        self.label_kind = label_kind

    def __next__(self) -> dict[str, np.ndarray]:
        batch = next(self._it)
        if self.label_kind == "attributes":
            # The engine stacks labels as int32 (exact for 0/1); StarGAN's condition is float.
            batch["label"] = batch["label"].astype(np.float32)
        return batch


def selected_attributes(data_config: Any, source: str) -> tuple[str, ...]:
    """config.data.attributes as a tuple of distinct names (at least one)."""
    names = data_config.get("attributes") or ()
    if isinstance(names, str):
        raise ValueError(f"config.data.attributes must be a list of attribute names for {source}, got the string "
                         f"{names!r}")
    names = tuple(str(n) for n in names)
    if not names:
        raise ValueError(f"config.data.attributes must name at least one attribute for {source}")
    if len(set(names)) != len(names):
        raise ValueError(f"config.data.attributes names an attribute twice: {list(names)}")
    return names


def _random_flip(data_config: Any, split: str) -> bool:
    flip = data_config.random_flip
    return split == "train" and (True if flip is None else bool(flip))  # the reference flips in training only


def center_crop(img: Image.Image, crop: int) -> Image.Image:
    """torchvision's CenterCrop(crop) on a PIL image: zero padding where the
    image is smaller, then top = int(round((h - crop) / 2.0)), left likewise."""
    w, h = img.size
    if crop > w or crop > h:
        pad_l, pad_t = max(crop - w, 0) // 2, max(crop - h, 0) // 2
        padded = Image.new(img.mode, (w + max(crop - w, 0), h + max(crop - h, 0)))
        padded.paste(img, (pad_l, pad_t))
        img, (w, h) = padded, padded.size
        if (w, h) == (crop, crop):
            return img
    top, left = int(round((h - crop) / 2.0)), int(round((w - crop) / 2.0))
    return img.crop((left, top, left + crop, top + crop))


def resize_short_side(img: Image.Image, size: int) -> Image.Image:
    """torchvision's Resize(size) with an int on a PIL image: the short side to
    `size`, the long one to int(size * long / short), PIL bilinear."""
    w, h = img.size
    if w <= h:
        new = (size, int(size * h / w))
    else:
        new = (int(size * w / h), size)
    return img if new == (w, h) else img.resize(new, Image.BILINEAR)


def transform(img: Image.Image, *, channels: int, crop_size: int, image_size: int, flip: bool) -> np.ndarray:
    """The reference's transform: flip, CenterCrop, Resize, to [-1, 1];
    float32 [image_size, image_size, channels] (the crop is square)."""
    img = to_mode(img, channels)
    if flip:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    if crop_size:
        img = center_crop(img, crop_size)
    img = resize_short_side(img, image_size)
    arr = np.asarray(img, dtype=np.uint8)
    return scale_uint8(arr[:, :, None] if arr.ndim == 2 else arr)


def image_options(data_config: Any, source: str, default_crop: int) -> dict[str, int]:
    """{channels, crop_size, image_size} of an image-folder source, checked."""
    channels, size = int(data_config.channels), int(data_config.image_size)
    crop = data_config.get("crop_size")
    crop = default_crop if crop is None else int(crop)
    if channels not in (1, 3):
        raise ValueError(f"config.data.channels must be 1 or 3 for {source}, got {channels}")
    if size <= 0 or crop < 0:
        raise ValueError(f"config.data.image_size must be positive and crop_size >= 0 (0: no crop) for {source}, "
                         f"got {size} and {crop}")
    return dict(channels=channels, crop_size=crop, image_size=size)


def check_split(split: str, source: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"config.data.split must be 'train' or 'test' for {source}, got {split!r}")
    return split


# ------------------------------------------------------------- attr file


@functools.lru_cache(maxsize=4)
def _read_attr_file(path: str, mtime: float) -> tuple[tuple[str, ...], tuple[tuple[str, np.ndarray, int], ...]]:
    """(the 40 names, ((filename, bool [40]: the values that are 1, line number), ...)
    in file order), every line checked (module docstring)."""
    del mtime  # part of the cache key: a rewritten file is read again
    with open(path) as f:
        lines = [line.rstrip() for line in f]
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 2:
        raise ValueError(f"{path}: {len(lines)} line(s); an attr file (list_attr_celeba.txt) has the image count "
                         "on line 1, the attribute names on line 2, then one line per image")
    names = tuple(lines[1].split())
    if not names:
        raise ValueError(f"{path}:2: no attribute names (line 2 lists them)")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{path}:2: attribute names listed twice: {twice}")
    entries, seen = [], {}
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if len(fields) != 1 + len(names):
            raise ValueError(f"{path}:{number}: {len(fields)} fields, expected a filename and {len(names)} values "
                             f"(one per attribute on line 2): {line[:80]!r}")
        filename = fields[0]
        if filename in seen:
            raise ValueError(f"{path}:{number}: {filename} is listed again (first on line {seen[filename]})")
        seen[filename] = number
        values = fields[1:]
        if not VALUES.issuperset(values):
            name, value = next((n, v) for n, v in zip(names, values) if v not in VALUES)
            raise ValueError(f"{path}:{number}: {filename}: attribute {name} has value {value!r}; values are 1 or -1")
        entries.append((filename, np.asarray([v == "1" for v in values]), number))
    count = lines[0].strip()
    if not count.isdigit() or int(count) != len(entries):
        log.warning("jaxgan.data: %s:1 says %r images, the file lists %d", path, count, len(entries))
    return names, tuple(entries)


def read_attr_file(path: str):
    if not path:
        raise ValueError("config.data.attr_file is not set; celeba_attrs reads list_attr_celeba.txt (the "
                         "reference's attr_path)")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"config.data.attr_file {path!r} is not a file (list_attr_celeba.txt: the image "
                                "count, the attribute names, then `filename v1 ... v40` per image)")
    return _read_attr_file(os.path.abspath(path), os.path.getmtime(path))


def split_records(path: str, attributes: tuple[str, ...], split: str) -> tuple[list[str], np.ndarray]:
    """(filenames, int32 0/1 labels [N, len(attributes)]) of `split` in the
    reference's order (module docstring)."""
    names, entries = read_attr_file(path)
    for a in attributes:
        if a not in names:
            close = difflib.get_close_matches(a, names, n=3, cutoff=0.5)
            raise ValueError(f"{path}:2: no attribute {a!r} (config.data.attributes)"
                             + (f"; close matches: {close}" if close else f"; the file has {list(names)}"))
    order = list(range(len(entries)))
    random.Random(SHUFFLE_SEED).shuffle(order)  # the same swaps as the reference's shuffle of its lines
    order = order[:TEST_LINES - 1] if split == "test" else order[TEST_LINES - 1:]
    columns = [names.index(a) for a in attributes]
    filenames = [entries[i][0] for i in order]
    labels = np.asarray([entries[i][1][columns] for i in order], np.int32).reshape(len(order), len(columns))
    return filenames, labels


def image_folder(folder: str) -> str:
    if not folder:
        raise ValueError("config.data.folder is not set; celeba_attrs reads the images named in "
                         "config.data.attr_file from it (the reference's celeba_image_dir)")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"config.data.folder {folder!r} (the CelebA images) is not a directory")
    return folder


def _records(data_config: Any, split: str):
    check_split(split, "celeba_attrs")
    attributes = selected_attributes(data_config, "celeba_attrs")
    filenames, labels = split_records(data_config.get("attr_file", ""), attributes, split)
    folder = image_folder(data_config.folder)
    if not filenames:
        raise ValueError(f"config.data.attr_file {data_config.attr_file!r} gives no {split!r} images (the first "
                         f"{TEST_LINES - 1} shuffled lines are 'test', the rest 'train')")
    return attributes, [os.path.join(folder, f) for f in filenames], labels


def held_out(data_config: Any, split: str, num: int | None = None) -> dict[str, np.ndarray]:
    """{"image": float32 [N, H, W, C], "label": float32 [N, c_dim]} of the
    first `num` (None: all) readable images of `split`, in the reference's
    order, without flip."""
    _, paths, labels = _records(data_config, split)
    options = image_options(data_config, "celeba_attrs", CROP_SIZE)
    return _held_out(paths, labels.astype(np.float32), options, num)


def _held_out(paths: list[str], labels: np.ndarray, options: dict[str, int], num: int | None,
              order: list[int] | None = None) -> dict[str, np.ndarray]:
    images, kept, bad = [], [], BadFileLog()
    for i in order if order is not None else range(len(paths)):
        if num is not None and len(kept) >= num:
            break
        try:
            images.append(transform(decode(paths[i]), flip=False, **options))
        except BadImageError as e:
            bad.skipped(paths[i], e)
            continue
        kept.append(i)
    if not images:
        raise ValueError(f"no readable images among {len(paths)} ({paths[0]}, ...)")
    return {"image": np.stack(images), "label": labels[kept]}


def build_images(*, paths: list[str], labels: np.ndarray, options: dict[str, int], flip: bool, shuffle: bool,
                 attribute_names: tuple[str, ...], label_kind: str, data_config: Any, name: str,
                 **kwargs: Any) -> StarGANPipeline:
    """A StarGANPipeline over image files with their labels (celeba_attrs, domain_folders)."""
    load: Callable = lambda i, f: (transform(decode(paths[i]), flip=f, **options), labels[i])
    size, channels = options["image_size"], options["channels"]
    pipe = StarGANPipeline(
        load=load, describe=lambda i: paths[i], num_records=len(paths), image_shape=(size, size, channels),
        random_flip=flip, shuffle=shuffle, num_workers=int(data_config.num_workers), name=name,
        attribute_names=attribute_names, label_kind=label_kind, **kwargs)
    pipe.paths = paths
    return pipe


def build(data_config: Any, **kwargs: Any) -> StarGANPipeline:
    split = data_config.split
    attributes, paths, labels = _records(data_config, split)
    options = image_options(data_config, "celeba_attrs", CROP_SIZE)
    # The reference shuffles in training only (its test loader keeps the file order).
    return build_images(paths=paths, labels=labels, options=options, flip=_random_flip(data_config, split),
                        shuffle=split == "train", attribute_names=attributes, label_kind="attributes",
                        data_config=data_config, name="celeba_attrs", **kwargs)
