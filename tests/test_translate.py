"""python -m jaxgan.translate: the references' PyTorch files translate as the
reference networks (torch modules written after them, tests/test_models_*)
on exactly the arrays the command reads; sides off the stride come back at
their size, equal to the reference on the padded input, cropped; a jaxgan
run's checkpoint translates as its trainer does; pix2pixHD's instance
features (--encode-from, --encode-features, --features); one-line errors."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_models_pix2pix import TorchResnetGenerator, TorchUnetGenerator
from test_models_pix2pixhd import TorchEncoder, TorchGlobalGenerator, torch_get_edges
from torch_parity import randomize

from jaxgan import translate

REPO = Path(__file__).resolve().parents[1]
LABEL_NC, FEAT_NUM = 6, 3


def cli(*args) -> str:
    return translate.run(["jaxgan.translate", *map(str, args)])


def scale(arr: np.ndarray) -> np.ndarray:
    """uint8 -> [-1, 1] as the command reads images."""
    return arr.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)


def save_png(path, arr: np.ndarray) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr[..., 0] if arr.ndim == 3 and arr.shape[-1] == 1 else arr).save(path)
    return arr


def smooth_image(rng, h, w, c=3) -> np.ndarray:
    """uint8 [h, w, c] with structure at several scales (not white noise)."""
    coarse = rng.uniform(0, 255, (h // 4 + 1, w // 4 + 1, c))
    return np.clip(np.kron(coarse, np.ones((4, 4, 1)))[:h, :w] + rng.normal(0, 20, (h, w, c)), 0, 255).astype(
        np.uint8)


def blocks(rng, h, w, values, block=8) -> np.ndarray:
    """[h, w] of `values` in block x block squares."""
    grid = rng.choice(values, (h // block + 1, w // block + 1))
    return np.kron(grid, np.ones((block, block), grid.dtype))[:h, :w]


def load_npz(directory):
    with np.load(directory / translate.NPZ_NAME) as f:
        return f["x"], list(f["names"])


def check(got, want, atol=1e-4):
    assert got.shape == want.shape
    assert np.std(want) > 0.1, "outputs nearly constant: the comparison would show little"
    err = float(np.abs(got - want).max())
    assert err <= atol, err
    return err


def torch_nhwc(module, x_nhwc, *extra):
    with torch.no_grad():
        out = module(torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2))), *extra)
    return out.numpy().transpose(0, 2, 3, 1)


# --------------------------------------------------------------------------
# pix2pix


@pytest.fixture(scope="module")
def unet(tmp_path_factory):
    """A reference unet_32 (5 levels, ngf 8, batch norm) with random weights, its .pth."""
    root = tmp_path_factory.mktemp("unet")
    module = randomize(TorchUnetGenerator(3, 3, 5, 8, "batch", use_dropout=True), 0)
    torch.save(module.state_dict(), root / "latest_net_G.pth")
    return module, root / "latest_net_G.pth"


@pytest.mark.parity
def test_unet_weights_translate_as_the_reference_in_eval_and_train_mode(unet, tmp_path):
    module, weights = unet
    rng = np.random.default_rng(0)
    images = [save_png(tmp_path / "in" / f"{n}.png", smooth_image(rng, 32, 32)) for n in "abc"]
    x = scale(np.stack(images))
    common = ("--weights", weights, "--arch", "unet_32", "--ngf", 8, "--input", tmp_path / "in", "--output-format",
              "npz")
    # Batches of 2 and 1: eval mode's outputs do not depend on the batch.
    cli(*common, "--output", tmp_path / "eval", "--batch-size", 2)
    got, names = load_npz(tmp_path / "eval")
    assert names == ["a.png", "b.png", "c.png"]
    print("unet_32 eval max abs err", check(got, torch_nhwc(module.eval(), x)))
    # Training mode: each image alone with its own BatchNorm statistics (unet_32 has no dropout layer).
    cli(*common, "--output", tmp_path / "train", "--mode", "train", "--batch-size", 3)
    got, _ = load_npz(tmp_path / "train")
    train = copy.deepcopy(module).train()  # its running statistics change; the fixture's stay
    want = np.concatenate([torch_nhwc(train, x[i:i + 1]) for i in range(3)])
    print("unet_32 train max abs err", check(got, want))


@pytest.mark.parity
def test_an_odd_sized_aligned_input_comes_back_at_its_size_as_the_reference_on_the_padded_input(unet, tmp_path):
    module, weights = unet
    rng = np.random.default_rng(1)
    a, b = smooth_image(rng, 40, 36), smooth_image(rng, 40, 36)
    save_png(tmp_path / "in" / "pair.jpg.png", np.concatenate([a, b], axis=1))
    cli("--weights", weights, "--arch", "unet_32", "--ngf", 8, "--input", tmp_path / "in", "--aligned",
        "--direction", "BtoA", "--output", tmp_path / "out", "--output-format", "npz")
    got, _ = load_npz(tmp_path / "out")
    assert got.shape == (1, 40, 36, 3)
    padded = np.pad(scale(b)[None], ((0, 0), (0, 24), (0, 28), (0, 0)), mode="reflect")  # to 64 x 64
    print("unet_32 padded max abs err", check(got, torch_nhwc(module.eval(), padded)[:, :40, :36]))
    # PNG output: named after the input, at its size.
    cli("--weights", weights, "--arch", "unet_32", "--ngf", 8, "--input", tmp_path / "in", "--aligned",
        "--direction", "BtoA", "--output", tmp_path / "png")
    png = np.asarray(Image.open(tmp_path / "png" / "pair.jpg.png"))
    assert png.shape == (40, 36, 3)
    assert np.abs(scale(png) - got[0]).max() <= 1.01 / 255


def test_a_jaxgan_run_translates_as_its_trainer(tmp_path):
    import jax

    from jaxgan import checkpoint, configs
    from jaxgan.trainers import get_trainer

    config = configs.load(f"{REPO}/configs/pix2pix_edges2digits.py:smoke")
    trainer = get_trainer(config)
    # A state of the trainer's structure with G's weights random and O(1) (the init's N(0, 0.02) give outputs
    # near 0; running the init itself takes 15 s on a CPU), the rest zeros.
    abstract = jax.eval_shape(trainer.init_state, jax.random.key(0))
    rng = np.random.default_rng(6)

    def random_leaf(path, a):
        name = str(getattr(path[-1], "key", path[-1]))
        value = {"kernel": lambda: rng.normal(0, 1 / np.sqrt(np.prod(a.shape[:3])), a.shape),
                 "scale": lambda: rng.normal(1, 0.2, a.shape), "var": lambda: rng.uniform(0.5, 1.5, a.shape)}.get(
            name, lambda: rng.normal(0, 0.2, a.shape))()
        return value.astype(a.dtype)

    state = jax.tree_util.tree_map(lambda a: np.zeros(a.shape, a.dtype), abstract)
    state = state.replace(g=jax.tree_util.tree_map_with_path(random_leaf, abstract.g), step=np.int32(3))
    ckpt = checkpoint.Checkpointer(str(tmp_path / "run"), 1, checkpoint.config_to_json(config))
    ckpt.save(3, state, {}, force=True)
    ckpt.close()
    rng = np.random.default_rng(2)
    images = [save_png(tmp_path / "in" / f"{n}.png", smooth_image(rng, 32, 32, 1)) for n in "ab"]
    cli("--workdir", tmp_path / "run", "--input", tmp_path / "in", "--output", tmp_path / "out", "--output-format",
        "npz", "--batch-size", 2)
    got, _ = load_npz(tmp_path / "out")
    want = np.asarray(jax.jit(trainer.translate)(state.g, scale(np.stack(images))))
    assert got.shape == want.shape == (2, 32, 32, 1)
    assert np.std(want) > 0.05
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    with pytest.raises(FileNotFoundError, match="no checkpoint of step 7"):
        cli("--workdir", tmp_path / "run", "--step", 7, "--input", tmp_path / "in", "--output", tmp_path / "o2")


def test_a_cyclegan_run_translates_with_g_a_or_g_b_by_direction(tmp_path):
    import jax

    from jaxgan import checkpoint, configs
    from jaxgan.trainers import get_trainer

    config = configs.load(f"{REPO}/configs/cyclegan_thick_digits.py:smoke")
    trainer = get_trainer(config)
    abstract = jax.eval_shape(trainer.init_state, jax.random.key(0))
    rng = np.random.default_rng(7)
    # Both generators random and O(1), and different, the rest zeros (as above).
    random = lambda a: (rng.normal(0, 1 / np.sqrt(np.prod(a.shape[:3])), a.shape) if a.ndim == 4
                        else rng.normal(0, 0.2, a.shape)).astype(a.dtype)
    state = jax.tree_util.tree_map(lambda a: np.zeros(a.shape, a.dtype), abstract)
    state = state.replace(g_a=jax.tree_util.tree_map(random, abstract.g_a),
                          g_b=jax.tree_util.tree_map(random, abstract.g_b), step=np.int32(2))
    ckpt = checkpoint.Checkpointer(str(tmp_path / "run"), 1, checkpoint.config_to_json(config))
    ckpt.save(2, state, {}, force=True)
    ckpt.close()
    images = scale(np.stack([save_png(tmp_path / "in" / f"{n}.png", smooth_image(rng, 32, 32, 1)) for n in "ab"]))
    for direction, g in (("AtoB", state.g_a), ("BtoA", state.g_b)):
        out = tmp_path / direction
        cli("--workdir", tmp_path / "run", "--direction", direction, "--input", tmp_path / "in", "--output", out,
            "--output-format", "npz", "--batch-size", 2)
        want = np.asarray(jax.jit(trainer.translate, static_argnums=2)(g, images, direction))
        assert np.std(want) > 0.05
        np.testing.assert_allclose(load_npz(out)[0], want, atol=1e-5, rtol=0)


# --------------------------------------------------------------------------
# pix2pixHD


def one_hot_nhwc(labels: np.ndarray) -> np.ndarray:
    t = torch.from_numpy(labels.astype(np.int64).transpose(0, 3, 1, 2))
    return torch.zeros(len(labels), LABEL_NC, *labels.shape[1:3]).scatter_(1, t, 1.0).numpy().transpose(0, 2, 3, 1)


def edges_nhwc(inst: np.ndarray) -> np.ndarray:
    return torch_get_edges(torch.from_numpy(inst.astype(np.int64).transpose(0, 3, 1, 2))).numpy().transpose(
        0, 2, 3, 1)


def write_maps(root, rng, sizes, names="abc"):
    """Label maps (8-bit) and instance maps (16-bit, Cityscapes-style ids:
    class * 1000 + n for things, the class for stuff) under root/label and
    root/inst; ([H, W, 1] labels, [H, W, 1] instances) per map."""
    out = []
    for name, (h, w) in zip(names, sizes):
        inst = blocks(rng, h, w, np.array([1, 2, 3001, 3002, 4001, 4002, 4003, 5001]))
        labels = np.where(inst < 1000, inst, inst // 1000).astype(np.uint8)
        save_png(root / "label" / f"{name}.png", labels)
        save_png(root / "inst" / f"{name}.png", inst.astype(np.uint16))
        out.append((labels[..., None].astype(np.int64), inst[..., None].astype(np.int64)))
    return out


@pytest.fixture(scope="module")
def hd_global(tmp_path_factory):
    """A reference global G (ngf 8, 2 downsamplings, 1 block) on LABEL_NC labels + edges, its .pth."""
    root = tmp_path_factory.mktemp("hd")
    module = randomize(TorchGlobalGenerator(LABEL_NC + 1, 3, 8, 2, 1, "instance"), 1).eval()
    torch.save(module.state_dict(), root / "latest_net_G.pth")
    flags = ("--weights", root / "latest_net_G.pth", "--arch", "pix2pixhd_global", "--ngf", 8, "--label_nc", LABEL_NC,
             "--n_downsample_global", 2, "--n_blocks_global", 1)
    return module, flags


@pytest.mark.parity
def test_pix2pixhd_global_weights_translate_label_and_instance_maps_as_the_reference(hd_global, tmp_path):
    module, flags = hd_global
    maps = write_maps(tmp_path, np.random.default_rng(3), [(32, 32), (32, 32), (30, 34)])

    def reference(labels, inst):
        x = np.concatenate([one_hot_nhwc(labels[None]), edges_nhwc(inst[None])], axis=-1)
        return torch_nhwc(module, x)[0]

    # The two 32 x 32 maps exactly (npz), in one batch.
    (tmp_path / "two").mkdir()
    for sub in ("label", "inst"):
        (tmp_path / "two" / sub).mkdir()
        for name in "ab":
            (tmp_path / "two" / sub / f"{name}.png").write_bytes((tmp_path / sub / f"{name}.png").read_bytes())
    cli(*flags, "--input", tmp_path / "two" / "label", "--instance", tmp_path / "two" / "inst", "--output",
        tmp_path / "npz", "--output-format", "npz", "--batch-size", 2)
    got, _ = load_npz(tmp_path / "npz")
    print("pix2pixhd_global max abs err", check(got, np.stack([reference(*m) for m in maps[:2]])))
    # All three as PNGs: the 30 x 34 one padded (edges repeated) to 32 x 36 and cropped back.
    cli(*flags, "--input", tmp_path / "label", "--instance", tmp_path / "inst", "--output", tmp_path / "png",
        "--batch-size", 2)
    for name, (labels, inst) in zip("abc", maps):
        png = np.asarray(Image.open(tmp_path / "png" / f"{name}.png"))
        h, w = labels.shape[:2]
        pad = ((0, -h % 4), (0, -w % 4), (0, 0))
        want = reference(np.pad(labels, pad, mode="edge"), np.pad(inst, pad, mode="edge"))[:h, :w]
        assert png.shape == (h, w, 3)
        assert np.abs(scale(png) - want).max() <= 1.01 / 255


@pytest.fixture(scope="module")
def hd_feat(tmp_path_factory):
    """A reference global G reading LABEL_NC labels, edges and FEAT_NUM
    instance features, and its encoder (nef 4, 2 downsamplings)."""
    root = tmp_path_factory.mktemp("hd_feat")
    g = randomize(TorchGlobalGenerator(LABEL_NC + 1 + FEAT_NUM, 3, 8, 2, 1, "instance"), 2).eval()
    e = randomize(TorchEncoder(3, FEAT_NUM, 4, 2, "instance"), 3).eval()
    torch.save(g.state_dict(), root / "G.pth")
    torch.save(e.state_dict(), root / "E.pth")
    flags = ("--weights", root / "G.pth", "--encoder_weights", root / "E.pth", "--arch", "pix2pixhd_global",
             "--ngf", 8, "--label_nc", LABEL_NC, "--n_downsample_global", 2, "--n_blocks_global", 1,
             "--instance_feat", "--feat_num", FEAT_NUM, "--nef", 4, "--n_downsample_E", 2)
    rng = np.random.default_rng(4)
    maps = write_maps(root, rng, [(32, 32)] * 3)
    images = [save_png(root / "img" / f"{n}.png", smooth_image(rng, 32, 32)) for n in "abc"]
    return g, e, flags, root, maps, images


@pytest.mark.parity
def test_encoded_instance_features_translate_as_the_reference(hd_feat, tmp_path):
    g, e, flags, root, maps, images = hd_feat
    cli(*flags, "--input", root / "label", "--instance", root / "inst", "--encode-from", root / "img", "--output",
        tmp_path, "--output-format", "npz")
    got, _ = load_npz(tmp_path)
    labels, inst = (np.stack(m) for m in zip(*maps))
    feat = torch_nhwc(e, scale(np.stack(images)), torch.from_numpy(inst.transpose(0, 3, 1, 2)).float())
    x = np.concatenate([one_hot_nhwc(labels), edges_nhwc(inst), feat], axis=-1)
    print("pix2pixhd encoded features max abs err", check(got, torch_nhwc(g, x)))


def test_feature_clusters_per_class_and_seeded_draws(hd_feat, tmp_path):
    _, _, flags, root, _, _ = hd_feat
    clusters = tmp_path / "clusters.npz"
    cli(*flags, "--encode-features", "--input", root / "img", "--instance", root / "inst", "--output", clusters,
        "--n_clusters", 2)
    with np.load(clusters) as f:
        centres = {k: f[k] for k in f.files if k.startswith("class_") and k != "class_rule"}
        assert str(f["class_rule"]) == "instance_ids" and int(f["feat_num"]) == FEAT_NUM
    # Classes 1..5 of the maps (4 has three instances an image, more than 2 clusters).
    assert sorted(centres) == [f"class_{c}" for c in (1, 2, 3, 4, 5)]
    assert all(v.shape[1] == FEAT_NUM and 1 <= len(v) <= 2 for v in centres.values())
    assert len(centres["class_4"]) == 2
    # With --labels an instance's class is its label: here the same classes, the same vectors.
    cli(*flags, "--encode-features", "--input", root / "img", "--instance", root / "inst", "--labels",
        root / "label", "--output", tmp_path / "by_labels.npz", "--n_clusters", 2)
    with np.load(tmp_path / "by_labels.npz") as f:
        assert str(f["class_rule"]) == "labels"
        for k, v in centres.items():
            np.testing.assert_allclose(f[k], v, atol=1e-6)

    def draw(seed, out):
        cli(*flags, "--input", root / "label", "--instance", root / "inst", "--features", clusters, "--seed", seed,
            "--output", tmp_path / out, "--output-format", "npz")
        return load_npz(tmp_path / out)[0]

    first, again, other = draw(1, "s1"), draw(1, "s1b"), draw(2, "s2")
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


def test_kmeans_finds_separated_clusters_deterministically():
    rng = np.random.default_rng(0)
    means = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    x = np.concatenate([m + 0.1 * rng.standard_normal((30, 2)) for m in means])
    got = translate.kmeans(x, 3, seed=0)
    np.testing.assert_allclose(got[np.lexsort(got.T[::-1])], means[np.lexsort(means.T[::-1])], atol=0.1)
    np.testing.assert_array_equal(got, translate.kmeans(x, 3, seed=0))


# --------------------------------------------------------------------------
# Errors


def test_errors_are_one_line_and_name_the_file_or_flag(unet, hd_global, tmp_path, capsys):
    _, weights = unet
    _, flags = hd_global
    rng = np.random.default_rng(5)
    write_maps(tmp_path, rng, [(32, 32)])
    labels = np.asarray(Image.open(tmp_path / "label" / "a.png")).copy()
    labels[3, 4] = LABEL_NC + 3
    save_png(tmp_path / "bad" / "label" / "a.png", labels)
    with pytest.raises(ValueError, match=r"bad/label/a\.png: label id 9 is outside \[0, label_nc = 6\)"):
        cli(*flags, "--input", tmp_path / "bad" / "label", "--instance", tmp_path / "inst", "--output", tmp_path / "o")
    with pytest.raises(ValueError, match="pass --instance DIR"):
        cli(*flags, "--input", tmp_path / "label", "--output", tmp_path / "o")
    save_png(tmp_path / "inst2" / "b.png", np.zeros((32, 32), np.uint16))
    save_png(tmp_path / "inst2" / "c.png", np.zeros((32, 32), np.uint16))
    with pytest.raises(ValueError, match="--input has 1 images and --instance .* has 2"):
        cli(*flags, "--input", tmp_path / "label", "--instance", tmp_path / "inst2", "--output", tmp_path / "o")
    for args, hint in [(("--arch", "resnet_6blocks"), "check --arch"), (("--arch", "unet_32", "--ngf", 16), "--ngf"),
                       (("--arch", "unet_32", "--ngf", 8, "--input_nc", 1), "--input_nc"),
                       (("--arch", "unet_32", "--ngf", 8, "--norm", "instance"), "--norm")]:
        with pytest.raises(ValueError, match=hint) as e:
            cli("--weights", weights, *args, "--input", tmp_path / "label", "--output", tmp_path / "o")
        assert str(weights) in str(e.value) and "\n" not in str(e.value)
    # A ResNet G without dropout (CycleGAN's) read as one with: its block layers' names differ.
    resnet = tmp_path / "resnet.pth"
    torch.save(TorchResnetGenerator(3, 3, 4, "instance", False, 6).state_dict(), resnet)
    with pytest.raises(ValueError, match=r"check --no_dropout \(the file's G has no dropout layers\)"):
        cli("--weights", resnet, "--arch", "resnet_6blocks", "--ngf", 4, "--norm", "instance", "--input",
            tmp_path / "label", "--output", tmp_path / "o")
    hd = list(flags)
    hd[hd.index("--label_nc") + 1] = str(LABEL_NC + 1)
    with pytest.raises(ValueError, match=r"--label_nc.*reads 7 channels, these flags give 8"):
        cli(*hd, "--input", tmp_path / "label", "--instance", tmp_path / "inst", "--output", tmp_path / "o")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"junk/x\.png"):
        cli("--weights", weights, "--arch", "unet_32", "--ngf", 8, "--input", tmp_path / "junk", "--output",
            tmp_path / "o")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    # The command line: flag misuse exits 2, the rest 1, each with one line.
    main = lambda *args: translate.main(["jaxgan.translate", *map(str, args)])
    assert main("--weights", weights, "--input", "x", "--output", "y") == 2
    assert main("--weights", weights, "--arch", "unet_32", "--ngf", 8, "--input", tmp_path / "nowhere", "--output",
                "y") == 1
    assert main("--bogus") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err), err
    assert "--arch" in err[0] and "nowhere" in err[1] and "bogus" in err[2]


def test_help_names_the_sources_and_flags(capsys):
    assert translate.main(["jaxgan.translate", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--workdir", "--weights", "--arch", "--input", "--instance", "--encode-features", "--output-format",
                 "--mode", "--load-size"):
        assert flag in out
