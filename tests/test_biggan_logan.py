"""LOGAN in the BigGAN family (config.logan, config.model.z_prior): the latent
step equals its closed form in numpy (mask, clip and cost included); one D
update and one G update with LOGAN equal a gradient step on the loss written
out here from StudioGAN's worker and latent_optimise, the latent steps taken
by the test itself with jax.grad (SGD with rate 1 stands in for Adam, so the
update is the gradient); the gradient goes through the steps; StudioGAN's
CIFAR-10 LOGAN config trains its smoke run and has its networks' counts;
samples with LOGAN take the steps against D, in the trainer and in the
Generator of a checkpoint; bad settings are one-line errors."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import checkpoint, configs, parallel, sampling, train
from jaxgan.generator import Generator
from jaxgan.state import count_params
from jaxgan.trainers import get_trainer
from jaxgan.trainers import biggan as biggan_trainer
from jaxgan.trainers.biggan import build_models

REPO = Path(__file__).resolve().parents[1]
ALPHA, BETA, RATE, COST = 0.9, 0.1, 0.8, 0.1  # StudioGAN's LOGAN.yaml


def load(name="logan", **overrides):
    """configs/studiogan_{name}_cifar10.py:smoke; overrides {'section.field': value}."""
    c = configs.load(f"{REPO}/configs/studiogan_{name}_cifar10.py:smoke")
    with c.unlocked():
        for field, value in overrides.items():
            *path, key = field.split(".")
            node = c
            for part in path:
                node = node[part]
            node[key] = value
    return c


# ------------------------------------------------------------ the latent step
def _np_steps(z, draws, grad, bound):
    """The latent steps in numpy from the definition: dz = alpha g / (beta + |g|^2)
    per example, taken where draw < rate, z clipped to [-bound, bound]; the cost
    sums mean_i |dz_i|^2 of every example over the steps."""
    cost = 0.0
    for u in draws:
        g = grad(z)
        dz = ALPHA * g / (BETA + np.sum(g * g, axis=1, keepdims=True))
        z = z + (u < RATE)[:, None] * dz
        if bound is not None:
            z = np.clip(z, -bound, bound)
        cost += np.mean(np.sum(dz * dz, axis=1))
    return z, cost


@pytest.mark.parametrize("bound", [None, 1.0])
def test_the_latent_step_equals_its_closed_form_in_numpy(bound):
    # score_i(z) = w . tanh(z_i) + c |z_i|^2 / 2: its gradient is w (1 - tanh^2 z_i) + c z_i.
    rng = np.random.default_rng(0)
    n, dim = 6, 5
    w, c = rng.normal(size=dim), 0.7
    z0 = rng.uniform(-1, 1, size=(n, dim))
    draws = np.array([[0.1, 0.9, 0.3, 0.85, 0.5, 0.2], [0.95, 0.1, 0.7, 0.3, 0.81, 0.0]])  # both kinds each step
    score = lambda z, state: (jnp.tanh(z) @ jnp.asarray(w, jnp.float32) + 0.5 * c * jnp.sum(z * z, 1), state + 1)
    z, cost, calls = sampling.latent_optimise(score, jnp.asarray(z0, jnp.float32), jnp.asarray(draws, jnp.float32),
                                              alpha=ALPHA, beta=BETA, rate=RATE, bound=bound, state=jnp.int32(0))
    want_z, want_cost = _np_steps(z0, draws, lambda z: w * (1 - np.tanh(z) ** 2) + c * z, bound)
    np.testing.assert_allclose(np.asarray(z), want_z, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(cost), want_cost, rtol=1e-5)
    assert int(calls) == 2  # the state is threaded through each step
    # Example 1 skips step 0 (draw 0.9 >= rate): a skipped step leaves z alone.
    first, _, _ = sampling.latent_optimise(score, jnp.asarray(z0, jnp.float32), jnp.asarray(draws[:1], jnp.float32),
                                           alpha=ALPHA, beta=BETA, rate=RATE, bound=bound, state=jnp.int32(0))
    np.testing.assert_allclose(np.asarray(first)[1], z0[1], rtol=1e-6)
    assert np.abs(np.asarray(first)[0] - z0[0]).max() > 1e-2
    if bound is not None:  # some coordinates were pushed past the prior's range
        assert np.abs(want_z).max() == 1.0


def test_the_gradient_goes_through_the_step():
    # d/dtheta of |z'|^2, z' = z + dz(theta) for score theta . tanh(z): through g
    # (second order, torch's create_graph=True), against central differences in numpy.
    rng = np.random.default_rng(1)
    z0, theta0 = rng.uniform(-1, 1, size=(3, 4)), rng.normal(size=4)

    def np_objective(theta):
        z, cost = _np_steps(z0, np.zeros((2, 3)), lambda z: theta * (1 - np.tanh(z) ** 2), None)
        return np.sum(z ** 2) + cost

    def objective(theta):
        score = lambda z, s: (jnp.tanh(z) @ theta, s)
        z, cost, _ = sampling.latent_optimise(score, jnp.asarray(z0, jnp.float32), jnp.zeros((2, 3)), alpha=ALPHA,
                                              beta=BETA, rate=RATE)
        return jnp.sum(z ** 2) + cost

    grad = np.asarray(jax.grad(objective)(jnp.asarray(theta0, jnp.float32)))
    h = 1e-6
    numeric = [(np_objective(theta0 + h * e) - np_objective(theta0 - h * e)) / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-5)
    assert np.abs(grad).max() > 0.1


def test_the_latent_step_ascends_d():
    # A linear score w . z: dz is along w, so every example that steps scores higher.
    w = jnp.asarray([1.0, -2.0, 0.5])
    score = lambda z, s: (z @ w, s)
    z0 = jax.random.normal(jax.random.key(0), (4, 3))
    z, cost, _ = sampling.latent_optimise(score, z0, jnp.zeros((1, 4)), alpha=ALPHA, beta=BETA, rate=RATE)
    np.testing.assert_allclose(np.asarray(z - z0), np.tile(ALPHA * w / (BETA + w @ w), (4, 1)), rtol=1e-6)
    assert np.all(np.asarray(score(z, None)[0] > score(z0, None)[0]))
    np.testing.assert_allclose(float(cost), ALPHA ** 2 * float(w @ w) / (BETA + float(w @ w)) ** 2, rtol=1e-6)


def test_the_step_mask_is_drawn_per_example_at_the_rate():
    key = jax.random.key(5)
    draws = sampling.latent_step_draws(key, 3, 10)
    assert draws.shape == (3, 10)
    # Example i's draws do not depend on the batch it is in.
    np.testing.assert_array_equal(np.asarray(draws)[:, 4:7], np.asarray(sampling.latent_step_draws(key, 3, 3, 4)))
    share = float(jnp.mean(sampling.latent_step_draws(key, 2, 20_000) < RATE))
    assert abs(share - RATE) < 0.01


def test_the_uniform_prior_draws_in_the_unit_box_and_the_normal_one_is_unchanged():
    key = jax.random.key(1)
    z, y = sampling.draw_inputs(key, 4000, 8, None, prior="uniform")
    assert y is None and float(z.min()) >= -1 and float(z.max()) <= 1
    assert abs(float(z.mean())) < 0.02 and abs(float(z.var()) - 1 / 3) < 0.02
    z, _ = sampling.draw_inputs(key, 3, 8, 10)
    np.testing.assert_array_equal(np.asarray(z), np.asarray(jax.random.normal(jax.random.split(key)[0], (3, 8))))
    with pytest.raises(ValueError, match="config.model.z_prior 'uniform'"):
        sampling.draw_inputs(key, 3, 8, None, truncation=0.5, prior="uniform")


# ----------------------------------------------------- the updates, written out
def _split_vars(variables):
    return variables["params"], {c: v for c, v in variables.items() if c != "params"}


def _assert_trees_close(a, b, atol, of_largest=False):
    flat_a, tree_a = jax.tree_util.tree_flatten_with_path(jax.device_get(a))
    flat_b, tree_b = jax.tree_util.tree_flatten(jax.device_get(b))
    assert tree_a == tree_b
    for (path, x), y in zip(flat_a, flat_b):
        tol = atol * max(1.0, float(np.max(np.abs(y)))) if of_largest else atol
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=tol, err_msg=jax.tree_util.keystr(path))


def _steps_written_out(G, D, g_params, d_params, aux, z, y, draws, bound):
    """StudioGAN's latent_optimise, one step per row of draws: G and D in train
    mode, the gradient through each step's g; returns (z, cost, (g_aux, d_aux))."""
    cost = 0.0
    for u in draws:
        def summed(z, aux=aux):
            images, g_aux = G.apply({"params": g_params, **aux[0]}, z, y, train=True, mutable=list(aux[0]))
            out, d_aux = D.apply({"params": d_params, **aux[1]}, images, y, train=True, mutable=list(aux[1]))
            return jnp.sum(out), (g_aux, d_aux)

        g, aux = jax.grad(summed, has_aux=True)(z)
        dz = ALPHA * g / (BETA + jnp.sum(g ** 2, axis=1, keepdims=True))
        z = z + (u < RATE).astype(z.dtype)[:, None] * dz
        z = jnp.clip(z, -bound, bound) if bound else z
        cost = cost + jnp.mean(jnp.sum(dz ** 2, axis=1))
    return z, cost, aux


