"""Image-folder source: layouts, preprocessing, every kind of bad file,
determinism, resume and process sharding. Builds its images in a temp dir."""

import collections
import logging

import ml_collections
import numpy as np
import pytest
from PIL import Image

from jaxgan.data import build_input
from jaxgan.data import preprocess


def data_config(folder, **kw):
    c = ml_collections.ConfigDict(dict(source="folder", folder=str(folder), image_size=8, num_classes=0,
                                       channels=3, random_flip=False, center_crop=True, num_workers=2))
    c.update(kw)
    c.lock()  # as config_flags hands it over: unknown fields must not be needed
    return c


def solid(value, size=(12, 10), mode="RGB"):
    return Image.new(mode, size, (value, value, value) if mode == "RGB" else value)


@pytest.fixture
def labelled_folder(tmp_path):
    """3 classes x 4 images; image of class c number i is filled with 20*(4c+i)+10."""
    for c, name in enumerate(["cat", "dog", "emu"]):
        (tmp_path / name).mkdir()
        for i in range(4):
            solid(20 * (4 * c + i) + 10, size=(12 + i, 9)).save(tmp_path / name / f"{i}.png")
    return tmp_path


def ids(batch):
    """The fill value of each (constant) image, as the id of its source file."""
    v = np.round((batch["image"][:, 0, 0, 0] + 1) * 127.5).astype(int)
    return [int(x) for x in v]


def test_class_folders_give_labels_and_shapes(labelled_folder):
    pipe = build_input(data_config(labelled_folder, num_classes=3), batch_size=12, seed=0)
    assert pipe.num_classes == 3 and pipe.image_shape == (8, 8, 3)
    assert pipe.class_names == ["cat", "dog", "emu"]
    batch = next(pipe)
    assert batch["image"].shape == (12, 8, 8, 3) and batch["image"].dtype == np.float32
    assert batch["label"].dtype == np.int32
    # One epoch of 12: every file once, each with its folder's label.
    assert sorted(zip(ids(batch), batch["label"].tolist())) == [(20 * k + 10, k // 4) for k in range(12)]
    assert -1 <= batch["image"].min() and batch["image"].max() <= 1


def test_layout_errors_name_the_field(tmp_path, labelled_folder):
    with pytest.raises(ValueError, match=r"num_classes=5 .* 3 class folders"):
        build_input(data_config(labelled_folder, num_classes=5), batch_size=2, seed=0)
    with pytest.raises(FileNotFoundError, match="config.data.folder"):
        build_input(data_config(tmp_path / "nope"), batch_size=2, seed=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=r"no image files .*<folder>/<class name>/<image>"):
        build_input(data_config(empty), batch_size=2, seed=0)
    flat = tmp_path / "flat"
    flat.mkdir()
    solid(3).save(flat / "a.png")
    with pytest.raises(FileNotFoundError, match="no class folders"):
        build_input(data_config(flat, num_classes=2), batch_size=2, seed=0)


def test_flat_folder_is_unconditional(tmp_path):
    for i in range(5):
        solid(40 * i + 5).save(tmp_path / f"{i}.jpg", quality=100)
    pipe = build_input(data_config(tmp_path), batch_size=5, seed=1)
    assert pipe.num_classes is None
    batch = next(pipe)
    assert batch["label"].tolist() == [0] * 5
    assert sorted(ids(batch)) == pytest.approx([5, 45, 85, 125, 165], abs=2)  # JPEG: nearly lossless


def test_center_crop_long_edge_then_resize():
    # 30x10 image: left third red, middle green, right blue. The square crop of
    # the short side keeps only the green middle (BigGAN-PyTorch's CenterCropLongEdge).
    arr = np.zeros((10, 30, 3), np.uint8)
    arr[:, :10, 0] = 255
    arr[:, 10:20, 1] = 255
    arr[:, 20:, 2] = 255
    out = preprocess.preprocess_pil(Image.fromarray(arr), image_size=4, channels=3)
    np.testing.assert_allclose(out[..., 1], 1.0)
    np.testing.assert_allclose(out[..., [0, 2]], -1.0)
    uncropped = preprocess.preprocess_pil(Image.fromarray(arr), image_size=4, channels=3, center_crop=False)
    assert uncropped[:, 0, 0].min() > 0.9  # red survives at the left edge
    flipped = preprocess.preprocess_pil(Image.fromarray(arr), image_size=4, channels=3, center_crop=False, flip=True)
    np.testing.assert_array_equal(flipped, uncropped[:, ::-1])


def test_mode_conversions():
    # 16-bit: mid-grey must stay mid-grey (a plain convert('L') clips it to white).
    img16 = Image.fromarray(np.full((6, 6), 32768, np.uint16))
    assert img16.mode.startswith("I")
    out = preprocess.preprocess_pil(img16, image_size=6, channels=3)
    np.testing.assert_allclose(out, 0.0, atol=0.01)
    cmyk = Image.new("CMYK", (6, 6), (0, 255, 255, 0))  # pure red in CMYK
    out = preprocess.preprocess_pil(cmyk, image_size=6, channels=3)
    np.testing.assert_allclose(out[0, 0], [1, -1, -1], atol=0.02)
    pal = solid(200).convert("P", palette=Image.Palette.ADAPTIVE)
    out = preprocess.preprocess_pil(pal, image_size=4, channels=3)
    np.testing.assert_allclose(out, 200 / 127.5 - 1, atol=0.01)
    gray = preprocess.preprocess_pil(solid(100, mode="L"), image_size=4, channels=3)
    assert gray.shape == (4, 4, 3)
    np.testing.assert_allclose(gray, 100 / 127.5 - 1, atol=1e-6)
    one = preprocess.preprocess_pil(solid(100), image_size=4, channels=1)
    assert one.shape == (4, 4, 1)
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))  # fully transparent: white, not black
    np.testing.assert_allclose(preprocess.preprocess_pil(rgba, image_size=4, channels=3), 1.0)


