"""Paired data for image-to-image translation: examples of several named
arrays that share one crop and flip, as pix2pix's image pairs and
pix2pixHD's label maps with their targets.

pix2pix's batches are `{"input": float32 [B, H, W, input_channels], "image":
float32 [B, H, W, channels], "label": int32 zeros [B]}` in [-1, 1]: "image" is
the target, as for every other source the real image a GAN learns.
pix2pixHD's batches are `{"label_map": int32 [B, H, W, 1], "instance": int32
[B, H, W, 1] (when `instance`), "image": float32 [B, H, W, channels],
"label": int32 zeros [B]}`, or with `label_nc` 0 "input" and "image" as
pix2pix's; the trainer makes one-hot labels and instance edges on the device.

Sources (`config.data.source`):
- 'aligned': the reference's aligned layout (pytorch-CycleGAN-and-pix2pix,
  data/aligned_dataset.py): every image under `<folder>/<split>` holds A and
  B side by side (A the left half); `direction` 'AtoB' or 'BtoA' says which
  is the input. Preprocessing is the reference's 'resize_and_crop': both
  halves resized (bicubic) to `load_size` x `load_size`, then one random
  crop to `image_size` and one random flip, drawn once for the pair.
  Unreadable files and odd widths are skipped and counted with a one-line
  warning naming the file (`bad_files`), as other sources skip bad images.
- 'edges2digits': the embedded pix2pix quickstart task (jaxgan.data.edges2digits).
- 'digit_canvas': the embedded pix2pixHD quickstart task (jaxgan.data.digit_canvas).
- 'pix2pixhd': pix2pixHD's folder layout (jaxgan.data.pix2pixhd_folders).
- 'synthetic' with `input_channels` declared: noise pairs for smoke runs;
  with `label_nc` > 0: random blocky label maps (and instance maps with
  `instance`) and noise targets, pix2pixHD's batches.
Fields read beside the shared ones: `input_channels`, `direction`,
`load_size` (0: `image_size`, no crop), `split`, `folder`, `label_nc` (0:
the inputs are images), `instance`.

Held-out examples, without augmentation, for evaluation and the sample
grids: `held_out(data_config, split, num)` gives pix2pix's (inputs, targets)
of the first `num` pairs (the reference's test-time preprocessing:
load_size = crop_size, no flip); `held_out_arrays` gives any paired source's
examples as a dict of the batches' keys.
"""

from __future__ import annotations

import os
import zlib
from typing import Any, Callable

import grain
import numpy as np
from PIL import Image

from jaxgan.data.folder import IMAGE_EXTENSIONS, _walk_images
from jaxgan.data.pipeline import EpochOrder, RandomAccessPipeline
from jaxgan.data.preprocess import BadFileLog, BadImageError, decode, scale_uint8, to_mode

DIRECTIONS = ("AtoB", "BtoA")
# What a paired data config that leaves these out gets (jaxgan.data.with_defaults).
PAIRED_DEFAULTS = dict(input_channels=3, direction="AtoB", load_size=0, label_nc=0, instance=False)

ALIGNED_HELP = ("The aligned layout is <folder>/<split>/*.jpg (split e.g. train, val, test), each image A and B "
                "side by side, A on the left; extensions: " + " ".join(IMAGE_EXTENSIONS))


class PairOrder(EpochOrder):
    """EpochOrder that also draws, per position, the top-left corner of the
    crop (`crop_room` = load_size - crop size pixels of slack, or a range of
    draws that `load` scales to each image's slack): position ->
    (record index, (flip, top, left)), a pure function of (seed, process,
    position) like the flip, so resumed runs crop as uninterrupted ones."""

    def __init__(self, num_records: int, *, crop_room: int = 0, **kwargs):
        super().__init__(num_records, **kwargs)
        self.crop_room = int(crop_room)

    def __getitem__(self, position: int):
        index, flip = super().__getitem__(position)
        top = left = 0
        if self.crop_room:
            rng = np.random.default_rng([self.seed, 0xC409, self.process_index, int(position)])
            top, left = (int(v) for v in rng.integers(0, self.crop_room + 1, 2))
        return index, (flip, top, left)


# Integer maps (pix2pixHD's label and instance ids); every other key is a float32 image in [-1, 1].
INT_KEYS = ("label_map", "instance")


def dtype_of(key: str) -> np.dtype:
    return np.dtype(np.int32 if key in INT_KEYS else np.float32)


def _stack_examples(examples):
    batch = {k: np.stack([e[k] for e in examples]) for k in examples[0]}
    batch["label"] = np.zeros(len(examples), np.int32)
    return batch


