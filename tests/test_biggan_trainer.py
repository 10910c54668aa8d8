"""What the BigGAN trainer's settings do inside a step: the EMA's start and
decay, the gradient penalty and R1 in D's update, the learning-rate schedules."""

from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxgan import configs
from jaxgan.trainers import get_trainer
from jaxgan.trainers.biggan import learning_rate

REPO = Path(__file__).resolve().parents[1]


def _smoke():
    """biggan_128:smoke with one D step and no accumulation."""
    config = configs.load(f"{REPO / 'configs' / 'biggan_128.py'}:smoke")
    return _set(config, train__num_d_steps=1, train__grad_accum_steps=1)


def _set(config, **fields):
    """config with fields set, given as section__field=value."""
    with config.unlocked():
        for path, value in fields.items():
            *parents, field = path.split("__")
            node = config
            for p in parents:
                node = node[p]
            node[field] = value
    return config


def _batch(config, seed=0):
    rng = np.random.default_rng(seed)
    b, res = config.train.batch_size, config.model.resolution
    return {"image": rng.uniform(-1, 1, (1, b, res, res, 3)).astype(np.float32),
            "label": rng.integers(0, config.data.num_classes, (1, b)).astype(np.int32)}


def _tree_close(a, b, **kw):
    for (path, x), y in zip(jax.tree_util.tree_flatten_with_path(a)[0], jax.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), err_msg=jax.tree_util.keystr(path), **kw)


def _init(trainer):
    return jax.jit(trainer.init_state)(jax.random.key(0))


def test_ema_copies_g_before_its_start_step_then_averages_with_its_decay():
    trainer = get_trainer(_set(_smoke(), ema__start_step=2, ema__decay=0.75))
    state = _init(trainer)
    ema = jax.jit(trainer._ema_update)
    moved = lambda g, by: jax.tree_util.tree_map(lambda x: x + by, g)  # G after an update
    # The step count after the update decides: step 1 < start_step 2 copies G.
    s1 = ema(state.replace(step=jnp.int32(1), g=moved(state.g, 0.5)))
    for collection in ("params", "batch_stats"):
        _tree_close(s1.g_ema[collection], s1.g[collection], rtol=0, atol=0)
    # From step 2: decay * previous EMA + (1 - decay) * G, for params and BN
    # statistics; the SN vectors are averaged, then made unit again.
    s2 = ema(s1.replace(step=jnp.int32(2), g=moved(s1.g, 1.0)))
    for collection in ("params", "batch_stats"):
        expected = jax.tree_util.tree_map(lambda e, g: 0.75 * e + 0.25 * g, s1.g_ema[collection], s2.g[collection])
        _tree_close(s2.g_ema[collection], expected, rtol=1e-6, atol=1e-6)
    for u, g_u in zip(jax.tree_util.tree_leaves(s2.g_ema["spectral"]), jax.tree_util.tree_leaves(s2.g["spectral"])):
        assert np.linalg.norm(np.asarray(u)) == pytest.approx(1.0, rel=1e-5)
        assert not np.allclose(u, g_u)


def _d_update(config):
    trainer = get_trainer(config)
    batch = _batch(config)
    update = jax.jit(lambda s: trainer._d_update(s, batch["image"][0], batch["label"][0], jax.random.key(1)))
    return update(_init(trainer))


@pytest.mark.parametrize("field, metric", [("gp_weight", "gradient_penalty"), ("r1_gamma", "r1_penalty")])
def test_gradient_penalty_and_r1_enter_the_d_update(field, metric):
    state, metrics = _d_update(_smoke())
    assert metric not in metrics
    reg_state, reg_metrics = _d_update(_set(_smoke(), **{f"reg__{field}": 10.0}))
    assert np.isfinite(reg_metrics[metric]) and reg_metrics[metric] > 0
    # The same losses before the update, a different D after it: the penalty's gradient was added.
    assert reg_metrics["d_loss_real"] == pytest.approx(float(metrics["d_loss_real"]), rel=1e-5)
    d_kernel = lambda s: np.asarray(s.d["params"]["linear"]["kernel"])
    assert np.abs(d_kernel(reg_state) - d_kernel(state)).max() > 1e-6


def _opt(lr=1.0, warmup_steps=0, decay="constant"):
    return ml_collections.ConfigDict(dict(lr=lr, warmup_steps=warmup_steps, decay=decay))