def test_bad_files_are_converted_or_skipped_counted_and_logged_once(tmp_path, caplog):
    good = tmp_path / "ok"
    good.mkdir()
    solid(50, size=(20, 14)).save(good / "rgb.jpg", quality=100)
    solid(60, mode="L").save(good / "gray.png")
    solid(70).convert("P", palette=Image.Palette.ADAPTIVE).save(good / "palette.gif")
    Image.new("CMYK", (9, 9), (0, 0, 0, 0)).save(good / "cmyk.jpg")  # white
    Image.fromarray(np.full((7, 9), 40000, np.uint16)).save(good / "sixteen.png")
    Image.new("RGBA", (8, 8), (90, 90, 90, 255)).save(good / "alpha.png")
    bad = {
        "empty.png": b"",
        "garbage.jpg": b"\x00\x01 this is not an image " * 10,
        "text.png": b"hello",
    }
    for name, data in bad.items():
        (good / name).write_bytes(data)
    full = tmp_path / "full.jpg"
    solid(80, size=(64, 64)).save(full, quality=95)
    (good / "truncated.jpg").write_bytes(full.read_bytes()[: len(full.read_bytes()) // 2])

    caplog.set_level(logging.WARNING, logger="jaxgan.data")
    pipe = build_input(data_config(good), batch_size=3, seed=0)
    assert len(pipe.paths) == 10
    values = []
    for _ in range(8):  # 24 images = 4 epochs of the 6 usable files
        batch = next(pipe)
        assert np.isfinite(batch["image"]).all()
        values += ids(batch)
    counts = collections.Counter(values)
    # Every usable file, converted to RGB, 4 times; nothing else.
    assert set(counts.values()) == {4} and len(counts) == 6
    assert 255 in counts  # the CMYK white
    assert any(abs(v - round(40000 / 65535 * 255)) <= 1 for v in counts)  # 16-bit, rescaled
    # 4 bad files, skipped in each of the (at least 3) epochs read so far, logged once each.
    assert pipe.bad_files.unique == 4
    assert pipe.bad_files.count >= 12
    logged = [r.getMessage() for r in caplog.records if "skipping unreadable image" in r.getMessage()]
    assert len(logged) == 4
    for name in [*bad, "truncated.jpg"]:
        assert sum(name in m for m in logged) == 1, (name, logged)


def read_ids(pipe, n):
    return [ids(next(pipe)) for _ in range(n)]


def test_same_seed_same_batches_and_epochs_reshuffle(labelled_folder):
    cfg = data_config(labelled_folder, num_classes=3, random_flip=True)
    a = read_ids(build_input(cfg, batch_size=4, seed=7), 9)
    b = read_ids(build_input(cfg, batch_size=4, seed=7), 9)
    c = read_ids(build_input(cfg, batch_size=4, seed=8), 9)
    assert a == b and a != c
    epochs = [sum(a[3 * e:3 * e + 3], []) for e in range(3)]
    assert all(sorted(e) == sorted(epochs[0]) for e in epochs)  # each epoch: every file once
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]  # ... in a new order

    # Flips are part of the determinism too.
    x = next(build_input(cfg, batch_size=12, seed=3))["image"]
    y = next(build_input(cfg, batch_size=12, seed=3))["image"]
    np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("stop", [2, 4])  # mid-epoch and at an epoch boundary (12 files, batch 3)
def test_restore_state_continues_exactly(labelled_folder, stop, caplog):
    cfg = data_config(labelled_folder, num_classes=3, random_flip=True)
    full = build_input(cfg, batch_size=3, seed=5)
    reference = [next(full) for _ in range(10)]

    first = build_input(cfg, batch_size=3, seed=5)
    for _ in range(stop):
        next(first)
    import json

    state = json.loads(json.dumps(first.get_state()))  # as the checkpoint stores it
    resumed = build_input(cfg, batch_size=3, seed=5)
    resumed.set_state(state)
    for k in range(stop, 10):
        batch = next(resumed)
        np.testing.assert_array_equal(batch["image"], reference[k]["image"])
        np.testing.assert_array_equal(batch["label"], reference[k]["label"])

    other_seed = build_input(cfg, batch_size=3, seed=6)
    caplog.set_level(logging.WARNING, logger="jaxgan.data")
    other_seed.set_state(state)  # resumable, but not the interrupted run's stream: warned
    assert "order of examples will differ" in caplog.text

    with pytest.raises(ValueError, match="config.data changed"):
        build_input(data_config(labelled_folder, source="mnist5k", image_size=32, num_classes=10),
                    batch_size=3, seed=5).set_state(state)


def test_two_processes_read_disjoint_parts_whose_union_is_the_folder(labelled_folder):
    cfg = data_config(labelled_folder, num_classes=3)
    seen = []
    for p in range(2):
        pipe = build_input(cfg, batch_size=2, seed=0, process_index=p, process_count=2)
        assert pipe.examples_per_epoch == 6
        seen.append(sum(read_ids(pipe, 3), []))
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == [20 * k + 10 for k in range(12)]
