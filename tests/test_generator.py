"""jaxgan.generator.Generator and --mode sample: sampling a checkpoint (equal to
the trainer's EMA sampler, the same on 1 and 8 devices), standing statistics
(plain averages, saved with the checkpoint per truncation, restored exactly),
PNG / npz output, DeepMind-format pretrained files."""

import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan import checkpoint, configs, parallel, pictures, sampling, train
from jaxgan.generator import Generator
from jaxgan.trainers import get_trainer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SMOKE = "configs/quickstart.py:smoke"  # 10 classes, 32x32, conditional BN; one step compiles in seconds


def _config():
    return configs.load(str(REPO / SMOKE))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 2-step quickstart:smoke run: (config, workdir) with a checkpoint at step 2."""
    config = _config()
    with config.unlocked():
        config.train.num_steps = 2
        config.samples.every_steps = 0
    workdir = tmp_path_factory.mktemp("run")
    train.train_and_evaluate(config, str(workdir))
    return config, workdir


@pytest.fixture
def workdir_copy(run, tmp_path):
    """A copy of the run, for tests that add standing statistics to its checkpoint."""
    shutil.copytree(run[1], tmp_path / "run")
    return run[0], tmp_path / "run"


def _one_device():
    return parallel.make_mesh(jax.devices()[:1])


def test_from_checkpoint_is_the_runs_ema_generator(run):
    config, workdir = run
    gen = Generator.from_checkpoint(str(workdir))  # config from the workdir's config.json
    assert gen.step == 2 and gen.mesh.devices.size == 8 and gen.num_classes == 10
    trainer = get_trainer(config)
    abstract = jax.eval_shape(trainer.init_state, jax.random.key(0))
    ckpt = checkpoint.Checkpointer(str(workdir))
    state, _ = ckpt.restore(abstract)
    ckpt.close()
    for a, b in zip(jax.tree_util.tree_leaves(jax.device_get(gen.variables)),
                    jax.tree_util.tree_leaves(jax.device_get(state.g_ema)), strict=True):
        np.testing.assert_array_equal(a, b)
    # With the run's seed and no truncation: the z and classes of its sample grids.
    key = jax.random.fold_in(jax.random.key(config.seed), 1)
    z, y = gen.sample_inputs(key, config.samples.num, classes=np.arange(config.samples.num) % 10)
    z_train, y_train = train.grid_inputs(trainer, config)
    np.testing.assert_array_equal(z, np.asarray(z_train))
    np.testing.assert_array_equal(y, np.asarray(y_train))
    expected = np.asarray(jax.jit(trainer.sample)(state.g_ema, z, y))
    np.testing.assert_allclose(gen.generate(z, y, uint8=False), expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(gen.generate(z, y), pictures.to_uint8(expected))
    images = gen.sample(3, 5, classes=7)
    assert images.shape == (5, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, gen.sample(3, 5, classes=[7]))  # deterministic from the seed
    with pytest.raises(ValueError, match="classes must be ids in"):
        gen.sample(0, 2, classes=[10])


def test_sampling_on_eight_devices_equals_one_device(run):
    _, workdir = run
    eight = Generator.from_checkpoint(str(workdir))
    one = Generator.from_checkpoint(str(workdir), mesh=_one_device())
    assert eight.mesh.devices.size == 8 and one.mesh.devices.size == 1
    z, y = eight.sample_inputs(0, 11, truncation=0.5)  # 11: the last batch is padded
    np.testing.assert_allclose(one.generate(z, y, 0.5, batch_size=4, uint8=False),
                               eight.generate(z, y, 0.5, batch_size=8, uint8=False), rtol=0, atol=1e-5)
    # Standing statistics over a batch split over 8 devices are global too.
    stats_one = one.standing_stats(0.5, num_batches=2, batch_size=8, seed=1)
    stats_eight = eight.standing_stats(0.5, num_batches=2, batch_size=8, seed=1)
    for a, b in zip(jax.tree_util.tree_leaves(stats_one), jax.tree_util.tree_leaves(stats_eight), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one.generate(z, y, 0.5, uint8=False), eight.generate(z, y, 0.5, uint8=False),
                               rtol=0, atol=1e-5)


def test_truncation_shrinks_the_spread_and_psi_to_zero_gives_the_class_mean_image(run):
    # The class "mean" image is G(0, y): z = psi * truncnorm(-2, 2) tends to 0
    # with psi, so samples of one class gather around it as psi shrinks.
    gen = Generator.from_checkpoint(str(run[1]))
    classes = np.full(16, 3)
    mean_image = gen.generate(np.zeros((16, gen.z_dim), np.float32), classes, uint8=False)
    spreads = [float(np.abs(gen.sample(0, 16, classes=3, truncation=psi, uint8=False) - mean_image).mean())
               for psi in (1.0, 0.5, 0.1, 1e-3)]
    assert spreads[0] > spreads[1] > spreads[2] > spreads[3], spreads
    assert spreads[3] < 1e-2 * spreads[0], spreads
    # Another class has another mean image.
    other = gen.generate(np.zeros((16, gen.z_dim), np.float32), np.full(16, 4), uint8=False)
    assert np.abs(other - mean_image).mean() > 10 * spreads[3]


def test_standing_stats_are_the_plain_average_of_batch_statistics(run):
    _, workdir = run
    gen = Generator.from_checkpoint(str(workdir), mesh=_one_device())
    keys = jax.random.split(jax.random.key(7), 3)
    measure = lambda k: jax.device_get(gen._stats(gen.variables, k, jnp.float32(0.5), batch_size=8))
    together = measure(keys)
    alone = [measure(keys[i:i + 1]) for i in range(3)]
    mean = jax.tree_util.tree_map(lambda *s: sum(s) / 3, *alone)
    for a, b in zip(jax.tree_util.tree_leaves(together), jax.tree_util.tree_leaves(mean), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # One batch's statistics are exactly its batch mean and unbiased variance:
    # those of the output BN's input (the last block's output) in train mode.
    z, y = sampling.draw_inputs(keys[0], 8, gen.z_dim, gen.num_classes, 0.5)
    _, out = gen.model.apply(jax.device_get(gen.variables), z, y, train=True, capture_intermediates=True,
                             mutable=["batch_stats", "spectral", "intermediates"])
    last = max(k for k in out["intermediates"] if k.startswith("block"))
    h = np.asarray(out["intermediates"][last]["__call__"][0], np.float64).reshape(-1, 16)
    np.testing.assert_allclose(alone[0]["output_bn"]["mean"], h.mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(alone[0]["output_bn"]["var"], h.var(0, ddof=1), rtol=1e-4, atol=1e-6)


def test_standing_stats_change_samples_and_are_restored_exactly_per_truncation(workdir_copy):
    _, workdir = workdir_copy
    gen = Generator.from_checkpoint(str(workdir))
    assert gen.measured_truncations == []
    z, y = gen.sample_inputs(5, 8, truncation=0.5)
    running = gen.generate(z, y, 0.5, uint8=False)
    half = gen.standing_stats(0.5, num_batches=2, batch_size=8, save=True)
    standing = gen.generate(z, y, 0.5, uint8=False)
    assert np.abs(standing - running).max() > 1e-2  # the statistics matter
    np.testing.assert_array_equal(gen.generate(z, y, 0.5, uint8=False, use_standing_stats=False), running)
    quarter = gen.standing_stats(0.25, num_batches=2, batch_size=8, save=True)  # added beside 0.5's
    diffs = [np.abs(np.asarray(a) - np.asarray(b)).max()
             for a, b in zip(jax.tree_util.tree_leaves(half), jax.tree_util.tree_leaves(quarter))]
    assert max(diffs) > 1e-3  # a smaller psi: smaller z, other activations
    saved = workdir / "checkpoints" / "2" / "standing_stats"
    assert sorted(p.name for p in saved.iterdir()) == ["psi_0.25.npz", "psi_0.5.npz"]

    fresh = Generator.from_checkpoint(str(workdir))
    assert fresh.measured_truncations == [0.25, 0.5]
    np.testing.assert_array_equal(fresh.generate(z, y, 0.5, uint8=False), standing)  # bit-identical
    for a, b in zip(jax.tree_util.tree_leaves(jax.device_get(fresh.variables_for(0.25)["batch_stats"])),
                    jax.tree_util.tree_leaves(jax.device_get(quarter)), strict=True):
        np.testing.assert_array_equal(a, b)
    # Truncations without standing statistics keep the running ones.
    np.testing.assert_array_equal(fresh.generate(z, y, 0.75, uint8=False),
                                  gen.generate(z, y, 0.75, use_standing_stats=False, uint8=False))
    # The training state itself still restores from that checkpoint.
    config = _config()
    abstract = jax.eval_shape(get_trainer(config).init_state, jax.random.key(0))
    ckpt = checkpoint.Checkpointer(str(workdir))
    assert int(ckpt.restore(abstract)[0].step) == 2
    ckpt.close()


def test_sample_mode_writes_png_files_and_npz(workdir_copy):
    config, workdir = workdir_copy
    common = dict(truncation=0.5, classes=[1, 2], batch_size=8, seed=4)
    directory = Path(train.sample(config, str(workdir), 5, sample_format="png", standing_stats=True,
                                  standing_stats_batches=2, **common))
    assert directory == workdir / "samples" / "00000002_psi0.5"
    names = sorted(p.name for p in directory.iterdir())
    assert names == ["000000_class1.png", "000001_class2.png", "000002_class1.png", "000003_class2.png",
                     "000004_class1.png"]
    assert (workdir / "checkpoints" / "2" / "standing_stats" / "psi_0.5.npz").exists()
    npz = Path(train.sample(config, str(workdir), 5, sample_format="npz", **common))
    assert npz == workdir / "samples" / "samples_00000002_psi0.5.npz"
    with np.load(npz) as f:
        x, labels = f["x"], f["y"]
    assert x.shape == (5, 32, 32, 3) and x.dtype == np.uint8 and list(labels) == [1, 2, 1, 2, 1]
    pngs = np.stack([np.asarray(Image.open(directory / n)) for n in names])
    np.testing.assert_array_equal(x, pngs)  # same seed, same images, with the saved statistics
    gen = Generator.from_checkpoint(str(workdir))
    key = jax.random.fold_in(jax.random.key(4), 1)
    np.testing.assert_array_equal(x, gen.sample(key, 5, classes=[1, 2], truncation=0.5))
    grid = Path(train.sample(config, str(workdir), 4))
    assert grid.name == "sample_00000002.png" and grid.stat().st_size > 0


def test_sample_mode_command_line(workdir_copy):
    _, workdir = workdir_copy
    proc = subprocess.run([sys.executable, "-m", "jaxgan.main", "--config", SMOKE, "--workdir", str(workdir),
                           "--mode", "sample", "--sample_format", "npz", "--num_samples", "3", "--truncation",
                           "0.4", "--standing_stats", "--standing_stats_batches", "1", "--classes", "3",
                           "--batch_size", "8"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "standing statistics for truncation 0.4" in proc.stderr
    with np.load(workdir / "samples" / "samples_00000002_psi0.4.npz") as f:
        assert f["x"].shape == (3, 32, 32, 3) and list(f["y"]) == [3, 3, 3]
    bad = subprocess.run([sys.executable, "-m", "jaxgan.main", "--config", SMOKE, "--workdir", str(workdir),
                          "--mode", "sample", "--standing_stats"], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert bad.returncode != 0 and "--standing_stats needs --truncation" in bad.stderr


def test_from_pretrained_files_match_the_port(tmp_path):
    # A small random model in pytorch-pretrained-biggan's file format,
    # brought to a trained model's scale (see the conversion tests).
    # torch and pytorch-pretrained-biggan are in the test extra.
    import torch
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig, truncated_noise_sample
    from test_convert_pytorch_pretrained_biggan import _trained_scale

    from jaxgan.convert.pytorch_pretrained_biggan import expected_layers

    config = BigGANConfig(output_dim=128, channel_width=8, layers=expected_layers(128))
    torch.manual_seed(0)
    model = _trained_scale(BigGAN(config), 0)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(config.to_json_string())

    gen = Generator.from_pretrained(str(tmp_path), mesh=_one_device())
    assert gen.default_truncation == 1.0 and gen.num_classes == 1000
    classes = [1, 207, 555]
    for i, truncation in enumerate((0.4, 0.55)):  # 0.55: between two of the model's statistics sets
        z = truncated_noise_sample(3, 128, truncation, seed=i)
        with torch.no_grad():
            ref = model(torch.from_numpy(z), torch.eye(1000)[classes], truncation).numpy().transpose(0, 2, 3, 1)
        out = gen.generate(z, np.array(classes), truncation, uint8=False)
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-4)
        assert ref.std() > 0.05
    images = gen.sample(0, 2, classes=207)  # truncation 1.0 by default
    assert images.shape == (2, 128, 128, 3) and images.dtype == np.uint8
