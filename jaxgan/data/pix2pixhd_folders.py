"""pix2pixHD's folder layout (`config.data.source = 'pix2pixhd'`), as its
reference reads it (NVIDIA/pix2pixHD, data/aligned_dataset.py):

    <folder>/<split>_label/*.png  label ids, one channel (grey or palette PNG)
    <folder>/<split>_inst/*.png   instance ids (8, 16 or 32-bit PNG, e.g.
                                  Cityscapes' 26001: label 26, instance 1);
                                  read when config.data.instance is set
    <folder>/<split>_img/*.jpg    the targets, RGB
or, with `label_nc` 0, images to images:
    <folder>/<split>_A/*.jpg      the input images
    <folder>/<split>_B/*.jpg      the targets

Files pair up by their place in each folder's sorted list of paths (as the
reference's sorted(make_dataset(dir))); folders listing different numbers of
images are an error naming both.

Batches: {"label_map": int32 [B, S, S, 1] ids in [0, label_nc), "instance":
int32 [B, S, S, 1] (with `instance`), "image": float32 [B, S, S, channels]
in [-1, 1], "label": int32 zeros [B]}; with label_nc 0 {"input": float32
[B, S, S, input_channels] in [-1, 1], "image", "label"}. S is image_size.
The trainer one-hots the label maps and draws instance edges on the device
(jaxgan.models.pix2pixhd.one_hot_labels, instance_edges).

Preprocessing, the reference's 'scale_width_and_crop' kept simple: each
map of a pair is resized to the first map's (the label's, or A's) size
scaled so its width is `load_size` (the height int(load_size * h / w), as the
reference's __scale_width; load_size 0: the first map's own size), label and
instance maps with NEAREST (ids stay ids), images bicubic; then one random
square crop of image_size and one random flip (`random_flip`, on unless set
False, as the reference flips unless --no_flip) for all maps of the pair.
The crop must fit: a resized height below image_size is an error naming the
file. The crop corner is drawn per position as a fraction of the slack (so
images of different sizes crop uniformly) and, like the flip, is a pure
function of (seed, process, position): resumed runs crop as uninterrupted
ones. The reference's full-image modes ('scale_width' without a crop,
non-square batches) and `<split>_feat` are left out.

Label ids are checked against label_nc on every read: an id >= label_nc is a
ValueError naming the file and the id (the one-hot would silently drop it).
Files PIL cannot read are skipped and counted (`bad_files`), each named once
in a warning.

`held_out(data_config, split, num)`: the first `num` examples at test-time
preprocessing: the same resize to width load_size, no flip, and the top-left
image_size square (the reference's test reads the whole resized image; a
square crop keeps the arrays' shape that of the training batches).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from PIL import Image

from jaxgan.data.folder import IMAGE_EXTENSIONS, _walk_images
from jaxgan.data.preprocess import decode, scale_uint8, to_mode

# The crop corner is drawn in [0, CROP_STEPS) and scaled to each image's slack.
CROP_STEPS = 1 << 16

LAYOUT_HELP = ("pix2pixHD's layout is <folder>/<split>_label (label ids, one-channel PNGs), <folder>/<split>_inst "
               "(instance ids; with config.data.instance) and <folder>/<split>_img (target images), or with "
               "config.data.label_nc 0 <folder>/<split>_A (input images) and <folder>/<split>_B (targets); files pair "
               "up in sorted order; extensions: " + " ".join(IMAGE_EXTENSIONS))
# Modes of one-channel integer PNGs: ids read as they are stored.
ID_MODES = ("L", "P", "I", "I;16", "I;16B", "I;16L", "I;16N")


def folders(data_config: Any, split: str) -> dict[str, str]:
    """{batch key: folder} of a split, in reading order (the first sets the size)."""
    root = data_config.folder
    if not root:
        raise ValueError("config.data.folder is not set; " + LAYOUT_HELP)
    if int(data_config.label_nc) == 0:
        if data_config.instance:
            raise ValueError("config.data.instance needs label maps (config.data.label_nc > 0); with label_nc 0 "
                             "the inputs are images (<split>_A): set instance False")
        names = {"input": "A", "image": "B"}
    else:
        names = {"label_map": "label", **({"instance": "inst"} if data_config.instance else {}), "image": "img"}
    return {key: os.path.join(root, f"{split}_{name}") for key, name in names.items()}


def pair_files(data_config: Any, split: str) -> dict[str, list[str]]:
    """{batch key: sorted paths}, all of one length."""
    found = {}
    for key, path in folders(data_config, split).items():
        if not os.path.isdir(path):
            raise FileNotFoundError(f"{path} (config.data.folder, split {split!r}) is not a directory. " + LAYOUT_HELP)
        found[key] = sorted(_walk_images(path))
        if not found[key]:
            raise FileNotFoundError(f"no image files under {path}. " + LAYOUT_HELP)
    counts = {folders(data_config, split)[k]: len(v) for k, v in found.items()}
    if len(set(counts.values())) > 1:
        raise ValueError("the folders of a pix2pixhd split pair files in sorted order but hold different numbers of "
                         "images: " + ", ".join(f"{p}: {n}" for p, n in counts.items()))
    return found


def _ids(img: Image.Image, path: str) -> np.ndarray:
    if img.mode not in ID_MODES:
        raise ValueError(f"{path}: an id map must have one channel (a grey, palette or 16/32-bit PNG), got mode "
                         f"{img.mode}")
    return np.asarray(img).astype(np.int32)  # 8, 16 or 32-bit: int32 holds them all


def _resize_ids(ids: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """PIL's NEAREST resize (the reference's) of an id map to (width, height):
    every id out is an id in."""
    if ids.shape[::-1] == size:
        return ids
    return np.asarray(Image.fromarray(ids.astype(np.int32), "I").resize(size, Image.NEAREST))


def _target_size(size: tuple[int, int], load_size: int) -> tuple[int, int]:
    w, h = size
    return (w, h) if not load_size or w == load_size else (load_size, int(load_size * h / w))


def load_example(paths: dict[str, str], augment: tuple[bool, int, int], *, label_nc: int, load_size: int,
                 crop_size: int, channels: int, input_channels: int) -> dict[str, np.ndarray]:
    """One example {key: array} of the pair of files `paths` ({batch key:
    path}) with the crop and flip `augment` = (flip, top, left), top and left
    in [0, CROP_STEPS). Raises BadImageError for unreadable files, ValueError
    for label ids >= label_nc, maps with several channels and crops that do
    not fit (naming the file)."""
    flip, top, left = augment
    out, size = {}, None
    for key, path in paths.items():
        img = decode(path)
        if size is None:
            size = _target_size(img.size, load_size)
            w, h = size
            if h < crop_size or w < crop_size:
                raise ValueError(f"{path}: {img.size[0]}x{img.size[1]} resized to {w}x{h} (config.data.load_size "
                                 f"{load_size}: the width) is smaller than the crop config.data.image_size "
                                 f"{crop_size}")
            y0 = top * (h - crop_size + 1) // CROP_STEPS
            x0 = left * (w - crop_size + 1) // CROP_STEPS
        if key in ("label_map", "instance"):
            ids = _ids(img, path)
            if key == "label_map":
                low, high = int(ids.min()), int(ids.max())
                if low < 0 or high >= label_nc:
                    raise ValueError(f"{path}: label id {high if high >= label_nc else low} is outside [0, "
                                     f"config.data.label_nc = {label_nc})")
            arr = _resize_ids(ids, size)[y0:y0 + crop_size, x0:x0 + crop_size, None].astype(np.int32)
        else:
            img = to_mode(img, channels if key == "image" else input_channels)
            if img.size != size:
                img = img.resize(size, Image.BICUBIC)
            arr = np.asarray(img, dtype=np.uint8)
            arr = arr[:, :, None] if arr.ndim == 2 else arr
            arr = scale_uint8(arr[y0:y0 + crop_size, x0:x0 + crop_size])
        out[key] = np.ascontiguousarray(arr[:, ::-1]) if flip else arr
    return out


def _check(data_config: Any) -> tuple[dict[str, tuple[int, int, int]], dict[str, Any]]:
    """(shapes, load_example's options) of a data config."""
    label_nc, crop, load = int(data_config.label_nc), int(data_config.image_size), int(data_config.load_size)
    if label_nc < 0:
        raise ValueError(f"config.data.label_nc must be >= 0 (0: the inputs are images), got {label_nc}")
    if crop <= 0:
        raise ValueError(f"config.data.image_size must be positive, got {crop}")
    if load and load < crop:
        raise ValueError(f"config.data.load_size ({load}: the width images are resized to) must be 0 (no resize) or "
                         f"at least config.data.image_size ({crop}), the crop taken of it")
    fields = ("channels", "input_channels") if label_nc == 0 else ("channels",)
    for field in fields:
        if int(data_config[field]) not in (1, 3):
            raise ValueError(f"config.data.{field} must be 1 or 3, got {data_config[field]}")
    channels, input_channels = int(data_config.channels), int(data_config.input_channels)
    if label_nc:
        shapes = {"label_map": (crop, crop, 1), **({"instance": (crop, crop, 1)} if data_config.instance else {})}
    else:
        shapes = {"input": (crop, crop, input_channels)}
    shapes["image"] = (crop, crop, channels)
    options = dict(label_nc=label_nc, load_size=load, crop_size=crop, channels=channels, input_channels=input_channels)
    return shapes, options


def held_out(data_config: Any, split: str, num: int | None = None) -> dict[str, np.ndarray]:
    """The first `num` (None: all) examples of `split` in sorted file order,
    {key: array [N, ...]} with the batches' keys less "label": resized to
    width load_size, the top-left image_size square, no flip."""
    _, options = _check(data_config)
    files = pair_files(data_config, split)
    n = len(next(iter(files.values())))
    examples = [load_example({k: v[i] for k, v in files.items()}, (False, 0, 0), **options)
                for i in range(n if num is None else min(num, n))]
    return {k: np.stack([e[k] for e in examples]) for k in files}


def build(data_config: Any, **kwargs: Any):
    from jaxgan.data.paired import PairedPipeline

    shapes, options = _check(data_config)
    files = pair_files(data_config, data_config.split)
    keys = list(files)
    records = list(zip(*files.values()))
    flip = data_config.random_flip
    pipe = PairedPipeline(
        load=lambda i, augment: load_example(dict(zip(keys, records[i])), augment, **options),
        describe=lambda i: records[i][0], num_records=len(records), shapes=shapes,
        input_shape=shapes.get("input", shapes.get("label_map")), label_nc=options["label_nc"],
        random_flip=True if flip is None else bool(flip),  # the reference flips unless --no_flip
        crop_room=CROP_STEPS - 1, num_workers=int(data_config.num_workers), name="pix2pixhd", **kwargs)
    pipe.files = files
    return pipe
