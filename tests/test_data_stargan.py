"""StarGAN's data (jaxgan.data.stroke_digits, celeba_attrs, domain_folders
and the synthetic attribute / domain labels): the quickstart's split,
transforms and batches; the reference's CelebA split and transform, checked
against a re-implementation of its preprocess and against torchvision on the
same images; the malformed-file errors; domain folders."""

import random

import ml_collections
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from jaxgan.data import build_input, celeba_attrs, domain_folders, edges2digits, mnist5k, stroke_digits
from jaxgan.data.stroke_digits import ATTRIBUTES, DOMAINS
from jaxgan.data.thick_digits import thicken

# ----------------------------------------------------------- stroke_digits


def stroke_config(**kw):
    c = ml_collections.ConfigDict(dict(source="stroke_digits", attributes=ATTRIBUTES, exclusive=("Thick", "Thin"),
                                       image_size=32, channels=1, num_workers=0, split="train", random_flip=None))
    c.update(kw)
    return c


def test_stroke_digits_split_is_edges2digits_and_balanced_one_domain_per_digit():
    s = stroke_digits.split_indices()
    classes = np.asarray(mnist5k.load_arrays()[1])
    assert len(s["train"]) == 4500 and len(s["test"]) == 500
    np.testing.assert_array_equal(s["test"], edges2digits.split_indices()["test"])
    assert not set(s["train"]) & set(s["test"]) and len(set(s["train"]) | set(s["test"])) == 5000
    # Training: each digit in one domain, 75 of each class per domain.
    counts = np.zeros((6, 10), int)
    np.add.at(counts, (s["train_domain"], classes[s["train"]]), 1)
    assert (counts == 75).all()
    counts = np.zeros((6, 10), int)
    np.add.at(counts, (s["test_domain"], classes[s["test"]]), 1)
    assert counts.min() >= 8 and counts.max() <= 9 and set(counts.sum(1)) <= {82, 83, 84}
    np.testing.assert_array_equal(s["test_domain"][:6], np.arange(6))  # a grid's first rows show every domain
    # The training batches hold exactly those digits in those domains.
    digits, rendered, labels = stroke_digits.source_images("train")
    np.testing.assert_array_equal(labels, DOMAINS[s["train_domain"]])
    np.testing.assert_array_equal(rendered, stroke_digits.render_uint8(digits, labels))


def _naive_zhang_suen_step(mask):
    """One Zhang-Suen iteration of one bool image, pixel by pixel (the paper's statement)."""
    for first in (True, False):
        p = np.pad(mask, 1).astype(int)
        remove = np.zeros_like(mask)
        for y in range(mask.shape[0]):
            for x in range(mask.shape[1]):
                if not p[y + 1, x + 1]:
                    continue
                n = [p[y, x + 1], p[y, x + 2], p[y + 1, x + 2], p[y + 2, x + 2], p[y + 2, x + 1], p[y + 2, x],
                     p[y + 1, x], p[y, x]]  # P2 (north) .. P9 (north-west), clockwise
                a = sum(n[i] == 0 and n[(i + 1) % 8] == 1 for i in range(8))
                p2, _, p4, _, p6, _, p8, _ = n
                side = (p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0) if first else (p2 * p4 * p8 == 0 and
                                                                               p2 * p6 * p8 == 0)
                remove[y, x] = 2 <= sum(n) <= 6 and a == 1 and side
        mask = mask & ~remove
    return mask


def test_stroke_transforms_thick_thin_slanted_and_their_composition():
    digits = stroke_digits.normal_digits()[stroke_digits.split_indices()["test"]]
    ink = lambda u: u.astype(np.float64).sum((1, 2))
    thick, thin = thicken(digits), stroke_digits.thin(digits)
    assert (ink(thick) > ink(digits)).all() and (ink(thin) < 0.8 * ink(digits)).all() and (thin <= digits).all()
    assert 0.35 < ink(thin).sum() / ink(digits).sum() < 0.55  # clearly thinner (module docstring: 0.445)
    for i in range(4):
        np.testing.assert_array_equal(stroke_digits.zhang_suen(digits[i:i + 1] > 64)[0],
                                      _naive_zhang_suen_step(digits[i] > 64))
    eight = np.ones((3, 3), bool)
    pieces = lambda m: np.array([ndimage.label(x, eight)[1] for x in m])
    assert (pieces(digits > 64) != pieces(thin > 0)).sum() <= 2  # the thinning keeps strokes connected
    # Slant: each row's centre of ink moves right by 0.3 px per row above the centre, ink kept.
    slanted = stroke_digits.slant(digits)
    assert np.abs(ink(slanted) / ink(digits) - 1).max() < 0.01
    cols = np.arange(32)
    for d, s in zip(digits[:20], slanted[:20]):
        rows = np.flatnonzero(d.astype(float).sum(1) > 500)
        moved = [(s[y] * cols).sum() / s[y].sum() - (d[y] * cols).sum() / d[y].sum() for y in rows]
        np.testing.assert_allclose(moved, 0.3 * (15.5 - rows), atol=0.1)
    # render: width first, then slant, per label; scaled to [-1, 1].
    got = stroke_digits.render_uint8(digits[:6], DOMAINS)  # digit i in domain i
    want = [digits[0], slanted[1], thick[2], stroke_digits.slant(thick[3:4])[0], thin[4],
            stroke_digits.slant(thin[5:6])[0]]
    for i in range(6):
        np.testing.assert_array_equal(got[i], want[i])
    out = stroke_digits.render(digits[:6], DOMAINS, channels=3)
    assert out.shape == (6, 32, 32, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 1], got * np.float32(2 / 255) - 1)
    np.testing.assert_array_equal(stroke_digits.domain_index(DOMAINS), np.arange(6))
    with pytest.raises(ValueError, match="both Thick and Thin"):
        stroke_digits.render(digits[:1], np.array([[1, 1, 0]], np.float32))


