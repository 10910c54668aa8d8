"""The reference's unaligned layout for CycleGAN (`config.data.source =
'unaligned'`; junyanz/pytorch-CycleGAN-and-pix2pix, data/unaligned_dataset.py):
two folders of unpaired images, `<folder>/<split>A` and `<folder>/<split>B`
(e.g. horse2zebra's trainA, trainB, testA, testB), each listed recursively
and sorted by path.

Batches: `{"input": float32 [B, H, W, input_channels] (domain A), "image":
float32 [B, H, W, channels] (domain B), "label": int32 zeros [B]}` in
[-1, 1]; with `direction` 'BtoA' the folders swap roles (<split>B is the
input), as the reference's --direction.

As the reference: an epoch is max(|A|, |B|) examples; the epoch's k-th
example is A image (index mod |A|) for index = the epoch's permutation of
[0, max(|A|, |B|)) at k (so the smaller A folder repeats some images within
an epoch), with a B image drawn uniformly from all of <split>B for every
example (the reference's random B index; it never pairs A and B by name).
Preprocessing is the reference's 'resize_and_crop' drawn for A and B
independently (each its own get_transform call): resized (bicubic) to
`load_size` x `load_size`, a random `image_size` crop, a random horizontal
flip unless `random_flip` is False (the reference's --no_flip); grey with
channels 1 (PIL's 'L' conversion, the reference's Grayscale). The B index,
both crops and both flips are drawn from the pipeline's order, a pure
function of (seed, process, position): a resumed run sees the batches an
uninterrupted one would. Unreadable files skip the example, counted and
logged once with their path (`bad_files`).

Held out (`held_out`): the first `num` images of <split>A and of <split>B
in sorted order, resized straight to image_size without flip (the
reference's test options set load_size = crop_size), as unpaired sets: B
is no truth for A.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxgan.data.folder import IMAGE_EXTENSIONS, _walk_images
from jaxgan.data.preprocess import decode

# PairOrder's (top, left) draws, each uniform in [0, DRAWS]: together the seed of the example's own draws.
DRAWS = 2 ** 62
UNALIGNED_HELP = ("The unaligned layout is <folder>/<split>A and <folder>/<split>B (e.g. trainA, trainB), each "
                  "holding one domain's images; extensions: " + " ".join(IMAGE_EXTENSIONS))


def domain_files(folder: str, split: str, domain: str) -> list[str]:
    """The sorted image paths of `<folder>/<split><domain>`; FileNotFoundError
    in one line naming the folder when it is missing or holds no images."""
    if not folder:
        raise ValueError("config.data.folder is not set; " + UNALIGNED_HELP)
    root = os.path.join(folder, split + domain)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root} (config.data.folder/<config.data.split>{domain}) is not a directory. "
                                + UNALIGNED_HELP)
    paths = _walk_images(root)
    if not paths:
        raise FileNotFoundError(f"no image files under {root} (config.data.folder/<config.data.split>{domain}). "
                                + UNALIGNED_HELP)
    return paths


def _domains(data_config: Any, split: str) -> tuple[list[str], list[str]]:
    """(input paths, target paths): <split>A and <split>B, swapped for BtoA."""
    from jaxgan.data.paired import check_direction

    a = domain_files(data_config.folder, split, "A")
    b = domain_files(data_config.folder, split, "B")
    return (b, a) if check_direction(data_config.direction) == "BtoA" else (a, b)


def _image(path: str, channels: int, load_size: int, crop_size: int, flip: bool = False, top: int = 0,
           left: int = 0) -> np.ndarray:
    from jaxgan.data.paired import transform

    return transform(decode(path), channels=channels, load_size=load_size, crop_size=crop_size, flip=flip, top=top,
                     left=left)


def build(data_config: Any, **kwargs: Any):
    from jaxgan.data.paired import PairedPipeline, _shapes, _sizes

    load_size, crop_size = _sizes(data_config)
    input_shape, image_shape = _shapes(data_config)
    a_paths, b_paths = _domains(data_config, data_config.split)
    flip = data_config.random_flip
    flip = True if flip is None else bool(flip)  # the reference flips unless --no_flip
    room = load_size - crop_size

    def load(i: int, augment):
        _, top, left = augment
        rng = np.random.default_rng([top, left])
        b = int(rng.integers(len(b_paths)))
        crops = rng.integers(0, room + 1, 4)
        flips = rng.integers(0, 2, 2).astype(bool) & flip
        options = dict(load_size=load_size, crop_size=crop_size)
        return (_image(a_paths[i % len(a_paths)], input_shape[-1], flip=flips[0], top=crops[0], left=crops[1],
                       **options),
                _image(b_paths[b], image_shape[-1], flip=flips[1], top=crops[2], left=crops[3], **options))

    # describe names the A file; an unreadable B file's own path is in the error it raises.
    pipe = PairedPipeline(
        load=load, describe=lambda i: a_paths[i % len(a_paths)], num_records=max(len(a_paths), len(b_paths)),
        input_shape=input_shape, image_shape=image_shape, random_flip=False, crop_room=DRAWS,
        num_workers=int(data_config.num_workers), name="unaligned", **kwargs)
    pipe.paths = {"A": a_paths, "B": b_paths}
    return pipe


def held_out(data_config: Any, split: str, num: int | None = None) -> dict[str, np.ndarray]:
    """{"input": the first `num` (None: all) images of <split>A, "image": of
    <split>B}, float32 [N, H, W, C] (module docstring); N the smaller count."""
    from jaxgan.data.paired import _shapes

    input_shape, image_shape = _shapes(data_config)
    a_paths, b_paths = _domains(data_config, split)
    n = min(len(a_paths), len(b_paths), num or len(a_paths) + len(b_paths))
    size = int(data_config.image_size)
    return {"input": np.stack([_image(p, input_shape[-1], size, size) for p in a_paths[:n]]),
            "image": np.stack([_image(p, image_shape[-1], size, size) for p in b_paths[:n]])}