@pytest.mark.slow
def test_d_and_g_updates_with_logan_are_gradient_steps_on_the_loss_written_out():
    # The LOGAN config made class-conditional (projection D, per-class BN gains
    # in G); z ~ U(-1, 1) is clipped after its step. (Several steps are one
    # scan of the same step: see the closed-form tests above.)
    config = load("logan", **{"data.num_classes": 10})
    trainer = get_trainer(config)
    trainer.d_tx = trainer.g_tx = optax.sgd(1.0)
    state = jax.jit(trainer.init_state)(jax.random.key(0))
    state = state.replace(d_opt=trainer.d_tx.init(state.d["params"]), g_opt=trainer.g_tx.init(state.g["params"]))
    G, D = trainer.G, trainer.D
    B = 8
    real = jax.random.uniform(jax.random.key(1), (B, 32, 32, 3), minval=-1, maxval=1)
    labels = jnp.asarray([0, 1, 2, 3, 4, 5, 6, 7])
    g_params, g_aux0 = _split_vars(state.g)
    d_params, d_aux0 = _split_vars(state.d)
    # The written-out losses take every array as an argument: XLA folds the
    # constants of a closure with other arithmetic, which the second-order
    # terms amplify to 1e-3 of the largest gradient (the trainer's and these
    # agree to 1e-7 of it with float64 otherwise).

    # ---- D: the worker's discriminator step; z's steps run against the D being trained
    key = jax.random.key(3)
    new, d_metrics = jax.jit(trainer._d_update)(state, real, labels, key)
    mkey = jax.random.split(key, 1)[0]
    kz, _ = jax.random.split(mkey)
    z, y_fake = trainer.sample_inputs(kz, B)
    draws = sampling.latent_step_draws(jax.random.fold_in(mkey, 5), 1, B)
    assert 0 < int(jnp.sum(draws < RATE)) < draws.size  # some examples skip a step

    def d_loss(params, g_params, aux, z, y_fake, real, labels, draws):
        z_opt, cost, (g_aux, d_aux) = _steps_written_out(G, D, g_params, params, aux, z, y_fake, draws, 1.0)
        fake, g_aux = G.apply({"params": g_params, **g_aux}, z_opt, y_fake, train=True, mutable=list(g_aux))
        out, d_aux = D.apply({"params": params, **d_aux}, jnp.concatenate([fake, real]),
                             jnp.concatenate([y_fake, labels]), train=True, mutable=list(d_aux))
        d_fake, d_real = jnp.split(out, 2)
        total = jnp.mean(jax.nn.relu(1 - d_real)) + jnp.mean(jax.nn.relu(1 + d_fake)) + COST * cost
        return total, (g_aux, d_aux, cost)

    grads, (g_aux, d_aux, cost) = jax.jit(jax.grad(d_loss, has_aux=True))(
        d_params, g_params, (g_aux0, d_aux0), z, y_fake, real, labels, draws)
    _assert_trees_close(new.d, {"params": jax.tree_util.tree_map(lambda p, g: p - g, d_params, grads), **d_aux},
                        atol=1e-5, of_largest=True)
    _assert_trees_close(new.g, {"params": g_params, **g_aux}, atol=1e-6)  # G's BN statistics and SN vectors
    np.testing.assert_allclose(float(d_metrics["logan_cost_d"]), float(cost), rtol=1e-5)
    assert float(cost) > 0

    # ---- G: the worker's generator step; z's steps run against the G being trained
    key = jax.random.key(4)
    new, g_metrics = jax.jit(trainer._g_update)(state, key)
    mkey = jax.random.split(key, 1)[0]
    z, y = trainer.sample_inputs(mkey, B)
    draws = sampling.latent_step_draws(jax.random.fold_in(mkey, 3), 1, B)

    def g_loss(params, d_params, aux, z, y, draws):
        z_opt, cost, (g_aux, d_aux) = _steps_written_out(G, D, params, d_params, aux, z, y, draws, 1.0)
        fake, g_aux = G.apply({"params": params, **g_aux}, z_opt, y, train=True, mutable=list(g_aux))
        logits, d_aux = D.apply({"params": d_params, **d_aux}, fake, y, train=True, mutable=list(d_aux))
        return -jnp.mean(logits) + COST * cost, (g_aux, d_aux, cost)

    grads, (g_aux, d_aux, cost) = jax.jit(jax.grad(g_loss, has_aux=True))(
        g_params, d_params, (g_aux0, d_aux0), z, y, draws)
    _assert_trees_close(new.g, {"params": jax.tree_util.tree_map(lambda p, g: p - g, g_params, grads), **g_aux},
                        atol=1e-5, of_largest=True)
    _assert_trees_close(new.d, {"params": d_params, **d_aux}, atol=1e-6)  # D's SN vectors
    np.testing.assert_allclose(float(g_metrics["logan_cost_g"]), float(cost), rtol=1e-5)


