"""python -m jaxgan.translate with StarGAN (yunjey/stargan): the reference's
{iters}-G.ckpt (legacy and zip torch.save formats, read without torch)
translates as the reference's Generator (a torch module written after its
model.py below, state-dict names as the reference's) in training mode, as the
reference's test runs it, on the inputs as its test loader reads them
(torchvision's CenterCrop, Resize, ToTensor, Normalize), to the reference's
create_labels targets (re-implemented below as its solver does) or one
--target; a jaxgan stargan run translates as its trainer; one-line errors."""

import copy

import jax
import numpy as np
import pytest
import torch
from PIL import Image

from torch_stargan import Generator as TorchGenerator
from torch_stargan import create_labels as reference_create_labels
from torch_stargan import randomize

from jaxgan import translate
from jaxgan.models import stargan
from jaxgan.state import count_params

ATTRS = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
CONV_DIM, REPEAT = 8, 2
SIZE_FLAGS = ("--g_conv_dim", CONV_DIM, "--g_repeat_num", REPEAT, "--crop_size", 36, "--image_size", 32)


# --------------------------------------------------------------------------
# The reference's test (solver.py's test; its networks: tests/torch_stargan.py), in torch


def reference_inputs(paths, crop, size):
    """The reference's test transform: CenterCrop, Resize, ToTensor, Normalize(0.5, 0.5)."""
    import torchvision.transforms as T

    transform = T.Compose([T.CenterCrop(crop), T.Resize(size), T.ToTensor(),
                           T.Normalize(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))])
    return torch.stack([transform(Image.open(p)) for p in paths])


def torch_g(module, x, c):
    """The reference's G in training mode (its test never calls eval()), on a
    copy (training mode updates the running statistics)."""
    with torch.no_grad():
        return copy.deepcopy(module).train()(x, c).numpy().transpose(0, 2, 3, 1)


def nhwc(t):
    return t.numpy().transpose(0, 2, 3, 1)


# --------------------------------------------------------------------------
# Helpers


def cli(*args) -> str:
    return translate.run(["jaxgan.translate", *map(str, args)])


def load_npz(directory):
    with np.load(directory / translate.NPZ_NAME) as f:
        return {k: f[k] for k in f.files}


def check(got, want, atol=1e-4):
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.std(want) > 0.1, "outputs nearly constant: the comparison would show little"
    err = float(np.abs(got - want).max())
    assert err <= atol, err
    return err