def test_stroke_digits_batches_resume_exactly_and_held_out_renders_truths():
    digits, rendered, labels = stroke_digits.source_images("train")
    lookup = {r.tobytes(): i for i, r in enumerate(rendered)}
    pipe = build_input(stroke_config(channels=3), batch_size=8, seed=3)
    assert pipe.image_shape == (32, 32, 3) and pipe.num_classes is None
    assert pipe.attribute_names == ATTRIBUTES and pipe.label_kind == "attributes"
    batches = [next(pipe) for _ in range(3)]
    state = pipe.get_state()
    rest = [next(pipe) for _ in range(2)]
    for b in batches + rest:
        assert b["image"].dtype == np.float32 and b["image"].shape == (8, 32, 32, 3)
        assert b["label"].dtype == np.float32 and b["label"].shape == (8, 3)
        grey = np.rint((b["image"][..., 0] + 1) * 127.5).astype(np.uint8)
        index = [lookup[g.tobytes()] for g in grey]
        np.testing.assert_array_equal(b["label"], labels[index])
    again = build_input(stroke_config(channels=3), batch_size=8, seed=3)
    again.set_state(state)
    for want in rest:
        got = next(again)
        np.testing.assert_array_equal(got["image"], want["image"])
        np.testing.assert_array_equal(got["label"], want["label"])
    other = next(build_input(stroke_config(channels=3), batch_size=8, seed=4))
    assert not np.array_equal(other["image"], batches[0]["image"])

    held = stroke_digits.held_out(stroke_config(), "test", 10)
    assert held["image"].shape == (10, 32, 32, 1) and held["label"].shape == (10, 3) and held["digit"].shape == (
        10, 32, 32)
    np.testing.assert_array_equal(held["image"], stroke_digits.render(held["digit"], held["label"]))
    np.testing.assert_array_equal(held["digit"], stroke_digits.normal_digits()[edges2digits.split_indices()[
        "test"][:10]])


@pytest.mark.parametrize("field, value, match", [
    ("random_flip", True, "mirrored"), ("attributes", ("Thin", "Thick", "Slanted"), "in this order"),
    ("exclusive", ("Black_Hair", "Blond_Hair"), "exclusive"), ("image_size", 64, "image_size"),
    ("split", "val", "split"), ("channels", 2, "channels")])
def test_stroke_digits_refuses_bad_fields(field, value, match):
    with pytest.raises(ValueError, match=match):
        build_input(stroke_config(**{field: value}), batch_size=2, seed=0)


def test_synthetic_attribute_and_domain_labels_resume_exactly():
    base = dict(source="synthetic", image_size=8, channels=3, num_classes=0)
    attrs = build_input(ml_collections.ConfigDict(dict(base, attributes=("A", "B", "C"))), batch_size=64, seed=1)
    b = next(attrs)
    assert attrs.label_kind == "attributes" and attrs.attribute_names == ("A", "B", "C")
    assert b["label"].dtype == np.float32 and b["label"].shape == (64, 3) and set(np.unique(b["label"])) == {0, 1}
    assert b["image"].shape == (64, 8, 8, 3)
    doms = build_input(ml_collections.ConfigDict(dict(base, attributes=(), domains=("x", "y", "z", "w"))),
                       batch_size=64, seed=1)
    next(doms)
    state = doms.get_state()
    b = next(doms)
    assert doms.label_kind == "domains" and b["label"].dtype == np.int32 and set(np.unique(b["label"])) == set(
        range(4))
    again = build_input(ml_collections.ConfigDict(dict(base, domains=("x", "y", "z", "w"))), batch_size=64, seed=1)
    again.set_state(state)
    np.testing.assert_array_equal(next(again)["image"], b["image"])


