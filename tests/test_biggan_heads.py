"""The BigGAN family's classifier heads (config.model.d.cond_head 'ac', '2c',
'd2dce'; aux_head 'tac', 'adc'): the losses equal StudioGAN's losses.py written
out in numpy; one D update and one G update with each head equal a gradient
step on the loss written out here from StudioGAN's worker (SGD with rate 1
stands in for Adam, so the update is the gradient); StudioGAN's CIFAR-10
discriminators have its parameter counts; a head's smoke config trains."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import augment, configs, losses, train
from jaxgan.state import count_params
from jaxgan.trainers import get_trainer
from jaxgan.trainers.biggan import build_models

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- the losses
# numpy, following StudioGAN's code line by line: diagonals removed by
# reshaping, masks from per-class index rows.
def _np_cosine_matrix(x, y):
    return (x @ y.T) / np.maximum(np.linalg.norm(x, axis=1)[:, None] * np.linalg.norm(y, axis=1)[None, :], 1e-8)


def _np_remove_diag(m):
    n = m.shape[0]
    return m[~np.eye(n, dtype=bool)].reshape(n, n - 1)


def _np_2c(embed, proxy, label, num_classes, t):
    sim = np.exp(_np_remove_diag(_np_cosine_matrix(embed, embed)) / t)
    mask = np.zeros((num_classes, len(label)))
    for c in range(num_classes):
        mask[c, label == c] = 1
    pos = _np_remove_diag(mask[label]) * sim
    e2p = np.exp(np.sum(embed * proxy, 1) / np.linalg.norm(embed, axis=1) / np.linalg.norm(proxy, axis=1) / t)
    return -np.mean(np.log((e2p + pos.sum(1)) / np.concatenate([e2p[:, None], sim], 1).sum(1)))


def _np_d2dce(embed, proxy, label, num_classes, t, m_p):
    sim = _np_remove_diag((_np_cosine_matrix(embed, embed) + m_p - 1) / t)
    sim = np.maximum(sim, 0) - sim.max(1, keepdims=True)
    index = np.ones((num_classes, len(label)))
    for c in range(num_classes):
        index[c, label == c] = 0
    improved = _np_remove_diag(index[label]) * np.exp(sim)
    s2p = np.sum(embed * proxy, 1) / np.linalg.norm(embed, axis=1) / np.linalg.norm(proxy, axis=1)
    pos = np.maximum((m_p - s2p) / t, 0)
    return np.mean(pos + np.log(np.exp(-pos) + improved.sum(1)))


def test_the_head_losses_equal_studiogans_written_out_in_numpy():
    rng = np.random.default_rng(0)
    n, k, dim = 12, 4, 6
    label = rng.integers(0, k, n)
    embed, proxy = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
    logits = rng.normal(size=(n, k)) * 3
    ce = -np.mean(logits[np.arange(n), label] - np.log(np.exp(logits).sum(1)))
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    np.testing.assert_allclose(float(losses.class_cross_entropy(f32(logits), jnp.asarray(label))), ce, rtol=1e-5)
    for t in (1.0, 0.5):
        np.testing.assert_allclose(float(losses.conditional_contrastive(f32(embed), f32(proxy), jnp.asarray(label), t)),
                                   _np_2c(embed, proxy, label, k, t), rtol=1e-5)
        got = losses.data_to_data_cross_entropy(f32(embed), f32(proxy), jnp.asarray(label), t, 0.98)
        np.testing.assert_allclose(float(got), _np_d2dce(embed, proxy, label, k, t, 0.98), rtol=1e-5)


# --------------------------------------------------- the updates, written out
def _torch_like_ce(logits, labels):
    return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(labels.shape[0]), labels])


def _cos_matrix(e):
    return (e @ e.T) / jnp.maximum(jnp.linalg.norm(e, axis=1)[:, None] * jnp.linalg.norm(e, axis=1)[None, :], 1e-8)


def _without_diag(m):
    n = m.shape[0]
    return m[np.where(~np.eye(n, dtype=bool))].reshape(n, n - 1)


def _jnp_2c(embed, proxy, label, t):
    sim = jnp.exp(_without_diag(_cos_matrix(embed)) / t)
    pos = _without_diag((label[:, None] == label[None, :]).astype(jnp.float32)) * sim
    e2p = jnp.exp(jnp.sum(embed * proxy, 1) / jnp.linalg.norm(embed, axis=1) / jnp.linalg.norm(proxy, axis=1) / t)
    return -jnp.mean(jnp.log((e2p + pos.sum(1)) / (e2p + sim.sum(1))))


def _jnp_d2dce(embed, proxy, label, t, m_p):
    sim = _without_diag((_cos_matrix(embed) + m_p - 1) / t)
    sim = jax.nn.relu(sim) - jax.lax.stop_gradient(sim.max(1, keepdims=True))
    improved = _without_diag((label[:, None] != label[None, :]).astype(jnp.float32)) * jnp.exp(sim)
    s2p = jnp.sum(embed * proxy, 1) / jnp.linalg.norm(embed, axis=1) / jnp.linalg.norm(proxy, axis=1)
    pos = jax.nn.relu((m_p - s2p) / t)
    return jnp.mean(pos + jnp.log(jnp.exp(-pos) + improved.sum(1)))


def _head_loss(config, heads, labels, prefix=""):
    c = config.cond_loss
    head = config.model.d.cond_head
    if head == "ac":
        return _torch_like_ce(heads[prefix + "cls"], labels)
    embed, proxy = heads[prefix + "embed"], heads[prefix + "proxy"]
    if head == "2c":
        return _jnp_2c(embed, proxy, labels, c.temperature)
    return _jnp_d2dce(embed, proxy, labels, c.temperature, c.margin)


def head_config(name, overrides=None):
    """A head config's smoke variant; overrides {'section.field': value}, 'g.' / 'd.' for config.model.g / d."""
    c = configs.load(f"{REPO}/configs/studiogan_{name}_cifar10.py:smoke")
    with c.unlocked():
        for field, value in (overrides or {}).items():
            section, key = field.split(".")
            (c.model[section] if section in ("g", "d") else c[section])[key] = value
    return c


