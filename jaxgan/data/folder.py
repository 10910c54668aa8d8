"""Users' own images in a folder (`config.data.source = 'folder'`).

Two layouts, told apart by what `config.data.folder` contains:

    root/<class name>/**/*.jpg|png|...   class-conditional: label = index of the
                                         class folder in sorted name order
    root/*.jpg|png|...                   flat: unconditional (labels 0)

`config.data.num_classes` must equal the number of class folders for
class-conditional training; 0 trains unconditionally on every image under root
whatever the layout. Files are listed once, sorted, so the record order (and
with it every batch) is the same on every host and every run.
"""

from __future__ import annotations

import os
from typing import Any

from jaxgan.data.preprocess import decode, preprocess_pil

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm")

LAYOUT_HELP = ("Lay the images out as <folder>/<class name>/<image>.jpg for class-conditional data "
               "(config.data.num_classes = number of class folders) or as <folder>/<image>.jpg for "
               "unconditional data (config.data.num_classes = 0); extensions: " + " ".join(IMAGE_EXTENSIONS))


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


def _walk_images(root: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(os.path.join(dirpath, f) for f in sorted(filenames) if _is_image(f))
    return found


def scan(root: str, num_classes: int | None) -> tuple[list[str], list[int], list[str]]:
    """(paths, labels, class names) of the images under root, in a fixed order."""
    if not root:
        raise ValueError("config.data.folder is not set; " + LAYOUT_HELP)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"config.data.folder={root!r} is not a directory. " + LAYOUT_HELP)
    entries = sorted(os.listdir(root))
    class_dirs = [d for d in entries if not d.startswith(".") and os.path.isdir(os.path.join(root, d))]
    top_files = [os.path.join(root, f) for f in entries if _is_image(f) and os.path.isfile(os.path.join(root, f))]
    if not num_classes:
        paths = _walk_images(root)
        if not paths:
            raise FileNotFoundError(f"no image files under config.data.folder={root!r}. " + LAYOUT_HELP)
        return paths, [0] * len(paths), []
    classes, paths, labels = [], [], []
    for d in class_dirs:
        files = _walk_images(os.path.join(root, d))
        if files:
            labels.extend([len(classes)] * len(files))
            classes.append(d)
            paths.extend(files)
    if not classes:
        raise FileNotFoundError(f"config.data.num_classes={num_classes} but config.data.folder={root!r} has no "
                                "class folders with images. " + LAYOUT_HELP)
    if len(classes) != num_classes:
        raise ValueError(f"config.data.num_classes={num_classes} but config.data.folder={root!r} has "
                         f"{len(classes)} class folders with images ({', '.join(classes[:5])}"
                         f"{', ...' if len(classes) > 5 else ''}). " + LAYOUT_HELP)
    if top_files:
        # Images beside the class folders have no class; say so instead of
        # silently training without them.
        import logging

        logging.getLogger("jaxgan.data").warning(
            "jaxgan.data: ignoring %d images directly in %s (not in a class folder), e.g. %s",
            len(top_files), root, top_files[0])
    return paths, labels, classes


def build(data_config: Any, **kwargs: Any):
    from jaxgan.data.pipeline import RandomAccessPipeline

    size = int(data_config.image_size)
    channels = int(data_config.channels)
    num_classes = data_config.num_classes or None
    center_crop = bool(data_config.center_crop)
    paths, labels, classes = scan(data_config.folder, num_classes)

    def load(index: int, flip: bool):
        img = decode(paths[index])
        return preprocess_pil(img, image_size=size, channels=channels, center_crop=center_crop, flip=flip), labels[index]

    flip = data_config.random_flip
    pipe = RandomAccessPipeline(
        load=load, describe=lambda i: paths[i], num_records=len(paths), image_shape=(size, size, channels),
        num_classes=num_classes, random_flip=True if flip is None else bool(flip),
        num_workers=int(data_config.num_workers), name="folder", **kwargs)
    pipe.class_names = classes
    pipe.paths = paths
    return pipe
