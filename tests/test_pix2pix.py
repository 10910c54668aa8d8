"""pix2pix (jaxgan.trainers.pix2pix) and its paired data (jaxgan.data.paired,
jaxgan.data.edges2digits): a smoke run on the edges2digits pairs that logs the
reference's loss names, evaluates held-out L1 into best/ and resumes bit for
bit from a checkpoint mid-decay; the losses and the first step's metrics against hand computation; the
lr schedule in epochs; the aligned loader's shared crop and flip and its
errors; the fixed edges2digits split; the reference's parameter counts."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from PIL import Image

from jaxgan import checkpoint, configs, parallel, train
from jaxgan.data import build_input, edges2digits, paired
from jaxgan.data.preprocess import BadImageError
from jaxgan.state import step_key
from jaxgan.trainers import get_trainer
from jaxgan.trainers.pix2pix import gan_loss, learning_rate

REPO = Path(__file__).resolve().parents[1]


def load(name: str, variant: str = "", *overrides: str):
    return configs.load(f"{REPO / 'configs' / name}:{variant}", list(overrides))


# The quickstart's smoke variant (4 steps) on the real edges2digits pairs (the variant itself trains on noise pairs).
SMOKE = ("pix2pix_edges2digits.py", "smoke", "--config.data.source=edges2digits")


def smoke():
    return load(*SMOKE)


def restore(workdir, config, subdir=None):
    ckpt = checkpoint.Checkpointer(str(workdir), 1, **({"subdir": subdir} if subdir else {}))
    state, data = ckpt.restore(train.abstract_state(get_trainer(config), config, parallel.make_mesh()))
    ckpt.close()
    return state, data


def restored_equal(config, straight_dir, resumed_dir):
    """The straight run's final state, after checking that the resumed run's
    final state and data-iterator state are bit-equal to it."""
    straight, straight_data = restore(straight_dir, config)
    resumed, resumed_data = restore(resumed_dir, config)
    assert straight_data == resumed_data
    for a, b in zip(jax.tree_util.tree_leaves(straight), jax.tree_util.tree_leaves(resumed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    return straight


def train_on_one_device(workdir: Path, config_args=(f"{REPO / 'configs'}/{SMOKE[0]}:{SMOKE[1]}", *SMOKE[2:])) -> str:
    """`python -m jaxgan.main --config <config_args> --workdir <workdir>`
    (default: the smoke config, smoke()) with one CPU device; its output. One device because XLA:CPU's collectives, with this
    family's many BatchNorm all-reduces per step, can deadlock the 8 fake
    devices' shared thread pool (3 of 6 pytest runs hung in the first
    training run with every pool thread in an all-reduce; 0 of 3 standalone
    runs did). Seen only with fake CPU devices; the cause is not pinned down."""
    env = dict(os.environ, XLA_FLAGS=os.environ.get("XLA_FLAGS", "").replace(
        "--xla_force_host_platform_device_count=8", "--xla_force_host_platform_device_count=1"))
    run = subprocess.run([sys.executable, "-m", "jaxgan.main", "--config", *config_args, "--workdir", str(workdir)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return run.stdout + run.stderr


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 4-step smoke run, and the same run resumed from its step-2
    checkpoint, mid-decay: (config, straight workdir, its output, resumed
    workdir). (A run told to stop at step 2 would have another schedule: the
    decay is counted back from train.num_steps.)"""
    root = tmp_path_factory.mktemp("pix2pix")
    output = train_on_one_device(root / "straight")
    shutil.copytree(root / "straight" / "checkpoints" / "2", root / "resumed" / "checkpoints" / "2")
    assert "done: step 4" in train_on_one_device(root / "resumed")
    return smoke(), root / "straight", output, root / "resumed"


