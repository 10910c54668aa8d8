"""The classic GANs (jaxgan.trainers.classic): every objective trains from
its MNIST config's smoke variant and resumes exactly (BEGAN's k included);
WGAN's clamp and critic schedule, WGAN-GP's penalty against finite
differences, BEGAN's k update and learning-rate halving, EBGAN's
pulling-away term; the full-size parameter counts of the references, as
benchmarks/train_step.py --dry-run prints them."""

import contextlib
import io
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgan import checkpoint, configs, losses, parallel, train
from jaxgan.models.wgan_gp import WGANGPMNISTCritic
from jaxgan.trainers import get_trainer
from jaxgan.trainers.classic import learning_rate, pulling_away

REPO = Path(__file__).resolve().parents[1]
OBJECTIVES = ("dcgan", "lsgan", "wgan", "wgan_gp", "began", "ebgan")


def load(name: str, variant: str = "", *overrides: str):
    return configs.load(f"{REPO / 'configs' / name}:{variant}", list(overrides))


def smoke(objective: str, num_steps: int = 4):
    config = load(f"{objective}_mnist.py", "smoke")
    with config.unlocked():
        config.train.num_steps = num_steps
    return config


def restore(workdir, config):
    ckpt = checkpoint.Checkpointer(str(workdir), 1)
    trainer = get_trainer(config)
    state, data = ckpt.restore(train.abstract_state(trainer, config, parallel.make_mesh()))
    ckpt.close()
    return state, data


@pytest.fixture(scope="module", params=OBJECTIVES)
def run(request, tmp_path_factory):
    """One objective's smoke run to step 4, and the same run stopped at step 2
    and resumed: (objective, config, straight workdir, summary, resumed workdir)."""
    objective = request.param
    root = tmp_path_factory.mktemp(objective)
    summary = train.train_and_evaluate(smoke(objective), str(root / "straight"))
    train.train_and_evaluate(smoke(objective, 2), str(root / "resumed"))
    resumed = train.train_and_evaluate(smoke(objective), str(root / "resumed"))
    assert resumed["step"] == 4
    return objective, smoke(objective), root / "straight", summary, root / "resumed"


@pytest.mark.slow
def test_every_objective_trains_logs_and_samples(run):
    objective, config, workdir, summary, _ = run
    assert summary["step"] == 4 and all(np.isfinite(v) for v in summary["metrics"].values())
    # WGAN's smoke schedule has 3 critic iterations at steps 1 and 4, 2 otherwise: two compiled steps.
    assert summary["step_traces"] == (2 if objective == "wgan" else 1)
    expected = {"dcgan": "d_loss_real", "lsgan": "d_loss_real", "wgan": "d_clip_max", "wgan_gp": "gradient_penalty",
                "began": "measure", "ebgan": "pulling_away"}[objective]
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert all(expected in line for line in lines) and len(lines) == 4
    assert sorted(p.name for p in (workdir / "samples").glob("*.png")) == ["samples_00000002.png",
                                                                           "samples_00000004.png"]
    if objective == "wgan":
        assert all(line["d_clip_max"] <= config.loss.clip for line in lines)
    if objective == "began":  # k starts at 0 and follows the balance
        assert lines[0]["k"] == 0 and lines[-1]["k"] > 0
    # The input pipeline's position: the batches the steps read (the smoke run's D steps per G step).
    batches = sum(get_trainer(config).d_steps(s) for s in range(1, 5))
    assert batches == {"wgan": 3 + 2 + 2 + 3, "wgan_gp": 4 * 2}.get(objective, 4)
    assert restore(workdir, config)[1]["processes"] == [{"step": batches}]