class PairedPipeline(RandomAccessPipeline):
    """RandomAccessPipeline's engine (order, sharding, resumable state: its
    get_state / set_state) over `load(index, (flip, top, left)) -> {key:
    array}`, examples of several named arrays that share one crop and flip;
    its own __init__ because the order draws a crop besides the flip.

    `shapes` names the arrays of an example and their shapes (`dtypes`
    their dtypes, default `dtype_of(key)`); a batch stacks each key and adds
    "label" (int32 zeros [B]). Without `shapes`, `load` returns the pair
    `(input, target)` of pix2pix, batched as "input" and "image" of
    `input_shape` and `image_shape`.

    Attributes: `image_shape` (the target's), `input_shape` (the "input"
    image's, or the label map's (H, W, 1) where the input is a label map),
    `label_nc` (number of label ids; 0 where the input is an image) and
    `has_instance` (batches hold an "instance" map).
    """

    def __init__(self, *, load: Callable[[int, tuple], Any], describe: Callable[[int], str], num_records: int,
                 batch_size: int, seed: int, process_index: int, process_count: int,
                 shapes: dict[str, tuple[int, ...]] | None = None, dtypes: dict[str, Any] | None = None,
                 input_shape: tuple[int, int, int] | None = None, image_shape: tuple[int, int, int] | None = None,
                 label_nc: int = 0, random_flip: bool, crop_room: int = 0, num_workers: int = 2, prefetch: int = 4,
                 shuffle: bool = True, name: str = ""):
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self._tuples = shapes is None  # load gives (input, target)
        if shapes is None:
            if input_shape is None or image_shape is None:
                raise ValueError("PairedPipeline needs `shapes`, or `input_shape` and `image_shape` for (input, "
                                 "target) pairs")
            shapes = {"input": input_shape, "image": image_shape}
        self.shapes = {k: tuple(int(n) for n in v) for k, v in shapes.items()}
        if "label" in self.shapes or "image" not in self.shapes:
            raise ValueError(f"example keys {sorted(self.shapes)} must include 'image' (the target) and not 'label'")
        self.dtypes = {k: np.dtype((dtypes or {}).get(k, dtype_of(k))) for k in self.shapes}
        self.image_shape = self.shapes["image"]
        self.input_shape = tuple(input_shape) if input_shape is not None else self.shapes.get(
            "input", self.shapes.get("label_map"))
        self.label_nc = int(label_nc)
        self.has_instance = "instance" in self.shapes
        self.num_classes = None
        self.batch_size = batch_size
        self.name = name
        self.bad_files = BadFileLog()
        self.order = PairOrder(num_records, crop_room=crop_room, seed=seed, process_index=process_index,
                               process_count=process_count, shuffle=shuffle, random_flip=random_flip)
        self.examples_per_epoch = self.order.size
        self._process_count = int(process_count)
        self._load, self._describe = load, describe
        ds = grain.MapDataset.source(self.order).map(self._load_or_none)
        read = grain.ReadOptions(num_threads=int(num_workers), prefetch_buffer_size=int(prefetch) * int(num_workers))
        self._dataset = ds.to_iter_dataset(read).batch(batch_size, drop_remainder=True, batch_fn=_stack_examples)
        self._it = iter(self._dataset)

    def _load_or_none(self, item):
        index, augment = item
        try:
            example = self._load(index, augment)
        except BadImageError as e:
            self.bad_files.skipped(self._describe(index), e)
            return None
        if self._tuples:
            example = dict(zip(("input", "image"), example))
        got = {k: np.shape(v) for k, v in example.items()}
        if got != self.shapes:
            # Not a bad file but a bug or a mis-set config: fail loudly.
            raise ValueError(f"{self._describe(index)}: preprocessed to {got}, expected {self.shapes}")
        return {k: np.asarray(v, self.dtypes[k]) for k, v in example.items()}


# ------------------------------------------------------------------ aligned


def check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ValueError(f"config.data.direction must be 'AtoB' or 'BtoA', got {direction!r}")
    return direction