def _split_vars(variables):
    return variables["params"], {c: v for c, v in variables.items() if c != "params"}


def _assert_trees_close(a, b, atol, of_largest=False):
    flat_a, tree_a = jax.tree_util.tree_flatten_with_path(jax.device_get(a))
    flat_b, tree_b = jax.tree_util.tree_flatten(jax.device_get(b))
    assert tree_a == tree_b
    for (path, x), y in zip(flat_a, flat_b):
        tol = atol * max(1.0, float(np.max(np.abs(y)))) if of_largest else atol
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=tol, err_msg=jax.tree_util.keystr(path))


# (config, overrides): every head and aux head, each config once (ADC-GAN
# trains below). TAC-GAN with CR (the class logits join the consistency
# term); ContraGAN-ADC (20 proxies); ReACGAN-TAC (the twin's own embedding
# and proxies), with StudioGAN's ReACGAN-TAC weights 0.5. Attention is off:
# these tests check the heads, and each program compiles in less time.
CASES = {
    "ac_tac_cr": ("tacgan", {"reg.cr_weight": 10.0}),
    "2c_adc": ("contragan", {"d.aux_head": "adc"}),
    "d2dce_tac": ("reacgan", {"d.aux_head": "tac", "cond_loss.tac_d_weight": 0.5, "cond_loss.tac_g_weight": 0.5}),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_d_and_g_updates_with_a_head_are_gradient_steps_on_the_loss_written_out(case):
    name, overrides = CASES[case]
    config = head_config(name, {**overrides, "d.attention": (), "g.attention": ()})
    trainer = get_trainer(config)
    trainer.d_tx = trainer.g_tx = optax.sgd(1.0)
    state = jax.jit(trainer.init_state)(jax.random.key(0))
    state = state.replace(d_opt=trainer.d_tx.init(state.d["params"]), g_opt=trainer.g_tx.init(state.g["params"]))
    G, D = trainer.G, trainer.D
    c, aux_head = config.cond_loss, config.model.d.aux_head
    adc = aux_head == "adc"
    B = 8
    real = jax.random.uniform(jax.random.key(1), (B, 32, 32, 3), minval=-1, maxval=1)
    labels = jnp.asarray([0, 1, 2, 0, 1, 2, 3, 3])  # repeated classes: 2C / D2D-CE have positives and negatives

    # ---- D: the worker's discriminator step (adc_fake maps the fakes' classes to 2y + 1)
    key = jax.random.key(3)
    new, d_metrics = jax.jit(trainer._d_update)(state, real, labels, key)
    mkey = jax.random.split(key, 1)[0]
    kz, _ = jax.random.split(mkey)
    k_cr = jax.random.fold_in(mkey, 2)
    z, y_fake = trainer.sample_inputs(kz, B)
    g_params, g_aux = _split_vars(state.g)
    fake, g_aux = G.apply({"params": g_params, **g_aux}, z, y_fake, train=True, mutable=list(g_aux))
    d_params, d_aux0 = _split_vars(state.d)
    y_real_d, y_fake_d = (2 * labels, 2 * y_fake + 1) if adc else (labels, y_fake)

    def d_loss(params):
        aux = d_aux0

        def d(images, y):
            nonlocal aux
            out, aux = D.apply({"params": params, **aux}, images, y, train=True, heads=True, mutable=list(aux))
            return out

        (logits, heads) = d(jnp.concatenate([fake, real]), jnp.concatenate([y_fake_d, y_real_d]))
        d_fake, d_real = jnp.split(logits, 2)
        fake_heads = {k: v[:B] for k, v in heads.items()}
        real_heads = {k: v[B:] for k, v in heads.items()}
        total = jnp.mean(jax.nn.relu(1 - d_real)) + jnp.mean(jax.nn.relu(1 + d_fake))
        total += c.weight * _head_loss(config, real_heads, y_real_d)
        if aux_head == "tac":
            total += c.tac_d_weight * _head_loss(config, fake_heads, y_fake_d, "mi_")
        if adc:
            total += c.weight * _head_loss(config, fake_heads, y_fake_d)
        if config.reg.cr_weight:
            cr_logits, cr_heads = d(augment.cr_augment(real, k_cr), y_real_d)
            total += config.reg.cr_weight * (jnp.mean((d_real - cr_logits) ** 2)
                                             + jnp.mean((real_heads["cls"] - cr_heads["cls"]) ** 2))
        return total, aux

    grads, d_aux = jax.jit(jax.grad(d_loss, has_aux=True))(d_params)
    _assert_trees_close(new.d, {"params": jax.tree_util.tree_map(lambda p, g: p - g, d_params, grads), **d_aux},
                        atol=1e-5, of_largest=True)
    for layer in ("linear2",) + (("linear_mi",) if aux_head == "tac" else ()):  # the heads learn in D
        assert float(jnp.max(jnp.abs(grads[layer]["kernel"]))) > 1e-4, layer
    assert float(d_metrics["cond_real"]) > 0
    assert ("tac_d" in d_metrics) == (aux_head == "tac") and ("cond_fake" in d_metrics) == adc

    # ---- G: the worker's generator step
    key = jax.random.key(4)
    new, g_metrics = jax.jit(trainer._g_update)(state, key)
    z, y = trainer.sample_inputs(jax.random.split(key, 1)[0], B)

    def g_loss(params):
        fake, g_aux = G.apply({"params": params, **g_aux0}, z, y, train=True, mutable=list(g_aux0))
        y_d = 2 * y if adc else y
        (logits, heads), d_aux = D.apply({"params": d_params, **d_aux0}, fake, y_d, train=True, heads=True,
                                         mutable=list(d_aux0))
        total = -jnp.mean(logits) + c.weight * _head_loss(config, heads, y_d)
        if aux_head == "tac":
            total -= c.tac_g_weight * _head_loss(config, heads, y, "mi_")
        if adc:  # Dis(fake, labels, adc_fake=True): a second train-mode call
            (_, heads), d_aux = D.apply({"params": d_params, **d_aux}, fake, 2 * y + 1, train=True, heads=True,
                                        mutable=list(d_aux0))
            total -= c.weight * _head_loss(config, heads, 2 * y + 1)
        return total, (g_aux, d_aux)

    g_params, g_aux0 = _split_vars(state.g)
    grads, (g_aux, d_aux) = jax.jit(jax.grad(g_loss, has_aux=True))(g_params)
    _assert_trees_close(new.g, {"params": jax.tree_util.tree_map(lambda p, g: p - g, g_params, grads), **g_aux},
                        atol=1e-5, of_largest=True)
    _assert_trees_close(new.d, {"params": d_params, **d_aux}, atol=1e-6)
    assert ("tac_g" in g_metrics) == (aux_head == "tac") and ("adc_g" in g_metrics) == adc


def test_head_outputs_are_the_classes_rows_and_unit_embeddings():
    config = head_config("reacgan", {"d.aux_head": "adc"})
    _, D = build_models(config)
    x = jax.random.uniform(jax.random.key(0), (4, 32, 32, 3), minval=-1, maxval=1)
    variables = jax.jit(D.init)(jax.random.key(1), x, jnp.zeros((4,), jnp.int32))
    y = jnp.asarray([0, 1, 0, 19])  # ADC: 20 rows for 10 classes
    logits, heads = D.apply(variables, x, y, heads=True)
    np.testing.assert_allclose(logits, D.apply(variables, x, y))
    np.testing.assert_allclose(logits, D.apply(variables, x, jnp.asarray([5, 6, 7, 8])), rtol=1e-6)  # y: heads only
    np.testing.assert_allclose(np.linalg.norm(heads["embed"], axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(heads["proxy"], axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(heads["proxy"][0], heads["proxy"][2])
    assert np.abs(heads["proxy"][0] - heads["proxy"][1]).max() > 1e-3


# StudioGAN's big_resnet Discriminator at 32x32 (d_conv_dim 96, attention at
# d loc 1, SN) with each d_cond_mtd / aux_cls_type: sum(p.numel()) from its code.
STUDIOGAN_D_PARAMS = {("acgan", ""): 2_415_170, ("tacgan", ""): 2_417_090, ("adcgan", ""): 2_417_090,
                      ("contragan", ""): 2_517_186, ("reacgan", ""): 2_517_186, ("reacgan", "adc"): 2_522_306,
                      ("reacgan", "tac"): 2_621_122}


@pytest.mark.parametrize("name, aux_head", sorted(STUDIOGAN_D_PARAMS))
def test_studiogan_cifar10_discriminators_with_heads_have_studiogans_counts(name, aux_head):
    config = configs.load(f"{REPO}/configs/studiogan_{name}_cifar10.py")
    if aux_head:
        with config.unlocked():
            config.model.d.aux_head = aux_head
    _, d = build_models(config)
    shapes = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((2, 32, 32, 3)), jnp.zeros((2,), jnp.int32))
    assert count_params(shapes["params"]) == STUDIOGAN_D_PARAMS[name, aux_head]


@pytest.mark.parametrize("d, message", [
    (dict(cond_head="softmax"), "config.model.d: unknown cond_head 'softmax'"),
    (dict(cond_head="projection", aux_head="tac"), "config.model.d: aux_head 'tac' extends a classifier head"),
    (dict(aux_head="adv"), "config.model.d: unknown aux_head 'adv'"),
])
def test_heads_that_cannot_work_are_one_line_errors_naming_the_field(d, message):
    config = head_config("acgan")
    with config.unlocked():
        config.model.d.update(d)
    with pytest.raises(ValueError, match=message) as e:
        get_trainer(config)
    assert "\n" not in str(e.value)


def test_a_head_needs_classes():
    config = head_config("acgan")
    with config.unlocked():
        config.data.num_classes = 0
    with pytest.raises(ValueError, match="cond_head 'ac' classifies classes: it needs num_classes"):
        get_trainer(config)


@pytest.mark.slow
def test_adcgan_trains_its_smoke_run(tmp_path):
    # One D step and no micro-batches: the G update runs behind the CPU's
    # ordering conditional, whose unreachable branch must list the heads' metrics.
    config = head_config("adcgan", {"train.num_d_steps": 1, "train.grad_accum_steps": 1, "train.num_steps": 2})
    summary = train.train_and_evaluate(config, str(tmp_path))
    assert summary["step"] == 2
    metrics = summary["metrics"]
    assert all(np.isfinite(v) for v in metrics.values())
    assert all(metrics[m] > 0 for m in ("cond_real", "cond_fake", "adc_g"))
    assert (tmp_path / "samples" / "samples_ema_00000002.png").exists()