# ------------------------------------------------------ the smoke run, sampling
class _CountingD:
    """A D whose `apply` counts its calls."""

    def __init__(self, module):
        self.module, self.calls = module, 0

    def apply(self, *args, **kwargs):
        self.calls += 1
        return self.module.apply(*args, **kwargs)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The LOGAN config's smoke run, 2 steps of one D update each (the G
    update then runs behind the CPU's ordering conditional, whose unreachable
    branch must list LOGAN's metric)."""
    config = load("logan", **{"train.num_d_steps": 1, "train.num_steps": 2, "logan.eval_steps": 2})
    workdir = tmp_path_factory.mktemp("logan")
    summary = train.train_and_evaluate(config, str(workdir))
    return config, workdir, summary


@pytest.mark.slow
def test_the_logan_config_trains_its_smoke_run(run):
    config, workdir, summary = run
    assert summary["step"] == 2 and summary["step_traces"] == 1
    metrics = summary["metrics"]
    assert all(np.isfinite(v) for v in metrics.values())
    assert metrics["logan_cost_d"] > 0 and metrics["logan_cost_g"] > 0
    assert (workdir / "samples" / "samples_ema_00000002.png").exists()


@pytest.mark.slow
def test_samples_with_logan_take_the_steps_against_d_in_the_trainer_and_the_generator(run, monkeypatch):
    config, workdir, _ = run
    trainer = get_trainer(config)
    assert (trainer.logan_steps, trainer.logan_eval_steps) == (1, 2)
    _, abstract = train.create_state(trainer, config, parallel.make_mesh())
    ckpt = checkpoint.Checkpointer(str(workdir))
    state, _ = ckpt.restore(abstract, 2)
    ckpt.close()
    key = jax.random.fold_in(jax.random.key(config.seed), 1)  # the grid's
    z, y = train.grid_inputs(trainer, config)
    assert y is None and float(jnp.abs(z).max()) <= 1

    counting = trainer.D = _CountingD(trainer.D)
    grid = np.asarray(jax.jit(trainer.sample_grid)(state, (z, y)))
    assert counting.calls > 0
    plain = np.asarray(jax.jit(trainer.sample)(state.g_ema, z, y))
    assert np.abs(grid - plain).max() > 1e-3

    # The same written out: 2 steps, G and D in eval mode, z clipped to [-1, 1].
    G, D = trainer.G, counting.module

    def written_out(g_vars, d_vars, z, draws):
        for u in draws:
            g = jax.grad(lambda z: jnp.sum(D.apply(d_vars, G.apply(g_vars, z))))(z)
            z = jnp.clip(z + (u < RATE)[:, None] * ALPHA * g / (BETA + jnp.sum(g ** 2, 1, keepdims=True)), -1, 1)
        return G.apply(g_vars, z)

    draws = sampling.latent_step_draws(key, 2, z.shape[0])
    np.testing.assert_allclose(grid, np.asarray(jax.jit(written_out)(state.g_ema, state.d, z, draws)), rtol=0,
                               atol=1e-5)

    # The evaluator's images (FID, IS, KID) take them too, their mask drawn from each batch's key.
    monkeypatch.setattr(biggan_trainer, "ImageEvaluator", lambda config, workdir, mesh, generate, resolution: generate)
    generate = trainer.evaluator("", None)
    eval_key = jax.random.key(7)
    z_eval, _ = trainer.sample_inputs(eval_key, z.shape[0])
    np.testing.assert_allclose(np.asarray(generate(state, eval_key, z.shape[0])), np.asarray(jax.jit(written_out)(
        state.g_ema, state.d, z_eval, sampling.latent_step_draws(eval_key, 2, z.shape[0]))), rtol=0, atol=1e-5)

    # --mode sample's Generator takes the same steps with the run's D, in any batch.
    gen = Generator.from_checkpoint(str(workdir), config, mesh=parallel.make_mesh(jax.devices()[:1]))
    assert gen.latent is not None and gen.z_prior == "uniform"
    np.testing.assert_allclose(gen.generate(z, key=key, batch_size=3, uint8=False), grid, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="config.model.z_prior 'uniform'"):
        gen.sample(0, 2, truncation=0.5)

    # Without LOGAN at sampling (eval_steps 0), D is not called.
    config = config.copy_and_resolve_references()
    with config.unlocked():
        config.logan.eval_steps = 0
    off = get_trainer(config)
    counting = off.D = _CountingD(off.D)
    np.testing.assert_allclose(np.asarray(jax.jit(off.sample_grid)(state, (z, y))), plain, rtol=0, atol=1e-6)
    assert counting.calls == 0