def split_aligned(img: Image.Image, path: str) -> tuple[Image.Image, Image.Image]:
    """(A, B): the left and the right half of an aligned image."""
    w, h = img.size
    if w % 2:
        raise BadImageError(f"{path}: width {w} is odd; an aligned image holds A and B side by side, "
                            "two halves of equal width")
    return img.crop((0, 0, w // 2, h)), img.crop((w // 2, 0, w, h))


def transform(img: Image.Image, *, channels: int, load_size: int, crop_size: int, flip: bool, top: int,
              left: int) -> np.ndarray:
    """The reference's get_transform for 'resize_and_crop' with given crop and
    flip: grey or RGB, bicubic resize to load_size, crop, flip, to [-1, 1]."""
    img = to_mode(img, channels)
    if img.size != (load_size, load_size):
        img = img.resize((load_size, load_size), Image.BICUBIC)
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    arr = arr[top:top + crop_size, left:left + crop_size]
    if flip:
        arr = arr[:, ::-1]
    return scale_uint8(arr)


def aligned_pair(path: str, augment: tuple[bool, int, int], *, input_channels: int, channels: int, load_size: int,
                 crop_size: int, direction: str) -> tuple[np.ndarray, np.ndarray]:
    """(input, target) of one aligned file; raises BadImageError naming it."""
    a, b = split_aligned(decode(path), path)
    if check_direction(direction) == "BtoA":
        a, b = b, a
    flip, top, left = augment
    kw = dict(load_size=load_size, crop_size=crop_size, flip=flip, top=top, left=left)
    return transform(a, channels=input_channels, **kw), transform(b, channels=channels, **kw)


def aligned_files(folder: str, split: str) -> list[str]:
    if not folder:
        raise ValueError("config.data.folder is not set; " + ALIGNED_HELP)
    root = os.path.join(folder, split)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root} (config.data.folder/config.data.split) is not a directory. " + ALIGNED_HELP)
    paths = _walk_images(root)
    if not paths:
        raise FileNotFoundError(f"no image files under {root}. " + ALIGNED_HELP)
    return paths


def _sizes(data_config: Any) -> tuple[int, int]:
    crop = int(data_config.image_size)
    load = int(data_config.load_size) or crop
    if load < crop:
        raise ValueError(f"config.data.load_size ({load}) must be at least config.data.image_size ({crop}), "
                         "the crop taken of it")
    return load, crop


def _shapes(data_config: Any) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    size = int(data_config.image_size)
    for field in ("input_channels", "channels"):
        if int(data_config[field]) not in (1, 3):
            raise ValueError(f"config.data.{field} must be 1 or 3, got {data_config[field]}")
    return (size, size, int(data_config.input_channels)), (size, size, int(data_config.channels))


def build_aligned(data_config: Any, **kwargs: Any) -> PairedPipeline:
    load_size, crop_size = _sizes(data_config)
    input_shape, image_shape = _shapes(data_config)
    check_direction(data_config.direction)
    paths = aligned_files(data_config.folder, data_config.split)
    options = dict(input_channels=input_shape[-1], channels=image_shape[-1], load_size=load_size,
                   crop_size=crop_size, direction=data_config.direction)
    flip = data_config.random_flip
    pipe = PairedPipeline(
        load=lambda i, augment: aligned_pair(paths[i], augment, **options), describe=lambda i: paths[i],
        num_records=len(paths), input_shape=input_shape, image_shape=image_shape,
        random_flip=True if flip is None else bool(flip),  # the reference flips unless --no_flip
        crop_room=load_size - crop_size, num_workers=int(data_config.num_workers), name="aligned", **kwargs)
    pipe.paths = paths
    return pipe


# ---------------------------------------------------------------- synthetic


class SyntheticPairs:
    """Noise examples of the configured shapes for smoke runs: image pairs,
    or with `label_nc` > 0 pix2pixHD's label maps (and instance maps when
    `instance`) with noise targets; batch k of process p is a pure function
    of (seed, k, p), the state is k."""

    def __init__(self, data_config: Any, *, batch_size: int, seed: int, process_index: int = 0,
                 process_count: int = 1):
        self.label_nc, self.has_instance = _label_nc(data_config), bool(data_config.instance)
        self.input_shape, self.image_shape = _shapes(data_config)
        if self.label_nc:
            self.input_shape = (*self.image_shape[:2], 1)
        else:
            self.has_instance = False
        self.num_classes = None
        self.batch_size, self.seed, self.process_index = batch_size, seed, process_index
        self.step = 0

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        seed = [self.seed, self.step, self.process_index]
        if self.label_nc:
            batch = synthetic_maps(seed, self.batch_size, self.image_shape, self.label_nc, self.has_instance)
        else:
            batch = synthetic_pairs(seed, self.batch_size, self.input_shape, self.image_shape)
        self.step += 1
        return batch

    def get_state(self) -> dict[str, Any]:
        return {"step": self.step}

    def set_state(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])


def synthetic_pairs(seed, n: int, input_shape, image_shape) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"input": rng.uniform(-1, 1, (n, *input_shape)).astype(np.float32),
            "image": rng.uniform(-1, 1, (n, *image_shape)).astype(np.float32), "label": np.zeros(n, np.int32)}