@pytest.mark.slow
def test_smoke_run_logs_the_references_losses_evaluates_l1_and_draws_triplets(run):
    config, workdir, output, _ = run
    assert "done: step 4" in output
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "G_GAN" in line]
    assert [line["step"] for line in steps] == [1, 2, 3, 4]
    assert all({"G_GAN", "G_L1", "D_real", "D_fake"} <= set(line) for line in steps)
    # epoch_steps 1, decay over the last 2 of 4 steps: 1, 1, 1 - 1/3, 1 - 2/3.
    assert [line["lr"] for line in steps] == pytest.approx([2e-4, 2e-4, 2e-4 * 2 / 3, 2e-4 / 3])
    evals = [line["eval/l1"] for line in lines if "eval/l1" in line]
    assert len(evals) == 2 and all(0 < v < 2 for v in evals)
    assert sorted(p.name for p in (workdir / "samples").glob("*.png")) == ["translations_00000002.png",
                                                                           "translations_00000004.png"]
    # 4 held-out pairs as (input, output, target) on one row of 32x32 tiles with 2-pixel borders.
    grid = np.asarray(Image.open(workdir / "samples" / "translations_00000004.png"))
    assert grid.shape[:2] == (2 + 34, 2 + 12 * 34)
    assert restore(workdir, config, "best")[0] is not None
    assert restore(workdir, config)[1]["processes"] == [{"version": 1, "source": "edges2digits", "next_position": 32,
                                                         "seed": 0, "process_index": 0, "process_count": 1,
                                                         "examples_per_epoch": 4500}]


@pytest.mark.slow
def test_resume_is_exact(run):
    config, straight_dir, _, resumed_dir = run
    straight = restored_equal(config, straight_dir, resumed_dir)
    assert "batch_stats" in straight.g and "batch_stats" in straight.d


@pytest.mark.slow
def test_sample_mode_writes_a_grid_and_npz_of_translations(run):
    config, workdir, _, _ = run
    assert Path(train.sample(config, str(workdir), 4)).name == "translation_00000004.png"
    npz = np.load(train.sample(config, str(workdir), 5, sample_format="npz", step=2))
    assert npz["x"].shape == (5, 32, 32, 1) and npz["x"].dtype == np.uint8


def test_gan_losses_against_hand_computation():
    x = np.array([[-2.0, 0.5], [1.0, 3.0]], np.float32)
    sig = 1 / (1 + np.exp(-x))
    assert float(gan_loss(jnp.asarray(x), True, "vanilla")) == pytest.approx(np.mean(-np.log(sig)), rel=1e-6)
    assert float(gan_loss(jnp.asarray(x), False, "vanilla")) == pytest.approx(np.mean(-np.log(1 - sig)), rel=1e-6)
    assert float(gan_loss(jnp.asarray(x), True, "lsgan")) == pytest.approx(np.mean((x - 1) ** 2))
    assert float(gan_loss(jnp.asarray(x), False, "lsgan")) == pytest.approx(np.mean(x ** 2))
    assert float(gan_loss(jnp.asarray(x), True, "hinge")) == pytest.approx(np.mean(np.maximum(0, 1 - x)))
    assert float(gan_loss(jnp.asarray(x), False, "hinge")) == pytest.approx(np.mean(np.maximum(0, 1 + x)))
    assert float(gan_loss(jnp.asarray(x), True, "hinge", for_discriminator=False)) == pytest.approx(-np.mean(x))