# ------------------------------------------------------------- configs, errors
def test_logan_is_off_by_default_and_the_logan_config_has_studiogans_counts():
    from jaxgan.configs import biggan

    base = biggan.get_config()
    assert base.logan.steps == 0 and base.model.z_prior == "normal"
    trainer = get_trainer(load("biggan"))
    assert (trainer.logan_steps, trainer.logan_eval_steps, trainer.z_prior) == (0, 0, "normal")
    # StudioGAN's models/resnet.py at 32x32 (g_conv_dim 64, d_conv_dim 64, z_dim
    # 128, unconditional): sum(p.numel()) of its Generator and Discriminator.
    config = configs.load(f"{REPO}/configs/studiogan_logan_cifar10.py")
    assert (config.logan.steps, config.logan.eval_steps, config.model.z_prior) == (1, 9, "uniform")
    g, d = build_models(config)
    g_vars = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((2, 128)), None)
    d_vars = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((2, 32, 32, 3)), None)
    assert (count_params(g_vars["params"]), count_params(d_vars["params"])) == (4_276_739, 1_053_825)


@pytest.mark.parametrize("overrides, message", [
    ({"logan.steps": -1}, "config.logan.steps must be >= 0"),
    ({"logan.eval_steps": -2}, "config.logan.eval_steps must be >= 0"),
    ({"logan.alpha": 0.0}, "config.logan.alpha"),
    ({"logan.beta": 0.0}, "config.logan.beta must be > 0"),
    ({"logan.rate": 1.5}, "config.logan.rate"),
    ({"logan.rate": 0.0}, "config.logan.rate"),
    ({"logan.cost_weight": -0.1}, "config.logan.cost_weight must be >= 0"),
    ({"model.z_prior": "gaussian"}, "config.model.z_prior must be one of"),
])
def test_bad_logan_settings_are_one_line_errors_naming_the_field(overrides, message):
    with pytest.raises(ValueError) as e:
        get_trainer(load("logan", **overrides))
    assert message in str(e.value) and "\n" not in str(e.value)