def _blocks(rng: np.random.Generator, n: int, size: int, block: int, high: int) -> np.ndarray:
    """int32 [n, size, size] of uniform ids in [0, high), constant on block x block squares."""
    cells = -(-size // block)
    ids = rng.integers(0, high, (n, cells, cells), dtype=np.int32)
    return ids.repeat(block, axis=1).repeat(block, axis=2)[:, :size, :size]


def synthetic_maps(seed, n: int, image_shape, label_nc: int, instance: bool) -> dict[str, np.ndarray]:
    """pix2pixHD-shaped noise: label ids in [0, label_nc) on 8x8 blocks,
    instance ids label * 1000 + [0, 3) on 4x4 blocks (Cityscapes' id
    layout, so id // 1000 is the label), uniform noise targets."""
    rng = np.random.default_rng(seed)
    size = int(image_shape[0])
    label_map = _blocks(rng, n, size, 8, label_nc)
    batch = {"label_map": label_map[..., None]}
    if instance:
        batch["instance"] = (label_map * 1000 + _blocks(rng, n, size, 4, 3))[..., None]
    batch["image"] = rng.uniform(-1, 1, (n, *image_shape)).astype(np.float32)
    batch["label"] = np.zeros(n, np.int32)
    return batch


def _label_nc(data_config: Any) -> int:
    label_nc = int(data_config.label_nc)
    if label_nc < 0:
        raise ValueError(f"config.data.label_nc must be >= 0 (0: the input is an image), got {label_nc}")
    return label_nc


# ----------------------------------------------------------------- held out


def held_out(data_config: Any, split: str, num: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) float32 [N, H, W, C] of the first `num` (None: all)
    pairs of `split`, in file order, without crop or flip (resized straight to
    image_size as the reference's test options set load_size = crop_size);
    for sources whose examples are image pairs (pix2pix). Every source's
    examples: `held_out_arrays`."""
    arrays = held_out_arrays(data_config, split, num)
    if set(arrays) != {"input", "image"}:
        raise ValueError(f"config.data.source {data_config.source!r} gives {sorted(arrays)}, not image pairs; "
                         "paired.held_out_arrays gives its held-out examples")
    return arrays["input"], arrays["image"]


def held_out_arrays(data_config: Any, split: str, num: int | None = None) -> dict[str, np.ndarray]:
    """The first `num` (None: all) examples of `split` of any paired source,
    without augmentation, as `{key: array [N, ...]}` with the keys of its
    batches less "label": "input" and "image" for image pairs, "label_map"
    (+ "instance") and "image" for pix2pixHD's label maps. Test-time
    preprocessing per source: `held_out` (image pairs),
    `jaxgan.data.digit_canvas.held_out`, `jaxgan.data.pix2pixhd_folders.held_out`."""
    from jaxgan.data import with_defaults

    data_config = with_defaults(data_config, **PAIRED_DEFAULTS)
    source = data_config.source
    if source == "digit_canvas":
        from jaxgan.data import digit_canvas

        return digit_canvas.held_out(data_config, split, num)
    if source == "pix2pixhd":
        from jaxgan.data import pix2pixhd_folders

        return pix2pixhd_folders.held_out(data_config, split, num)
    input_shape, image_shape = _shapes(data_config)
    if source == "synthetic":
        seed, n = [zlib.crc32(split.encode()), 0x4E1D], num or 64
        label_nc = _label_nc(data_config)
        if label_nc:
            batch = synthetic_maps(seed, n, image_shape, label_nc, bool(data_config.instance))
        else:
            batch = synthetic_pairs(seed, n, input_shape, image_shape)
        del batch["label"]
        return batch
    if source == "edges2digits":
        from jaxgan.data import edges2digits

        inputs, targets = edges2digits.pairs(data_config, split, num)
        return {"input": inputs, "image": targets}
    if source == "aligned":
        paths = aligned_files(data_config.folder, split)[:num]
        size = int(data_config.image_size)
        options = dict(input_channels=input_shape[-1], channels=image_shape[-1], load_size=size, crop_size=size,
                       direction=check_direction(data_config.direction))
        pairs = [aligned_pair(p, (False, 0, 0), **options) for p in paths]
        return {"input": np.stack([p[0] for p in pairs]), "image": np.stack([p[1] for p in pairs])}
    raise ValueError(f"config.data.source {source!r} gives no paired examples; paired sources: 'aligned', "
                     "'edges2digits', 'digit_canvas', 'pix2pixhd' (and 'synthetic' for smoke runs)")


def build(data_config: Any, **kwargs: Any):
    """The pipeline of a paired `data_config.source` (jaxgan.data.build_input)."""
    source = data_config.source
    if source == "aligned":
        return build_aligned(data_config, **kwargs)
    if source == "edges2digits":
        from jaxgan.data import edges2digits

        return edges2digits.build(data_config, **kwargs)
    if source == "digit_canvas":
        from jaxgan.data import digit_canvas

        return digit_canvas.build(data_config, **kwargs)
    if source == "pix2pixhd":
        from jaxgan.data import pix2pixhd_folders

        return pix2pixhd_folders.build(data_config, **kwargs)
    if source == "synthetic":
        return SyntheticPairs(data_config, **kwargs)
    raise ValueError(f"config.data.source {source!r} is not a paired source")