@pytest.mark.slow
def test_resume_is_exact_for_every_objective(run):
    objective, config, straight_dir, _, resumed_dir = run
    straight, straight_data = restore(straight_dir, config)
    resumed, resumed_data = restore(resumed_dir, config)
    assert straight_data == resumed_data
    if objective == "began":
        assert float(straight.k) > 0
    for a, b in zip(jax.tree_util.tree_leaves(straight), jax.tree_util.tree_leaves(resumed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
@pytest.mark.parametrize("run", ["dcgan"], indirect=True)  # the same code for every objective
def test_sample_mode_writes_grids_pngs_and_npz(run):
    objective, config, workdir, _, _ = run
    grid = train.sample(config, str(workdir), 6)
    assert Path(grid).name == "sample_00000004.png"
    npz = np.load(train.sample(config, str(workdir), 5, sample_format="npz", step=2))
    assert npz["x"].shape == (5, 16, 16, 1) and npz["x"].dtype == np.uint8
    with pytest.raises(FileNotFoundError, match="no checkpoint of step 3 .* steps \\[2, 4\\]"):
        train.sample(config, str(workdir), 5, step=3)


def test_wgan_runs_100_critic_iterations_in_the_first_25_generator_steps_and_every_500th():
    trainer = get_trainer(load("wgan_mnist.py"))
    counts = [trainer.d_steps(s) for s in range(1, 1003)]
    hundred = [s for s, n in enumerate(counts, 1) if n == 100]
    assert hundred == list(range(1, 26)) + [501, 1001]  # gen_iterations 0..24, 500, 1000
    assert set(counts) == {5, 100}


def test_wgan_clamps_every_critic_parameter_at_the_start_of_each_critic_iteration():
    config = smoke("wgan")
    trainer = get_trainer(config)
    state = jax.jit(trainer.init_state)(jax.random.key(0))
    # Critic weights far outside the cube (BatchNorm's scale is ~1 anyway).
    state = state.replace(d={**state.d, "params": jax.tree_util.tree_map(lambda p: 100 * p, state.d["params"])})
    images = jax.random.uniform(jax.random.key(1), (3, 8, 16, 16, 1), minval=-1, maxval=1)
    new, metrics = jax.jit(trainer.train_step)(state, {"image": images})
    assert float(metrics["d_clip_max"]) == pytest.approx(config.loss.clip)  # clamped in all 3 iterations
    # The last iteration's RMSProp update moved weights past the bound: the clamp is at the start.
    assert max(float(jnp.max(jnp.abs(p))) for p in jax.tree_util.tree_leaves(new.d["params"])) > config.loss.clip


def test_wgan_gp_penalty_equals_finite_differences_on_a_small_critic():
    with jax.enable_x64(True):
        critic = WGANGPMNISTCritic(dim=2)
        params = critic.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1), jnp.float64))
        params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)
        d = lambda x: critic.apply(params, x)
        real = jax.random.uniform(jax.random.key(1), (2, 28, 28, 1), jnp.float64, -1, 1)
        fake = jax.random.uniform(jax.random.key(2), (2, 28, 28, 1), jnp.float64, -1, 1)
        key = jax.random.key(3)
        penalty = losses.gradient_penalty(d, real, fake, key)

        eps = jax.random.uniform(key, (2, 1, 1, 1), jnp.float64)  # the interpolates the penalty takes
        x_hat = eps * real + (1 - eps) * fake
        h, basis = 1e-6, jnp.eye(28 * 28, dtype=jnp.float64).reshape(-1, 28, 28, 1)
        norms = []
        for x in x_hat:
            grad = (d(x + h * basis) - d(x - h * basis)) / (2 * h)  # central differences, one pixel each
            norms.append(jnp.linalg.norm(grad))
        want = np.mean((np.asarray(norms) - 1.0) ** 2)
    assert float(penalty) == pytest.approx(float(want), rel=1e-6)
    assert want > 1e-3  # a penalty far from 0: the comparison is not of two zeros


def test_began_k_follows_the_balance_and_is_clipped_to_0_1():
    config = smoke("began")
    trainer = get_trainer(config)
    state = jax.jit(trainer.init_state)(jax.random.key(0))
    images = jax.random.uniform(jax.random.key(1), (1, 8, 8, 8, 1), minval=-1, maxval=1)
    step = jax.jit(trainer.train_step)
    new, m = step(state.replace(k=jnp.float32(0.5)), {"image": images})
    balance = config.loss.gamma * m["d_loss_real"] - m["d_loss_fake"]
    assert float(new.k) == pytest.approx(0.5 + config.loss.lambda_k * float(balance), abs=1e-7)
    assert float(m["measure"]) == pytest.approx(float(m["d_loss_real"] + abs(balance)), rel=1e-6)
    assert float(m["d_loss"]) == pytest.approx(float(m["d_loss_real"] - 0.5 * m["d_loss_fake"]), rel=1e-5)
    high = step(state.replace(k=jnp.float32(1.0) - 1e-7), {"image": images})[0].k
    low = step(state.replace(k=jnp.float32(1e-7)), {"image": images})[0].k
    assert float(high) == 1.0 if balance > 0 else float(low) == 0.0


def test_began_learning_rate_halves_every_100k_steps_down_to_2e_5():
    opt = load("began_celeba.py").optim.g
    rates = [float(learning_rate(opt, s, 500_000)) for s in (0, 99_999, 100_000, 200_000, 300_000, 499_999)]
    assert rates == pytest.approx([8e-5, 8e-5, 4e-5, 2e-5, 2e-5, 2e-5])
    linear = ml_collections.ConfigDict(dict(schedule="linear", lr=2e-4))
    assert float(learning_rate(linear, 25_000, 100_000)) == pytest.approx(1.5e-4)