@pytest.mark.parametrize("gan_mode", ["vanilla", "lsgan"])
def test_a_steps_metrics_are_the_references_losses_of_the_pair(gan_mode):
    # D sees concat(A, .) on channels; D_real / D_fake before the 0.5; G_GAN
    # through the D just updated; G_L1 times lambda_L1.
    config = load("pix2pix_edges2digits.py", "smoke", f"--config.loss.gan_mode={gan_mode}")
    trainer = get_trainer(config)
    state = jax.jit(trainer.init_state)(jax.random.key(0))
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (1, 2, 32, 32, 1)).astype(np.float32) for _ in range(2))
    new, m = jax.jit(trainer.train_step)(state, {"input": a, "image": b})

    fake, _ = trainer.G.apply(state.g, a[0], train=True, rngs={"dropout": step_key(state)}, mutable=["batch_stats"])
    d = lambda variables, x: trainer.D.apply(variables, x, train=True, mutable=["batch_stats"])[0]
    pred_fake = np.asarray(d(state.d, jnp.concatenate([a[0], fake], -1)), np.float64)
    pred_real = np.asarray(d(state.d, jnp.concatenate([a[0], b[0]], -1)), np.float64)
    pred_g = np.asarray(d(new.d, jnp.concatenate([a[0], fake], -1)), np.float64)
    if gan_mode == "vanilla":
        real, fake_loss, g_gan = np.logaddexp(0, -pred_real), np.logaddexp(0, pred_fake), np.logaddexp(0, -pred_g)
    else:
        real, fake_loss, g_gan = (pred_real - 1) ** 2, pred_fake ** 2, (pred_g - 1) ** 2
    assert float(m["D_real"]) == pytest.approx(real.mean(), rel=1e-4)
    assert float(m["D_fake"]) == pytest.approx(fake_loss.mean(), rel=1e-4)
    assert float(m["G_GAN"]) == pytest.approx(g_gan.mean(), rel=1e-4)
    assert float(m["G_L1"]) == pytest.approx(100 * np.abs(np.asarray(fake) - b[0]).mean(), rel=1e-5)


def test_learning_rate_is_constant_then_decays_per_epoch_as_the_reference():
    # facades: 400 steps an epoch, 100 epochs at 2e-4, then 100 decaying.
    config = load("pix2pix_facades.py")
    lr = lambda step: float(learning_rate(config.optim, config.train.num_steps, step))
    assert [lr(s) for s in (0, 39_999)] == pytest.approx([2e-4, 2e-4])
    assert lr(40_000) == pytest.approx(2e-4 * (1 - 1 / 101)) and lr(40_399) == lr(40_000)  # per epoch
    assert lr(40_400) == pytest.approx(2e-4 * (1 - 2 / 101))
    assert lr(79_999) == pytest.approx(2e-4 / 101)  # the last epoch; the reference's next would be 0
    per_step = ml_collections.ConfigDict(dict(lr=1.0, epoch_steps=1, decay_steps=3))
    assert [float(learning_rate(per_step, 5, s)) for s in range(5)] == pytest.approx([1, 1, 0.75, 0.5, 0.25])


def _aligned(tmp_path, name, a: np.ndarray, b: np.ndarray, split="train"):
    (tmp_path / split).mkdir(exist_ok=True)
    Image.fromarray(np.concatenate([a, b], axis=1)).save(tmp_path / split / name)


def _data(folder, **fields):
    c = load("pix2pix_facades.py", "", f"--config.data.folder={folder}").data
    with c.unlocked():
        c.update({"image_size": 8, "load_size": 12, "num_workers": 0, **fields})
    return c


def test_aligned_pairs_share_one_crop_and_flip(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (3, 12, 12, 3), dtype=np.uint8)
    for i in range(3):
        _aligned(tmp_path, f"{i}.png", a[i], 255 - a[i])  # B = -A in [-1, 1]: any crop or flip not shared shows
    data = build_input(_data(tmp_path, direction="AtoB"), batch_size=3, seed=0)
    assert data.input_shape == data.image_shape == (8, 8, 3)
    scaled = a.astype(np.float32) * np.float32(2 / 255) - 1
    crops = {(y, x, f, i): np.ascontiguousarray((s[:, ::-1] if f else s)[y:y + 8, x:x + 8])
             for i, s in enumerate(scaled) for y in range(5) for x in range(5) for f in (0, 1)}
    seen = set()
    for _ in range(8):
        batch = next(data)
        np.testing.assert_allclose(batch["image"], -batch["input"], atol=1e-6)
        for x in batch["input"]:  # a crop (and flip) of A: the left half is the input
            seen |= {k for k, c in crops.items() if np.array_equal(c, x)}
    assert len({k[:2] for k in seen}) > 5 and {k[2] for k in seen} == {0, 1} and len({k[3] for k in seen}) == 3
    batch = next(build_input(_data(tmp_path, direction="BtoA", load_size=8, random_flip=False), batch_size=3, seed=0))
    inputs = {tuple(np.round(x, 5).ravel()) for x in batch["input"]}
    # Without crop and flip the input is B resized to 8x8, the target A.
    want = {tuple(np.round(paired.transform(Image.fromarray(255 - ai), channels=3, load_size=8, crop_size=8, flip=False,
                                            top=0, left=0), 5).ravel()) for ai in a}
    assert inputs == want