# ------------------------------------------------------------ celeba_attrs

NAMES = ("5_o_Clock_Shadow", "Black_Hair", "Blond_Hair", "Male", "Young")
NUM_LINES = 2010  # 1999 test, 11 train


def write_attr_file(path, num=NUM_LINES, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.choice(["1", "-1"], (num, len(NAMES)))
    lines = [str(num), " ".join(NAMES)] + [f"{i + 1:06d}.jpg " + "  ".join(v) for i, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    return lines


def reference_split(path, selected):
    """The reference's CelebA.preprocess (yunjey/stargan, data_loader.py), rewritten."""
    lines = [line.rstrip() for line in open(path, "r")]
    attr2idx = {name: i for i, name in enumerate(lines[1].split())}
    lines = lines[2:]
    saved = random.getstate()
    try:
        random.seed(1234)
        random.shuffle(lines)
    finally:
        random.setstate(saved)
    train, test = [], []
    for i, line in enumerate(lines):
        split = line.split()
        label = [split[1:][attr2idx[a]] == "1" for a in selected]
        (test if (i + 1) < 2000 else train).append([split[0], label])
    return train, test


def celeba_config(tmp_path, **kw):
    c = ml_collections.ConfigDict(dict(source="celeba_attrs", attr_file=str(tmp_path / "list_attr_celeba.txt"),
                                       folder=str(tmp_path / "images"), attributes=("Male", "Black_Hair"),
                                       split="train", image_size=16, crop_size=30, channels=3, random_flip=None,
                                       num_workers=0))
    c.update(kw)
    return c


def write_images(folder, names, size=(36, 44)):
    """Solid-colour images (R, G = the file's number mod 256, div 256; PNG content under the .jpg names:
    exact colours), so a batch's image names its file."""
    folder.mkdir(exist_ok=True)
    for name in names:
        n = int(name.split(".")[0])
        Image.new("RGB", size, (n % 256, n // 256, 200)).save(folder / name, format="PNG")


def file_number(image):
    r, g = (int(np.rint((image[..., k].mean() + 1) * 127.5)) for k in (0, 1))
    return r + 256 * g


def test_celeba_split_equals_the_references_and_batches_carry_its_labels(tmp_path):
    write_attr_file(tmp_path / "list_attr_celeba.txt")
    selected = ("Male", "Black_Hair")
    train, test = reference_split(tmp_path / "list_attr_celeba.txt", selected)
    assert len(test) == 1999 and len(train) == NUM_LINES - 1999
    for split, want in (("train", train), ("test", test)):
        names, labels = celeba_attrs.split_records(str(tmp_path / "list_attr_celeba.txt"), selected, split)
        assert names == [w[0] for w in want]
        np.testing.assert_array_equal(labels, np.array([w[1] for w in want], np.int32))
    write_images(tmp_path / "images", [w[0] for w in train] + [w[0] for w in test[:3]])
    pipe = build_input(celeba_config(tmp_path), batch_size=4, seed=0)
    assert pipe.attribute_names == selected and pipe.label_kind == "attributes" and pipe.image_shape == (16, 16, 3)
    by_number = {int(w[0].split(".")[0]): w[1] for w in train}
    seen = set()
    for _ in range(6):
        b = next(pipe)
        assert b["label"].dtype == np.float32 and b["label"].shape == (4, 2)
        for image, label in zip(b["image"], b["label"]):
            np.testing.assert_array_equal(label, np.array(by_number[file_number(image)], np.float32))
            seen.add(file_number(image))
    assert seen == set(by_number)
    held = celeba_attrs.held_out(celeba_config(tmp_path), "test", 3)
    np.testing.assert_array_equal(held["label"], np.array([w[1] for w in test[:3]], np.float32))


@pytest.mark.parametrize("size, crop", [((36, 44), 30), ((35, 41), 30), ((20, 24), 30), ((36, 44), 0)])
def test_celeba_transform_equals_torchvisions(tmp_path, size, crop):
    from torchvision import transforms as T

    rng = np.random.default_rng(0)
    path = tmp_path / "x.jpg"
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    for flip in (False, True):
        steps = ([T.RandomHorizontalFlip(p=1.0)] if flip else []) + ([T.CenterCrop(crop)] if crop else []) + [
            T.Resize(16), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)]
        want = T.Compose(steps)(Image.open(path)).numpy().transpose(1, 2, 0)
        got = celeba_attrs.transform(Image.open(path), channels=3, crop_size=crop, image_size=16, flip=flip)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("edit, match", [
    ("missing", "is not a file"),
    ("header", r"list_attr_celeba.txt:2: no attribute 'Male'.*close matches: \['Males'\]"),
    ("fields", r"list_attr_celeba.txt:7: 5 fields, expected a filename and 5 values"),
    ("value", r"list_attr_celeba.txt:9: 000007.jpg: attribute Black_Hair has value '0'"),
    ("duplicate", r"list_attr_celeba.txt:12: 000003.jpg is listed again \(first on line 5\)"),
    ("folder", "the CelebA images.*not a directory"),
])
def test_celeba_malformed_files_are_named_with_their_line(tmp_path, edit, match):
    lines = write_attr_file(tmp_path / "list_attr_celeba.txt", num=12)
    (tmp_path / "images").mkdir()
    if edit == "missing":
        (tmp_path / "list_attr_celeba.txt").unlink()
    elif edit == "header":
        lines[1] = lines[1].replace("Male", "Males")
    elif edit == "fields":
        lines[6] = lines[6].rsplit(" ", 1)[0]
    elif edit == "value":
        fields = lines[8].split()
        fields[2] = "0"
        lines[8] = " ".join(fields)
    elif edit == "duplicate":
        lines[11] = lines[4]
    elif edit == "folder":
        (tmp_path / "images").rmdir()
    if edit != "missing":
        (tmp_path / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n\n")
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        build_input(celeba_config(tmp_path, split="test"), batch_size=2, seed=0)


def test_celeba_skips_unreadable_images(tmp_path):
    write_attr_file(tmp_path / "list_attr_celeba.txt")
    train, _ = reference_split(tmp_path / "list_attr_celeba.txt", ("Male", "Black_Hair"))
    write_images(tmp_path / "images", [w[0] for w in train[1:]])  # the first is missing
    (tmp_path / "images" / train[2][0]).write_bytes(b"not a jpeg")
    pipe = build_input(celeba_config(tmp_path, random_flip=False), batch_size=3, seed=0)
    for _ in range(8):
        next(pipe)
    assert pipe.bad_files.unique == 2


# ---------------------------------------------------------- domain_folders


def write_domains(root, counts):
    for d, (name, n) in enumerate(counts.items()):
        (root / name).mkdir(parents=True)
        for k in range(n):
            Image.new("L", (20, 20), 40 * d + k).save(root / name / f"{k}.png")


def domain_config(folder, **kw):
    c = ml_collections.ConfigDict(dict(source="domain_folders", folder=str(folder), split="train", image_size=8,
                                       crop_size=16, channels=1, random_flip=None, num_workers=0, domains=()))
    c.update(kw)
    return c


def test_domain_folders_label_by_sorted_or_given_domains(tmp_path):
    write_domains(tmp_path / "train", {"b_sad": 3, "a_happy": 2, "c_neutral": 2})
    pipe = build_input(domain_config(tmp_path), batch_size=7, seed=0)
    assert pipe.attribute_names == ("a_happy", "b_sad", "c_neutral") and pipe.label_kind == "domains"
    b = next(pipe)
    assert b["label"].dtype == np.int32 and b["image"].shape == (7, 8, 8, 1)
    # write_domains' order was b, a, c: grey 40 * (that index) + k.
    written = {0: 1, 1: 0, 2: 2}
    grey = np.rint((b["image"][:, 0, 0, 0] + 1) * 127.5).astype(int)
    np.testing.assert_array_equal(grey // 40, [written[int(label)] for label in b["label"]])
    # data.domains selects and orders; the domains of a folder without <split> are its own subfolders.
    pipe = build_input(domain_config(tmp_path / "train", domains=("c_neutral", "b_sad")), batch_size=5, seed=0)
    b = next(pipe)
    assert pipe.attribute_names == ("c_neutral", "b_sad") and sorted(b["label"]) == [0, 0, 1, 1, 1]
    held = domain_folders.held_out(domain_config(tmp_path), "train", 5)
    np.testing.assert_array_equal(held["label"], [0, 1, 2, 0, 1])
    with pytest.raises(FileNotFoundError, match="no 'test' domain folders"):
        domain_folders.held_out(domain_config(tmp_path), "test", 5)


def test_domain_folders_errors_name_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        build_input(domain_config(tmp_path / "nowhere"), batch_size=2, seed=0)
    (tmp_path / "flat").mkdir()
    Image.new("L", (4, 4)).save(tmp_path / "flat" / "x.png")
    with pytest.raises(FileNotFoundError, match="has no domain folders"):
        build_input(domain_config(tmp_path / "flat"), batch_size=2, seed=0)
    write_domains(tmp_path / "data", {"a": 2, "b": 0})
    with pytest.raises(FileNotFoundError, match="b holds no images"):
        build_input(domain_config(tmp_path / "data"), batch_size=2, seed=0)
    with pytest.raises(FileNotFoundError, match=r"config.data.domains names \['c'\]"):
        build_input(domain_config(tmp_path / "data", domains=("a", "c")), batch_size=2, seed=0)
