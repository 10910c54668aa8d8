"""One folder of images per domain, for StarGAN (`config.data.source =
'domain_folders'`): the reference's RaFD loader (yunjey/stargan,
data_loader.py: torchvision's ImageFolder over rafd_image_dir, e.g.
data/RaFD/train).

Layout: `<root>/<domain>/**/*.jpg|png|...`, where root is
`<folder>/<split>` when that is a directory (e.g. folder data/RaFD with
data/RaFD/train and data/RaFD/test), else, for split 'train' only,
`<folder>` itself (the reference's rafd_image_dir pointing at the training
folders). Another split without `<folder>/<split>` is a FileNotFoundError
(the trainer's held-out grids then fall back to config.data.split). So a
domain may not be named like the split when the folders sit directly in
`<folder>`.

Domains: the subfolders of root sorted by name (ImageFolder's classes), or
`config.data.domains`, which selects and orders them (other subfolders are
ignored, with a warning). The label of an image is its domain's index, int32.
Files are listed recursively and sorted, as ImageFolder does (extensions:
jaxgan.data.folder.IMAGE_EXTENSIONS).

Transform (jaxgan.data.celeba_attrs.transform, the reference's): 'train' a
random horizontal flip (unless `random_flip` is False), then CenterCrop
`crop_size` (RaFD: 256; 0: no crop), Resize `image_size` (128), to [-1, 1].
Unreadable images are skipped, counted and logged once (`bad_files`).

Errors, one line each: config.data.folder unset or missing, a root without
domain folders, a domain folder without images, a config.data.domains name
that is not a folder.

Batches: `{"image": float32 [B, H, W, C], "label": int32 [B]}`;
`attribute_names` are the domains' names, `label_kind` 'domains'. Held out
(`held_out`): the first `num` images of a split without flip, the domains
taking turns (the first image of each domain, then the second, ...), so any
first few show every domain.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jaxgan.data.celeba_attrs import _held_out, _random_flip, build_images, check_split, image_options
from jaxgan.data.folder import IMAGE_EXTENSIONS, _walk_images
from jaxgan.data.preprocess import log

CROP_SIZE = 256  # the reference's rafd_crop_size
LAYOUT_HELP = ("The domain_folders layout is <folder>/<domain>/*.jpg, or <folder>/<split>/<domain>/*.jpg, one "
               "folder of images per domain; extensions: " + " ".join(IMAGE_EXTENSIONS))


def domain_root(folder: str, split: str) -> str:
    """The folder holding the domain folders (module docstring)."""
    if not folder:
        raise ValueError("config.data.folder is not set; " + LAYOUT_HELP)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"config.data.folder {folder!r} is not a directory. " + LAYOUT_HELP)
    root = os.path.join(folder, split)
    if os.path.isdir(root):
        return root
    if split == "train":
        return folder
    raise FileNotFoundError(f"{root} (config.data.folder/<split>) is not a directory: no {split!r} domain folders")


def scan(folder: str, split: str, domains: tuple[str, ...] = ()) -> tuple[tuple[str, ...], list[list[str]]]:
    """(domain names, each domain's sorted image paths) under the split's root."""
    root = domain_root(folder, split)
    found = sorted(d for d in os.listdir(root) if not d.startswith(".") and os.path.isdir(os.path.join(root, d)))
    if not found:
        raise FileNotFoundError(f"{root} has no domain folders. " + LAYOUT_HELP)
    if domains:
        missing = [d for d in domains if d not in found]
        if missing:
            raise FileNotFoundError(f"config.data.domains names {missing}, not folders of {root} (it has "
                                    f"{found})")
        ignored = [d for d in found if d not in domains]
        if ignored:
            log.warning("jaxgan.data: ignoring the folders %s of %s, not in config.data.domains", ignored, root)
    names = tuple(domains or found)
    files = []
    for name in names:
        paths = _walk_images(os.path.join(root, name))
        if not paths:
            raise FileNotFoundError(f"domain folder {os.path.join(root, name)} holds no images. " + LAYOUT_HELP)
        files.append(paths)
    return names, files


def _domains(data_config: Any) -> tuple[str, ...]:
    domains = data_config.get("domains") or ()
    if isinstance(domains, str):
        raise ValueError(f"config.data.domains must be a list of folder names, got the string {domains!r}")
    domains = tuple(str(d) for d in domains)
    if len(set(domains)) != len(domains):
        raise ValueError(f"config.data.domains names a folder twice: {list(domains)}")
    return domains


def held_out(data_config: Any, split: str, num: int | None = None) -> dict[str, np.ndarray]:
    """{"image": float32 [N, H, W, C], "label": int32 [N]} of the first `num`
    (None: all) readable images of `split`, the domains taking turns, no flip."""
    check_split(split, "domain_folders")
    _, files = scan(data_config.folder, split, _domains(data_config))
    paths = [p for domain in files for p in domain]
    labels = np.concatenate([np.full(len(domain), d, np.int32) for d, domain in enumerate(files)])
    starts = np.cumsum([0] + [len(domain) for domain in files])
    # Round robin: k-th image of every domain (that has one) before the (k+1)-th of any.
    order = [int(starts[d]) + k for k in range(max(map(len, files))) for d in range(len(files)) if k < len(files[d])]
    return _held_out(paths, labels, image_options(data_config, "domain_folders", CROP_SIZE), num, order)


def build(data_config: Any, **kwargs: Any):
    split = check_split(data_config.split, "domain_folders")
    names, files = scan(data_config.folder, split, _domains(data_config))
    paths = [p for domain in files for p in domain]
    labels = np.concatenate([np.full(len(domain), d, np.int32) for d, domain in enumerate(files)])
    return build_images(paths=paths, labels=labels, options=image_options(data_config, "domain_folders", CROP_SIZE),
                        flip=_random_flip(data_config, split), shuffle=split == "train", attribute_names=names,
                        label_kind="domains", data_config=data_config, name="domain_folders", **kwargs)
