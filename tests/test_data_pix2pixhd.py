"""pix2pixHD's data (jaxgan.data.digit_canvas, jaxgan.data.pix2pixhd_folders,
the 'synthetic' label maps): the digit canvases' batches, ids, fixed splits
of disjoint digits, share of touching same-class digits and exact resume;
the folder layout's one crop and flip for all maps of a pair, NEAREST-kept
ids, label_nc 0 and its errors."""

import json

import ml_collections
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from jaxgan.data import build_input, digit_canvas, edges2digits, mnist5k, paired


def canvas_config(**fields):
    c = ml_collections.ConfigDict(dict(source="digit_canvas", split="test", image_size=64, label_nc=11,
                                       instance=True, channels=1, num_workers=0))
    c.update(fields)
    return c


def check_ids(label_map, instance, label_nc):
    assert label_map.dtype == instance.dtype == np.int32
    assert label_map.min() >= 0 and label_map.max() < label_nc
    np.testing.assert_array_equal(instance // 1000, label_map)  # Cityscapes' ids: background 0, label * 1000 + j


def test_canvas_batches_have_the_documented_keys_shapes_and_ids():
    data = build_input(canvas_config(), batch_size=8, seed=0)
    assert (data.input_shape, data.image_shape, data.label_nc, data.has_instance) == ((64, 64, 1), (64, 64, 1), 11,
                                                                                      True)
    batch = next(data)
    assert {k: (v.shape, v.dtype) for k, v in batch.items()} == {
        "label_map": ((8, 64, 64, 1), np.int32), "instance": ((8, 64, 64, 1), np.int32),
        "image": ((8, 64, 64, 1), np.float32), "label": ((8,), np.int32)}
    check_ids(batch["label_map"], batch["instance"], 11)
    assert batch["image"].min() == -1 and batch["image"].max() <= 1 and not batch["label"].any()
    # Ink (above the threshold) lies inside the silhouettes the label map draws.
    assert (batch["label_map"][batch["image"] > 2 * digit_canvas.INK / 255 - 1] > 0).all()

    held = paired.held_out_arrays(canvas_config(channels=3, instance=False, split="train"), "test", 5)
    assert {k: v.shape for k, v in held.items()} == {"label_map": (5, 64, 64, 1), "image": (5, 64, 64, 3)}
    cv = digit_canvas.canvases("test")
    np.testing.assert_array_equal(held["label_map"][..., 0], cv.instances[:5] // 1000)
    np.testing.assert_array_equal(held["image"][..., 0], held["image"][..., 2])
    assert set(next(build_input(canvas_config(instance=False), batch_size=2, seed=0))) == {"label_map", "image",
                                                                                          "label"}


def test_canvas_splits_are_fixed_of_disjoint_digits_and_half_hold_touching_twins():
    before = digit_canvas.canvases("test")
    digit_canvas.canvases.cache_clear()
    again = digit_canvas.canvases("test")
    np.testing.assert_array_equal(before.instances, again.instances)
    np.testing.assert_array_equal(before.images, again.images)
    split = edges2digits.split_indices()
    images, labels = mnist5k.load_arrays()
    for name, n in digit_canvas.SPLITS.items():
        cv = digit_canvas.canvases(name)
        digits = digit_canvas.digits_of(name)
        assert len(cv.images) == n and set(digits["index"]) <= set(split[name])  # test canvases: unseen digits only
        np.testing.assert_array_equal(digits["class"], labels[digits["index"]])
        assert len(np.unique(digits["canvas"] * 5000 + digits["index"])) == len(digits["index"])  # distinct images
        per_canvas = np.bincount(digits["canvas"], minlength=n)
        assert per_canvas.min() >= 2 and per_canvas.max() <= 4 and 2.9 < per_canvas.mean() < 3.1
        # Each box holds its digit's ink (the canvas is the max of the digits' ink).
        rows = np.arange(28)
        boxes = cv.images[digits["canvas"][:, None, None], digits["top"][:, None, None] + rows[:, None],
                          digits["left"][:, None, None] + rows]
        assert (boxes >= images[digits["index"]]).all()
        # Touching twins: one 4-connected blob of the label map holds two instances, in about half the canvases.
        blobs, num = ndimage.label(cv.instances > 0, structure=np.pad(ndimage.generate_binary_structure(2, 1)[None],
                                                                      ((1, 1), (0, 0), (0, 0))))
        where = np.nonzero(blobs)
        canvas_of = np.zeros(num + 1, int)
        canvas_of[blobs[where]] = where[0]
        blob_and_instance = np.unique(blobs[where].astype(np.int64) << 16 | cv.instances[where])
        shared = np.flatnonzero(np.bincount(blob_and_instance >> 16) > 1)
        twins = np.zeros(n, bool)
        twins[canvas_of[shared]] = True
        assert 0.45 < twins.mean() < 0.56, twins.mean()
    assert digit_canvas.stats("train")["touching_share"] == pytest.approx(0.497)  # as the module docstring says


@pytest.mark.parametrize("stop", [2, 5])
def test_canvas_resume_is_exact(stop):
    cfg = canvas_config(num_workers=2)
    full = build_input(cfg, batch_size=3, seed=5)
    reference = [next(full) for _ in range(stop + 3)]
    first = build_input(cfg, batch_size=3, seed=5)
    for _ in range(stop):
        next(first)
    state = json.loads(json.dumps(first.get_state()))  # as the checkpoint stores it
    resumed = build_input(cfg, batch_size=3, seed=5)
    resumed.set_state(state)
    for k in range(stop, stop + 3):
        batch = next(resumed)
        for key in ("label_map", "instance", "image"):
            np.testing.assert_array_equal(batch[key], reference[k][key])


@pytest.mark.parametrize("field, value, message", [
    ("image_size", 32, "config.data.image_size must be 64"), ("label_nc", 10, "config.data.label_nc must be 11"),
    ("split", "val", "config.data.split must be 'train'"), ("random_flip", True, "config.data.random_flip must be"),
    ("load_size", 72, "config.data.load_size must be 0 or 64")])
def test_canvas_config_errors_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        build_input(canvas_config(**{field: value}), batch_size=2, seed=0)


def test_synthetic_label_maps_for_smoke_runs():
    cfg = ml_collections.ConfigDict(dict(source="synthetic", image_size=16, channels=3, label_nc=5, instance=True))
    data = build_input(cfg, batch_size=2, seed=0)
    assert (data.input_shape, data.label_nc, data.has_instance) == ((16, 16, 1), 5, True)
    batch = next(data)
    check_ids(batch["label_map"], batch["instance"], 5)
    assert batch["image"].shape == (2, 16, 16, 3) and len(np.unique(batch["label_map"])) == 5
    data.set_state({"step": 0})
    np.testing.assert_array_equal(next(data)["instance"], batch["instance"])
    held = paired.held_out_arrays(cfg, "test", 3)
    assert {k: v.shape for k, v in held.items()} == {"label_map": (3, 16, 16, 1), "instance": (3, 16, 16, 1),
                                                     "image": (3, 16, 16, 3)}


# ---------------------------------------------------------------- folders

H, W = 12, 18  # stored maps: wider than high, as Cityscapes


BASE = {"png": 26000, "tif": 26000 + 2 ** 20}  # instance ids: 16-bit PNGs (Cityscapes'), 32-bit TIFFs


def write_split(root, n=3, split="train", label_nc=8, inst_format="png"):
    """n examples whose maps encode each pixel's place: instance id BASE +
    1000 * example + y * W + x, label (x + y + example) % label_nc, image R =
    x * 10, G = y * 10, B = 50 * example."""
    y, x = np.mgrid[:H, :W]
    for sub in ("label", "inst", "img"):
        (root / f"{split}_{sub}").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(((x + y + i) % label_nc).astype(np.uint8), "L").save(root / f"{split}_label" / f"{i}.png")
        inst = BASE[inst_format] + y * W + x + 1000 * i
        if inst_format == "png":
            Image.fromarray(inst.astype(np.uint16)).save(root / f"{split}_inst" / f"{i}.png")
        else:
            Image.fromarray(inst.astype(np.int32), "I").save(root / f"{split}_inst" / f"{i}.tif")
        rgb = np.stack([x * 10, y * 10, np.full_like(x, 50 * i)], -1).astype(np.uint8)
        Image.fromarray(rgb).save(root / f"{split}_img" / f"{i}.png")


def folder_config(root, **fields):
    c = ml_collections.ConfigDict(dict(source="pix2pixhd", folder=str(root), split="train", image_size=8,
                                       load_size=0, label_nc=8, instance=True, channels=3, num_workers=0))
    c.update(fields)
    return c


@pytest.mark.parametrize("inst_format", ["png", "tif"])
def test_folders_share_one_crop_and_flip_for_all_maps(tmp_path, inst_format):
    write_split(tmp_path, inst_format=inst_format)
    data = build_input(folder_config(tmp_path), batch_size=3, seed=0)
    assert (data.input_shape, data.image_shape, data.label_nc, data.has_instance) == ((8, 8, 1), (8, 8, 3), 8, True)
    seen = set()
    for _ in range(6):
        batch = next(data)
        assert batch["instance"].dtype == batch["label_map"].dtype == np.int32
        for inst, label, image in zip(batch["instance"][..., 0], batch["label_map"][..., 0], batch["image"]):
            i, place = divmod(inst - BASE[inst_format], 1000)
            y, x = divmod(place, W)
            assert (i == i[0, 0]).all()
            flip = bool(x[0, 0] > x[0, -1])
            np.testing.assert_array_equal(x, x[0, 0] + (-1 if flip else 1) * np.arange(8)[None] + 0 * y)
            np.testing.assert_array_equal(y, y[0, 0] + np.arange(8)[:, None] + 0 * x)
            np.testing.assert_array_equal(label, (x + y + i) % 8)
            pixels = np.round((image + 1) * 127.5).astype(int)
            np.testing.assert_array_equal(pixels, np.stack([x * 10, y * 10, 50 * i], -1))
            seen.add((int(i[0, 0]), int(y[0, 0]), int(x.min()), flip))
    assert {s[3] for s in seen} == {False, True} and len({s[1:3] for s in seen}) > 5  # crops vary, flips on
    assert all(0 <= y <= H - 8 and 0 <= x <= W - 8 for _, y, x, _ in seen)
    # The crops and flips are drawn per position: a resumed pipeline reads what the interrupted one would have.
    state = json.loads(json.dumps(data.get_state()))
    reference = next(data)
    resumed = build_input(folder_config(tmp_path), batch_size=3, seed=0)
    resumed.set_state(state)
    batch = next(resumed)
    for key in ("label_map", "instance", "image"):
        np.testing.assert_array_equal(batch[key], reference[key])


def test_folders_resize_ids_with_nearest_and_held_out_is_the_top_left_square(tmp_path):
    write_split(tmp_path, inst_format="tif")
    held = paired.held_out_arrays(folder_config(tmp_path, load_size=27), "train", 2)  # 18x12 -> 27x18
    assert {k: (v.shape, v.dtype) for k, v in held.items()} == {"label_map": ((2, 8, 8, 1), np.int32), "instance": (
        (2, 8, 8, 1), np.int32), "image": ((2, 8, 8, 3), np.float32)}
    for i in range(2):
        def pil(sub, ext, resample):
            return np.asarray(Image.open(tmp_path / f"train_{sub}" / f"{i}.{ext}").resize((27, 18), resample))[:8, :8]

        inst = pil("inst", "tif", Image.NEAREST)
        assert inst.dtype == np.int32 and inst.max() > 2 ** 16  # 32-bit ids, kept exactly
        np.testing.assert_array_equal(held["instance"][i, ..., 0], inst)
        np.testing.assert_array_equal(held["label_map"][i, ..., 0], pil("label", "png", Image.NEAREST))
        np.testing.assert_allclose(held["image"][i], pil("img", "png", Image.BICUBIC) / 127.5 - 1, atol=1e-6)
    with pytest.raises(ValueError, match=r"0.png: 18x12 resized to 9x6 .*smaller than the crop"):
        paired.held_out_arrays(folder_config(tmp_path, load_size=9), "train", 1)


def test_folders_with_label_nc_0_pair_images(tmp_path):
    for sub, value in (("A", 10), ("B", 200)):
        (tmp_path / f"val_{sub}").mkdir()
        for i in range(2):
            Image.fromarray(np.full((H, W, 3), value + i, np.uint8)).save(tmp_path / f"val_{sub}" / f"{i}.jpg")
    cfg = folder_config(tmp_path, split="val", label_nc=0, instance=False, input_channels=1)
    data = build_input(cfg, batch_size=2, seed=0)
    assert (data.input_shape, data.image_shape, data.label_nc, data.has_instance) == ((8, 8, 1), (8, 8, 3), 0, False)
    batch = next(data)
    assert {k: v.shape for k, v in batch.items()} == {"input": (2, 8, 8, 1), "image": (2, 8, 8, 3), "label": (2,)}
    assert batch["input"].dtype == np.float32 and batch["input"].max() < -0.8 < 0.5 < batch["image"].min()
    inputs, targets = paired.held_out(cfg, "val", 2)
    assert inputs.shape == (2, 8, 8, 1) and targets.shape == (2, 8, 8, 3)
    with pytest.raises(ValueError, match="config.data.instance needs label maps"):
        build_input(folder_config(tmp_path, split="val", label_nc=0), batch_size=2, seed=0)


def test_folder_errors_name_the_folders_and_files(tmp_path, caplog):
    write_split(tmp_path, n=3)
    with pytest.raises(FileNotFoundError, match=r"val_label .*is not a directory. pix2pixHD's layout is"):
        build_input(folder_config(tmp_path, split="val"), batch_size=2, seed=0)
    (tmp_path / "train_img" / "2.png").unlink()
    with pytest.raises(ValueError, match=r"different numbers of images: .*train_label: 3, .*train_inst: 3, "
                                         r".*train_img: 2"):
        build_input(folder_config(tmp_path), batch_size=2, seed=0)
    (tmp_path / "train_img" / "2.png").write_bytes(b"not a png")  # unreadable: skipped, counted, named
    data = build_input(folder_config(tmp_path, random_flip=False), batch_size=2, seed=0)
    for _ in range(2):
        next(data)
    assert data.bad_files.unique == 1 and "train_img/2.png" in caplog.text
    label = np.asarray(Image.open(tmp_path / "train_label" / "1.png")).copy()
    label[3, 4] = 9
    Image.fromarray(label).save(tmp_path / "train_label" / "1.png")
    with pytest.raises(ValueError, match=r"train_label/1.png: label id 9 is outside \[0, config.data.label_nc = 8\)"):
        paired.held_out_arrays(folder_config(tmp_path), "train", 2)
    data = build_input(folder_config(tmp_path), batch_size=3, seed=0)
    with pytest.raises(ValueError, match=r"train_label/1.png: label id 9 is outside"):
        next(data)