def test_pulling_away_term():
    rng = np.random.default_rng(0)
    s = rng.standard_normal((6, 10)).astype(np.float32)
    unit = s / np.linalg.norm(s, axis=1, keepdims=True)
    cos = unit @ unit.T
    want = (np.sum(cos ** 2) - 6) / (6 * 5)
    assert float(pulling_away(jnp.asarray(s))) == pytest.approx(want, rel=1e-5)
    assert float(pulling_away(jnp.eye(4))) == pytest.approx(0.0, abs=1e-7)  # orthogonal: nothing to pull apart
    assert float(pulling_away(jnp.ones((3, 5)))) == pytest.approx(1.0)


@pytest.mark.parity
def test_rmsprop_is_torchs():
    torch = pytest.importorskip("torch")
    trainer = get_trainer(load("wgan_mnist.py"))
    grads = np.random.default_rng(0).standard_normal((4, 7)).astype(np.float32)
    param = torch.nn.Parameter(torch.zeros(7))
    opt = torch.optim.RMSprop([param], lr=5e-5)  # the WGAN reference's optimizer, torch's defaults
    p, state = jnp.zeros(7), trainer.d_tx.init(jnp.zeros(7))
    for g in grads:
        param.grad = torch.from_numpy(g)
        opt.step()
        direction, state = trainer.d_tx.update(jnp.asarray(g), state, p)
        p = p - 5e-5 * direction
    np.testing.assert_allclose(np.asarray(p), param.detach().numpy(), rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("name, overrides, g, d", [
    ("dcgan_lsun_bedroom.py", (), 3_576_704, 2_765_568),
    ("dcgan_cifar10.py", (), 1_068_928, 663_296),
    ("wgan_gp_mnist.py", ("--config.model.g.dim=64", "--config.model.d.dim=64"), 1_554_177, 1_030_145),
    ("began_celeba.py", (), 1_716_611, 13_405_379),
])
def test_train_step_dry_run_prints_the_references_parameter_counts(name, overrides, g, d):
    from benchmarks import train_step

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        train_step.main(["--config", str(REPO / "configs" / name), "--dry-run", *overrides])
    assert json.loads(out.getvalue().splitlines()[-1])["params"] == {"g": g, "d": d}


@pytest.mark.parametrize("overrides, message", [
    (("--config.loss.name=began",), "'began' needs an autoencoder discriminator; config.model.arch 'dcgan' has a critic"),
    (("--config.loss.name=wgan_gp",), "BatchNorm in the critic couples.*'dcgan' has BatchNorm in D"),
    (("--config.loss.name=hinge",), "unknown config.loss.name 'hinge'"),
    (("--config.model.arch=resnet",), "unknown config.model.arch 'resnet'"),
])
def test_inconsistent_configs_are_one_line_errors_naming_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        get_trainer(load("dcgan_mnist.py", "", *overrides))


def test_began_refuses_several_d_steps():
    with pytest.raises(ValueError, match="train.num_d_steps must be 1"):
        get_trainer(load("began_mnist.py", "", "--config.train.num_d_steps=2"))


def test_data_of_another_shape_is_refused_naming_the_config():
    config = load("wgan_gp_mnist.py", "", "--config.data.image_size=32")
    data = type("Data", (), {"image_shape": (32, 32, 1)})()
    with pytest.raises(ValueError, match=r"config.data gives \(32, 32, 1\) images .* makes \(28, 28, 1\)"):
        get_trainer(config).check_data(data)


@pytest.mark.slow
@pytest.mark.parametrize("run", ["wgan_gp"], indirect=True)  # 28x28 digits: the benchmark pads them to 32x32
def test_unconditional_quality_benchmark_scores_a_run_against_its_untrained_generator(run):
    from benchmarks import unconditional_quality

    _, _, workdir, _, _ = run
    with contextlib.redirect_stdout(io.StringIO()):
        first, result = unconditional_quality.main(["--workdir", str(workdir), "--config",
                                                    str(REPO / "configs" / "wgan_gp_mnist.py:smoke"), "--epochs",
                                                    "1", "--num-samples", "40", "--step", "2", "--step", "4"])
    assert first["step"] == 2 and first["untrained_frechet_distance"] == result["untrained_frechet_distance"]
    assert first["frechet_distance"] != result["frechet_distance"]
    assert result["step"] == 4 and result["num_samples"] == 40 and len(result["coverage"]) == 10
    assert sum(result["coverage"]) == pytest.approx(1.0) and result["min_coverage"] == min(result["coverage"])
    assert result["improvement"] == pytest.approx(result["untrained_frechet_distance"] / result["frechet_distance"])
    assert result["frechet_distance"] > result["real_frechet_distance"] > 0
    assert 0.5 < result["classifier_accuracy"] <= 1