def test_aligned_errors_name_the_file(tmp_path):
    _aligned(tmp_path, "good.png", np.zeros((12, 12, 3), np.uint8), np.zeros((12, 12, 3), np.uint8))
    (tmp_path / "train" / "odd.png").parent.mkdir(exist_ok=True)
    Image.fromarray(np.zeros((12, 25, 3), np.uint8)).save(tmp_path / "train" / "odd.png")
    (tmp_path / "train" / "broken.png").write_bytes(b"not a png")
    options = dict(input_channels=3, channels=3, load_size=8, crop_size=8, direction="AtoB")
    for name, message in [("odd.png", "width 25 is odd"), ("broken.png", "UnidentifiedImageError")]:
        with pytest.raises(BadImageError, match=message) as e:
            paired.aligned_pair(str(tmp_path / "train" / name), (False, 0, 0), **options)
        assert str(tmp_path / "train" / name) in str(e.value) and "\n" not in str(e.value)
    data = build_input(_data(tmp_path), batch_size=2, seed=0)
    next(data)  # the bad files are skipped and counted
    assert data.bad_files.unique == 2
    with pytest.raises(FileNotFoundError, match="val .*config.data.folder/config.data.split.* is not a directory"):
        build_input(_data(tmp_path, split="val"), batch_size=2, seed=0)
    with pytest.raises(ValueError, match="config.data.direction must be 'AtoB' or 'BtoA'"):
        build_input(_data(tmp_path, direction="AB"), batch_size=2, seed=0)


def test_edges2digits_split_is_fixed_and_hidden_from_the_digit_classifier():
    from benchmarks.quickstart_quality import split

    split_indices = edges2digits.split_indices()
    edges2digits.split_indices.cache_clear()
    again = edges2digits.split_indices()
    train_idx, test_idx = again["train"], again["test"]
    np.testing.assert_array_equal(test_idx, split_indices["test"])
    assert len(train_idx) == 4500 and len(test_idx) == 500 and not set(train_idx) & set(test_idx)
    assert np.bincount(edges2digits.labels("test"), minlength=10).tolist() == [50] * 10
    labels = np.asarray(edges2digits.mnist5k.load_arrays()[1])
    assert set(test_idx) <= set(split(labels, 0)[1])  # the classifier's held-out digits at its seed 0
    assert test_idx[:12].tolist() == [2, 502, 1001, 1524, 2017, 2502, 3015, 3505, 4003, 4503, 5, 508]
    assert edges2digits.labels("test")[:12].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    data = load("pix2pix_edges2digits.py").data
    edges, digits = edges2digits.pairs(data, "test", 3)
    assert edges.shape == digits.shape == (3, 32, 32, 1)
    assert edges.min() == -1 and edges.max() == 1 and digits.min() == -1


def test_data_without_inputs_is_refused_naming_the_config():
    trainer = get_trainer(load("pix2pix_edges2digits.py"))
    with pytest.raises(ValueError, match="config.data.source 'edges2digits' gives no input images"):
        trainer.check_data(type("Data", (), {"image_shape": (32, 32, 1)})())


def test_facades_parameter_counts_are_the_references():
    config = load("pix2pix_facades.py")
    trainer = get_trainer(config)
    state = jax.eval_shape(trainer.init_state, jax.random.key(0))
    assert trainer.param_counts(state) == {"g": 54_413_955, "d": 2_768_705}