def smooth_image(rng, h, w) -> np.ndarray:
    coarse = rng.uniform(0, 255, (h // 4 + 1, w // 4 + 1, 3))
    return np.clip(np.kron(coarse, np.ones((4, 4, 1)))[:h, :w] + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(
        np.uint8)


def write_attr_file(path, rows: dict[str, dict[str, int]], names):
    """list_attr_celeba.txt's format: the count, the names, `file v1 .. vK` (1 / -1)."""
    lines = [str(len(rows)), " ".join(names) + " "]
    lines += [f"{f} " + " ".join(f"{v[n]:2d}" for n in names) for f, v in rows.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


FILE_ATTRS = ["5_o_Clock_Shadow", "Young", "Black_Hair", "Bald", "Male", "Gray_Hair", "Brown_Hair", "Blond_Hair"]


@pytest.fixture(scope="module")
def celeba(tmp_path_factory):
    """A reference G (conv_dim 8, c_dim 5, 2 blocks) with random weights,
    saved as the 2018 models are (legacy format) and in the zip format;
    three 44x40 inputs (PNGs named as CelebA's JPEGs, 000001.png ...) and
    their attribute file (more attributes than the model's, in another order)."""
    root = tmp_path_factory.mktemp("stargan")
    module = randomize(TorchGenerator(CONV_DIM, 5, REPEAT), 0)
    sd = module.state_dict()
    assert "main.1.running_mean" in sd and "main.9.main.0.weight" in sd and "main.9.main.4.running_var" in sd
    torch.save(sd, root / "legacy-G.ckpt", _use_new_zipfile_serialization=False)
    torch.save(sd, root / "zip-G.ckpt")
    rng = np.random.default_rng(0)
    paths = []
    for n in range(1, 4):
        paths.append(root / "in" / f"{n:06d}.png")
        paths[-1].parent.mkdir(exist_ok=True)
        Image.fromarray(smooth_image(rng, 44, 40)).save(paths[-1])
    rows = {"000001.jpg": dict(Black_Hair=1, Male=1, Young=1), "000002.jpg": dict(Blond_Hair=1, Young=1),
            "000003.jpg": dict(Brown_Hair=1, Gray_Hair=1, Male=1), "000004.jpg": dict(Bald=1)}
    rows = {f: {n: v.get(n, -1) for n in FILE_ATTRS} for f, v in rows.items()}
    attr_file = write_attr_file(root / "list_attr_celeba.txt", rows, FILE_ATTRS)
    labels = np.array([[rows[f"{n:06d}.jpg"][a] == 1 for a in ATTRS] for n in range(1, 4)], np.float32)
    return module, root, paths, attr_file, labels


# --------------------------------------------------------------------------
# Reference weights


@pytest.mark.parity
def test_the_grid_translates_as_the_references_test_from_a_legacy_checkpoint(celeba, tmp_path):
    module, root, paths, attr_file, labels = celeba
    cli("--weights", root / "legacy-G.ckpt", "--arch", "stargan", *SIZE_FLAGS, "--labels", attr_file, "--input",
        root / "in", "--output", tmp_path / "npz", "--output-format", "npz", "--batch-size", 2)
    got = load_npz(tmp_path / "npz")
    x = reference_inputs(paths, 36, 32)
    np.testing.assert_allclose(got["input"], nhwc(x), atol=1e-6, rtol=0)  # the reference's preprocessing
    c_org = torch.from_numpy(labels)
    targets = reference_create_labels(c_org, 5, "CelebA", ATTRS)
    np.testing.assert_array_equal(got["c"], np.stack([t.numpy() for t in targets], axis=1))
    assert got["x"].shape == (3, 5, 32, 32, 3)
    assert list(got["columns"]) == ATTRS and list(got["names"]) == [p.name for p in paths]
    want = np.stack([torch_g(module, x, t) for t in targets], axis=1)
    print("stargan grid (legacy .ckpt) max abs err", check(got["x"], want))
    # The same translations with the running statistics used would differ: the file's are not read.
    with torch.no_grad():
        frozen = copy.deepcopy(module).eval()(x, targets[0]).numpy().transpose(0, 2, 3, 1)
    assert np.abs(frozen - want[:, 0]).max() > 0.1
    # PNGs: per input one row [input, five translations].
    cli("--weights", root / "legacy-G.ckpt", "--arch", "stargan", *SIZE_FLAGS, "--labels", attr_file, "--input",
        root / "in", "--output", tmp_path / "png")
    for i, p in enumerate(paths):
        row = np.asarray(Image.open(tmp_path / "png" / p.name), np.float32) / 127.5 - 1
        assert row.shape == (32, 6 * 32, 3)
        expected = np.concatenate([got["input"][i], *got["x"][i]], axis=1)
        assert np.abs(row - expected).max() <= 1.01 / 127.5


def test_create_labels_equal_the_references(celeba):
    rng = np.random.default_rng(1)
    for names in (ATTRS, ["Male", "Gray_Hair", "Young", "Black_Hair"], ["Young", "Blond_Hair"], ["Male", "Smiling"]):
        space = translate.label_space(attributes=names)
        c_org = rng.integers(0, 2, (6, len(names))).astype(np.float32)
        got = translate.create_labels(c_org, space, 6)
        want = reference_create_labels(torch.from_numpy(c_org), len(names), "CelebA", names)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w.numpy())
    space = translate.label_space(domains="angry,happy,sad")
    for g, w in zip(translate.create_labels(None, space, 2), reference_create_labels(torch.zeros(2, 3), 3, "RaFD"),
                    strict=True):
        np.testing.assert_array_equal(g, w.numpy())


@pytest.mark.parity
def test_one_target_from_a_zip_checkpoint_sets_attributes_of_each_inputs_own(celeba, tmp_path):
    module, root, paths, attr_file, labels = celeba
    common = ("--weights", root / "zip-G.ckpt", "--arch", "stargan", *SIZE_FLAGS, "--input", root / "in",
              "--output-format", "npz")
    cli(*common, "--labels", attr_file, "--target", "Blond_Hair=1,Male=0", "--output", tmp_path / "t")
    got = load_npz(tmp_path / "t")
    c = labels.copy()
    c[:, :3] = [0, 1, 0]  # blond: the other hair colours cleared
    c[:, 3] = 0
    np.testing.assert_array_equal(got["c"], c)
    x = reference_inputs(paths, 36, 32)
    print("stargan --target (zip .ckpt) max abs err",
          check(got["x"], torch_g(module, x, torch.from_numpy(c))))
    # Every attribute set (the hair colours by exclusion): no labels needed; the same c for every input.
    cli(*common, "--target", "Brown_Hair=1,Male=1,Young=0", "--output", tmp_path / "all")
    got = load_npz(tmp_path / "all")
    c = np.tile(np.array([[0, 0, 1, 1, 0]], np.float32), (3, 1))
    np.testing.assert_array_equal(got["c"], c)
    print("stargan --target, all set, max abs err", check(got["x"], torch_g(module, x, torch.from_numpy(c))))
    # One vector of labels for every input.
    cli(*common, "--labels", "1,0,0,1,1", "--target", "Young=0", "--output", tmp_path / "vec")
    np.testing.assert_array_equal(load_npz(tmp_path / "vec")["c"], np.tile([[1, 0, 0, 1, 0]], (3, 1)))


@pytest.mark.parity
def test_a_domain_model_translates_to_each_domain_or_one(tmp_path):
    module = randomize(TorchGenerator(CONV_DIM, 3, REPEAT), 2)
    torch.save(module.state_dict(), tmp_path / "G.ckpt")
    rng = np.random.default_rng(3)
    (tmp_path / "in").mkdir()
    Image.fromarray(smooth_image(rng, 32, 32)).save(tmp_path / "in" / "face.png")
    x = reference_inputs([tmp_path / "in" / "face.png"], 32, 32)
    common = ("--weights", tmp_path / "G.ckpt", "--arch", "stargan", "--g_conv_dim", CONV_DIM, "--g_repeat_num",
              REPEAT, "--crop_size", 0, "--image_size", 0, "--input", tmp_path / "in", "--output-format", "npz")
    # c_dim 3 from the file, named domains: one column per domain, one-hot.
    cli(*common, "--domains", "angry,happy,sad", "--output", tmp_path / "grid")
    got = load_npz(tmp_path / "grid")
    assert list(got["columns"]) == ["angry", "happy", "sad"]
    want = np.stack([torch_g(module, x, t) for t in reference_create_labels(torch.zeros(1, 3), 3, "RaFD")], axis=1)
    print("stargan domains grid max abs err", check(got["x"], want))
    cli(*common, "--domains", "angry,happy,sad", "--target", "happy", "--output", tmp_path / "one")
    check(load_npz(tmp_path / "one")["x"], want[:, 1])
    # Without --domains, a c_dim other than 5 reads as numbered domains. An input smaller than --crop_size is
    # zero-padded to it, as torchvision's CenterCrop.
    cli(*common, "--target", "2", "--crop_size", 36, "--image_size", 32, "--output", tmp_path / "numbered")
    got = load_npz(tmp_path / "numbered")
    x = reference_inputs([tmp_path / "in" / "face.png"], 36, 32)
    np.testing.assert_allclose(got["input"], nhwc(x), atol=1e-6, rtol=0)
    assert np.all(got["input"][0, 0] == -1)  # the padding: black
    check(got["x"], torch_g(module, x, torch.eye(3)[2:]))


def test_the_default_generator_has_the_references_parameter_count():
    fv = translate.flags.FlagValues()
    translate.define_flags(fv, ["jaxgan.translate"])
    fv(["jaxgan.translate"])
    G = stargan.Generator(fv["g_conv_dim"].value, 5, fv["g_repeat_num"].value, 3)
    x, c = jax.numpy.zeros((1, 128, 128, 3)), jax.numpy.zeros((1, 5))
    params = jax.eval_shape(lambda k: G.init(k, x, c), jax.random.key(0))["params"]
    assert count_params(params) == 8_430_528
    with torch.device("meta"):
        assert sum(p.numel() for p in TorchGenerator().parameters()) == 8_430_528


# --------------------------------------------------------------------------
# A jaxgan run


@pytest.mark.parametrize("kind", ["attributes", "domains"])
def test_a_stargan_run_translates_as_its_trainer(kind, tmp_path):
    from jaxgan import checkpoint
    from jaxgan.configs import stargan as stargan_config
    from jaxgan.trainers import get_trainer

    config = stargan_config.smoke(stargan_config.get_config())
    if kind == "domains":
        config.data.domains = ["angry", "happy", "sad"]
    trainer = get_trainer(config)
    # A state of the trainer's structure with G random and O(1), the rest zeros (no init run, no training).
    abstract = jax.eval_shape(trainer.init_state, jax.random.key(0))
    rng = np.random.default_rng(4)
    random = lambda a: (rng.normal(0, 1 / np.sqrt(np.prod(a.shape[:3])), a.shape) if a.ndim == 4
                        else rng.normal(1 if a.ndim == 1 else 0, 0.3, a.shape)).astype(a.dtype)
    state = jax.tree_util.tree_map(lambda a: np.zeros(a.shape, a.dtype), abstract)
    state = state.replace(g=jax.tree_util.tree_map(random, abstract.g), step=np.int32(2))
    ckpt = checkpoint.Checkpointer(str(tmp_path / "run"), 1, checkpoint.config_to_json(config))
    ckpt.save(2, state, {}, force=True)
    ckpt.close()
    (tmp_path / "in").mkdir()
    images = np.stack([smooth_image(rng, 32, 32) for _ in range(2)])
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / "in" / f"{i}.png")
    x = images.astype(np.float32) / 127.5 - 1
    common = ("--workdir", tmp_path / "run", "--input", tmp_path / "in", "--output-format", "npz")
    if kind == "attributes":
        labels = np.array([[1, 0, 0, 1, 1], [1, 0, 0, 1, 1]], np.float32)
        cli(*common, "--labels", "1,0,0,1,1", "--output", tmp_path / "grid", "--batch-size", 2)
    else:
        labels = np.zeros(2, np.int32)
        cli(*common, "--output", tmp_path / "grid")
    got = load_npz(tmp_path / "grid")
    run = jax.jit(trainer.translate)
    targets = trainer.target_labels(labels)
    want = np.stack([np.asarray(run(state.g, x, trainer.conditioning(t))) for t in targets], axis=1)
    np.testing.assert_array_equal(got["c"], np.stack([np.asarray(trainer.conditioning(t)) for t in targets], 1))
    assert np.std(want) > 0.05
    np.testing.assert_allclose(got["x"], want, atol=1e-5, rtol=0)
    if kind == "domains":
        cli(*common, "--target", "sad", "--output", tmp_path / "sad")
        np.testing.assert_allclose(load_npz(tmp_path / "sad")["x"], want[:, 2], atol=1e-5, rtol=0)
    else:
        # The run's exclusive hair colours (config.data.exclusive), or none with --exclusive ''.
        cli(*common, "--labels", "1,0,0,1,1", "--target", "Blond_Hair=1", "--output", tmp_path / "blond")
        np.testing.assert_array_equal(load_npz(tmp_path / "blond")["c"], [[0, 1, 0, 1, 1]] * 2)
        cli(*common, "--labels", "1,0,0,1,1", "--target", "Blond_Hair=1", "--exclusive", "", "--output",
            tmp_path / "both")
        np.testing.assert_array_equal(load_npz(tmp_path / "both")["c"], [[1, 1, 0, 1, 1]] * 2)


# --------------------------------------------------------------------------
# Errors


def test_errors_are_one_line_and_name_the_flag_or_file(celeba, tmp_path, capsys):
    _, root, _, attr_file, _ = celeba
    legacy = root / "legacy-G.ckpt"
    common = ("--weights", legacy, "--arch", "stargan", *SIZE_FLAGS, "--input", root / "in", "--output",
              tmp_path / "o")
    for args, message in [
            (("--target", "Black_Hair=1,Smiling=1"), r"unknown attribute 'Smiling'; the model's attributes: "
                                                     r"Black_Hair, Blond_Hair, Brown_Hair, Male, Young"),
            (("--target", "Male=2", "--labels", attr_file), r"Male=2: an attribute's value is 0 or 1"),
            (("--target", "Male=yes", "--labels", attr_file), r"Male=yes: an attribute's value is 0 or 1"),
            (("--target", "Black_Hair=1,Blond_Hair=1", "--labels", attr_file), "mutually exclusive"),
            (("--target", "Blond_Hair=1,Male=0"), r"--target leaves Young as each input's own: pass --labels"),
            ((), r"the grid \(no --target\) .* pass --labels"),
            (("--labels", "1,0,1"), r"--labels 1,0,1: 3 values; the model has 5 attributes"),
            (("--labels", "1,0,-1,1,1"), r"an attribute's value is 0 or 1, got -1"),
            (("--labels", tmp_path / "nowhere.txt"), r"--labels .*nowhere.txt: no such file"),
            (("--labels", attr_file, "--attributes", "Black_Hair,Blond_Hair,Brown_Hair,Male,Smiling"),
             r"list_attr_celeba.txt has no attribute 'Smiling'"),
            (("--c_dim", 6), r"legacy-G.ckpt does not fit --c_dim \(6 labels\): its first conv reads 8 channels = 3 "
                             r"image channels \+ c_dim 5; check --c_dim"),
            (("--attributes", "Male,Young"), r"does not fit --attributes \(2 labels\).*c_dim 5"),
            (("--exclusive", "Black_Hair,Red_Hair", "--labels", attr_file), r"--exclusive: unknown attribute "
                                                                             r"'Red_Hair'"),
            (("--g_conv_dim", 16), r"legacy-G.ckpt does not fit --arch stargan --g_conv_dim 16 .*check --g_conv_dim 8 "
                                   r"--g_repeat_num 2 \(the file's G\)"),
            (("--domains", "a,b,c,d,e", "--labels", attr_file), r"a domain model's target is a whole domain")]:
        with pytest.raises((ValueError, FileNotFoundError), match=message) as e:
            cli(*common, *args)
        assert "\n" not in str(e.value)
    # An input missing from the attribute file.
    partial = write_attr_file(tmp_path / "attrs.txt", {f"00000{n}.jpg": {a: 1 for a in FILE_ATTRS} for n in (1, 2)},
                              FILE_ATTRS)
    with pytest.raises(ValueError, match=r"attrs.txt has no line for 000003.png \(an input of --input\)"):
        cli(*common, "--labels", partial)
    bad = tmp_path / "bad.txt"
    bad.write_text(attr_file.read_text().replace("000002.jpg -1", "000002.jpg  x"))
    with pytest.raises(ValueError, match=r"bad.txt line 4: 5_o_Clock_Shadow is 'x'; values are 1"):
        cli(*common, "--labels", bad, "--attributes", "5_o_Clock_Shadow,Young,Black_Hair,Bald,Male")
    assert not (tmp_path / "o").exists()
    # Flag misuse: exit 2, one line each.
    main = lambda *args: translate.main(["jaxgan.translate", *map(str, args)])
    assert main(*common, "--ngf", 8) == 2
    assert main("--weights", legacy, "--arch", "unet_32", "--target", "Male=1", "--input", root / "in", "--output",
                tmp_path / "o") == 2
    assert main(*common, "--load-size", 64) == 2
    assert main(*common, "--target", "Male=3") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error: ") for line in err), err
    assert "--ngf" in err[0] and "--target is a StarGAN option" in err[1] and "--load-size" in err[2]
    assert "Male=3" in err[3]