def test_learning_rate_schedules():
    assert learning_rate(_opt(2e-4), 100) == 2e-4
    warm = learning_rate(_opt(warmup_steps=10), 100)
    assert [float(warm(s)) for s in (0, 5, 10, 50)] == pytest.approx([0.0, 0.5, 1.0, 1.0])
    cosine = learning_rate(_opt(warmup_steps=10, decay="cosine"), 110)
    assert [float(cosine(s)) for s in (0, 10, 60, 110)] == pytest.approx([0.0, 1.0, 0.5, 0.0], abs=1e-6)
    linear = learning_rate(_opt(warmup_steps=10, decay="linear"), 110)
    assert [float(linear(s)) for s in (5, 10, 60, 110)] == pytest.approx([0.5, 1.0, 0.5, 0.0], abs=1e-6)
    with pytest.raises(ValueError, match="optim decay must be"):
        learning_rate(_opt(decay="step"), 100)


def test_the_trainers_optimizers_follow_their_schedules():
    # D warms up from 0, G does not: D's first update moves nothing, G's does.
    trainer = get_trainer(_set(_smoke(), optim__d__warmup_steps=4))
    params = {"w": jnp.ones((3,))}
    grads = {"w": jnp.array([1.0, -2.0, 0.5])}
    d_first, d_opt = trainer.d_tx.update(grads, trainer.d_tx.init(params), params)
    np.testing.assert_array_equal(d_first["w"], 0.0)
    d_second, _ = trainer.d_tx.update(grads, d_opt, params)
    assert np.all(np.abs(d_second["w"]) > 0)
    g_first, _ = trainer.g_tx.update(grads, trainer.g_tx.init(params), params)
    assert np.all(np.abs(g_first["w"]) > 0)


def test_gradient_accumulation_averages_the_micro_batches_gradients():
    """train.grad_accum_steps 2 on a batch of B updates with the mean of the
    gradients of its two micro-batches (examples 0, 2, 4... and 1, 3, 5...),
    each as a plain update on a batch of B / 2 computes them, with G's
    BatchNorm statistics and D's SN vectors carried from the first micro-batch
    into the second. D has no BatchNorm, so D's is the large batch's gradient."""
    big = _set(_smoke(), train__grad_accum_steps=2)
    b = big.train.batch_size
    accum, plain = get_trainer(big), get_trainer(_set(_smoke(), train__batch_size=b // 2))
    for trainer in (accum, plain):  # the update is minus the gradient, so updates average as gradients do
        trainer.g_tx = trainer.d_tx = optax.sgd(1.0)
    micro_keys = jax.random.split(jax.random.key(1), 2)
    plain._micro_keys = lambda key: key[None]  # the plain update takes the micro-batch's own key
    state = _init(accum)
    _tree_close(state.g, _init(plain).g, rtol=0, atol=0)
    batch = _batch(big)
    image, label = batch["image"][0], batch["label"][0]
    mean = lambda a, b: jax.tree_util.tree_map(lambda x, y: (x + y) / 2, a, b)
    aux = lambda v: {c: x for c, x in v.items() if c != "params"}

    got, got_metrics = jax.jit(lambda s: accum._d_update(s, image, label, jax.random.key(1)))(state)
    d_update = jax.jit(plain._d_update)
    first, m1 = d_update(state, image[0::2], label[0::2], micro_keys[0])
    second, m2 = d_update(state.replace(g={**state.g, **aux(first.g)}, d={**state.d, **aux(first.d)}),
                          image[1::2], label[1::2], micro_keys[1])
    _tree_close(got.d["params"], mean(first.d["params"], second.d["params"]), rtol=1e-5, atol=1e-6)
    _tree_close(aux(got.d), aux(second.d), rtol=1e-6, atol=1e-6)
    _tree_close(got.g, second.g, rtol=1e-6, atol=1e-6)
    want_loss = float(m1["d_loss_real"] + m2["d_loss_real"]) / 2
    assert float(got_metrics["d_loss_real"]) == pytest.approx(want_loss, rel=1e-5)
    assert np.abs(np.asarray(first.d["params"]["linear"]["kernel"]) -
                  np.asarray(second.d["params"]["linear"]["kernel"])).max() > 1e-4  # the micro-batches differ

    got, _ = jax.jit(lambda s: accum._g_update(s, jax.random.key(1)))(state)
    g_update = jax.jit(plain._g_update)
    first, _ = g_update(state, micro_keys[0])
    second, _ = g_update(state.replace(g={**state.g, **aux(first.g)}, d={**state.d, **aux(first.d)}), micro_keys[1])
    _tree_close(got.g["params"], mean(first.g["params"], second.g["params"]), rtol=1e-5, atol=1e-6)
    _tree_close(aux(got.g), aux(second.g), rtol=1e-6, atol=1e-6)
