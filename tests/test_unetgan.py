"""U-Net GAN (config.unet; jaxgan.models.unet_discriminator, jaxgan.unetgan):
the U-Net D's parameter count against the official architecture tables
(boschresearch/unetgan, D_unet_arch) counted in closed form; CutMix's masks,
the losses, the consistency term and the warm-up against numpy (the official
train_fns' BCE and MSE written out); one D update and one G update equal a
gradient step on the loss written out; the :smoke configs train."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import configs, losses, train, unetgan
from jaxgan.models.unet_discriminator import UNetDiscriminator
from jaxgan.state import count_params
from jaxgan.trainers import get_trainer
from jaxgan.trainers.biggan import build_models

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------ parameter count
def official_unet_d_params(resolution: int, ch: int, num_classes: int | None) -> int:
    """Unet_Discriminator's init_weights count from its D_unet_arch tables
    (D_attn 0): every DBlock and GBlock2 has conv1 (3x3 in -> out), conv2
    (3x3 out -> out) and conv_sc (1x1 in -> out), with biases; linear_middle
    (16 ch -> 1), the output 1x1 conv (ch -> 1); the embeddings when
    conditional. Its `linear` (ch -> 1) is built but never called: counted
    separately."""
    n = 2
    tables = {
        128: ([3] + [ch * m for m in [1, 2, 4, 8, 16, 8 * n, 4 * 2, 2 * 2, 1 * 2, 1]],
              [ch * m for m in [1, 2, 4, 8, 16, 8, 4, 2, 1, 1]]),
        256: ([3] + [ch * m for m in [1, 2, 4, 8, 8, 16, 8 * 2, 8 * 2, 4 * 2, 2 * 2, 1 * 2, 1]],
              [ch * m for m in [1, 2, 4, 8, 8, 16, 8, 8, 4, 2, 1, 1]]),
    }
    ins, outs = tables[resolution]
    conv = lambda k, i, o: k * k * i * o + o
    total = sum(conv(3, i, o) + conv(3, o, o) + conv(1, i, o) for i, o in zip(ins, outs))
    total += 16 * ch + 1 + conv(1, ch, 1)
    if num_classes:
        total += num_classes * (16 * ch + ch)
    return total


def _count(d: UNetDiscriminator, y=None) -> int:
    x = jnp.zeros((2, d.resolution, d.resolution, 3))
    return count_params(jax.eval_shape(d.init, jax.random.key(0), x, y)["params"])


def test_the_full_size_u_net_d_has_the_official_parameter_count():
    # The FFHQ / CelebA scripts' D: ch 64, unconditional, no attention.
    assert _count(UNetDiscriminator(resolution=128, ch=64, num_classes=None, attention=())) == 31_481_602
    assert official_unet_d_params(128, 64, None) == 31_481_602  # + 65 in the official unused `linear`
    assert _count(UNetDiscriminator(resolution=256, ch=64, num_classes=None, attention=())) == 44_067_586
    assert official_unet_d_params(256, 64, None) == 44_067_586
    y = jnp.zeros((2,), jnp.int32)
    assert _count(UNetDiscriminator(resolution=128, ch=64, num_classes=1000, attention=()), y) == \
        official_unet_d_params(128, 64, 1000) == 32_569_602


def test_the_full_size_configs_build_the_u_net_d():
    for name, res in (("unetgan_ffhq.py", 256), ("unetgan_celeba.py", 128)):
        config = configs.load(f"{REPO}/configs/{name}")
        _, d = build_models(config)
        assert isinstance(d, UNetDiscriminator) and d.resolution == res
        assert _count(d) == official_unet_d_params(res, 64, None)


def test_the_u_net_d_gives_global_and_per_pixel_logits_and_projects_per_pixel():
    d = UNetDiscriminator(resolution=32, ch=8, num_classes=3, attention=(16,))
    x = jax.random.uniform(jax.random.key(0), (2, 32, 32, 3), minval=-1, maxval=1)
    y = jnp.array([0, 2])
    variables = jax.jit(d.init)(jax.random.key(1), x, y)
    apply = jax.jit(lambda y: d.apply(variables, x, y, heads=True))
    logits, heads = apply(y)
    assert logits.shape == (2,) and heads["pixel"].shape == (2, 32, 32)
    # The labels move the global logits and every pixel's (projection on both).
    other, other_heads = apply(jnp.array([1, 1]))
    assert np.all(np.asarray(other) != np.asarray(logits))
    assert np.all(np.asarray(other_heads["pixel"]) != np.asarray(heads["pixel"]))
    with pytest.raises(ValueError, match="projection only"):
        UNetDiscriminator(resolution=32, ch=4, num_classes=3, cond_head="ac").init(jax.random.key(0), x, y)


# ------------------------------------------------------- CutMix and the losses
def official_cutmix(lam: float, row: int, col: int, flip: bool, size: int) -> np.ndarray:
    """mixup.CutMix with its random numbers given."""
    w = h = int(size * np.sqrt(1.0 - lam))
    x1, y1 = np.clip(row - w // 2, 0, size), np.clip(col - h // 2, 0, size)
    x2, y2 = np.clip(row + w // 2, 0, size), np.clip(col + h // 2, 0, size)
    m = np.ones((size, size), np.float32)
    m[x1:x2, y1:y2] = 0
    return 1 - m if flip else m


def test_cutmix_masks_equal_the_official_cutmix_on_the_same_draws():
    size = 16
    boxes = jax.device_get(unetgan.cutmix_boxes(jax.random.key(0), 64, size))
    masks = np.asarray(unetgan.cutmix_masks(jax.random.key(0), 64, size))
    assert masks.shape == (64, size, size) and masks.dtype == np.float32
    for i in range(64):
        want = official_cutmix(float(boxes["lam"][i]), int(boxes["row"][i]), int(boxes["col"][i]),
                               bool(boxes["flip"][i]), size)
        np.testing.assert_array_equal(masks[i], want)
    # Boxes clipped at the border, inverted masks and empty boxes all occur.
    assert boxes["flip"].any() and (~boxes["flip"]).any()
    assert any(b["row"] - b["side"] // 2 < 0 or b["col"] + b["side"] // 2 > size
               for b in ({k: v[i] for k, v in boxes.items()} for i in range(64)))
    # A Beta(1, 1) box area: the real share is 1/2 on average.
    big = np.asarray(unetgan.cutmix_masks(jax.random.key(1), 4000, size))
    assert abs(big.mean() - 0.5) < 0.03


def test_mix_takes_the_real_pixels_where_the_mask_is_one():
    rng = np.random.default_rng(0)
    m = (rng.uniform(size=(3, 5, 5)) < 0.5).astype(np.float32)
    real, fake = rng.normal(size=(3, 5, 5, 3)), rng.normal(size=(3, 5, 5, 3))
    got = np.asarray(unetgan.mix(jnp.asarray(m), jnp.asarray(real, jnp.float32), jnp.asarray(fake, jnp.float32)))
    np.testing.assert_allclose(got, np.where(m[..., None] == 1, real, fake), rtol=1e-6)
    got = unetgan.mix(jnp.asarray(m), jnp.asarray(real[..., 0]), jnp.asarray(fake[..., 0]))
    np.testing.assert_allclose(np.asarray(got), np.where(m == 1, real[..., 0], fake[..., 0]), rtol=1e-6)


def bce(logits: np.ndarray, target) -> np.ndarray:
    """torch's binary_cross_entropy_with_logits, elementwise."""
    logits = np.asarray(logits, np.float64)
    return np.maximum(logits, 0) - logits * target + np.log1p(np.exp(-np.abs(logits)))


def _batch(seed=0, n=4, size=6):
    rng = np.random.default_rng(seed)
    f = lambda *s: rng.normal(size=s).astype(np.float32) * 2
    mask = (rng.uniform(size=(n, size, size)) < 0.4).astype(np.float32)
    return dict(real=f(n), fake=f(n), real_pixel=f(n, size, size), fake_pixel=f(n, size, size), mixed=f(n),
                mixed_pixel=f(n, size, size), mask=mask)


def test_the_d_and_g_losses_equal_the_official_bce_in_numpy():
    b = _batch()
    d_loss, g_loss = losses.get_losses("non_saturating")
    got = unetgan.unet_d_loss(d_loss, b["real"], b["fake"], b["real_pixel"], b["fake_pixel"])
    want = {"real": bce(b["real"], 1).mean(), "fake": bce(b["fake"], 0).mean(),
            "real_pixel": bce(b["real_pixel"], 1).mean(), "fake_pixel": bce(b["fake_pixel"], 0).mean()}
    for k in want:
        np.testing.assert_allclose(float(got[k]), want[k], rtol=1e-5, err_msg=k)
    enc, dec = unetgan.unet_g_loss(g_loss, b["fake"], b["fake_pixel"])
    np.testing.assert_allclose([float(enc), float(dec)], [bce(b["fake"], 1).mean(), bce(b["fake_pixel"], 1).mean()],
                               rtol=1e-5)
    # Any loss pair: the hinge's, per pixel.
    d_loss, _ = losses.get_losses("hinge")
    got = unetgan.unet_d_loss(d_loss, b["real"], b["fake"], b["real_pixel"], b["fake_pixel"])
    np.testing.assert_allclose(float(got["fake_pixel"]), np.maximum(0, 1 + b["fake_pixel"]).mean(), rtol=1e-5)


def test_the_cutmix_losses_and_consistency_equal_numpy():
    b = _batch(1)
    d_loss, _ = losses.get_losses("non_saturating")
    enc, dec = unetgan.cutmix_d_loss(d_loss, b["mixed"], b["mixed_pixel"], b["mask"])
    # Official: the encoder's BCE on mixed images against "fake" (0); the
    # decoder's per-image BCE against the target map, averaged over images.
    np.testing.assert_allclose(float(enc), bce(b["mixed"], 0).mean(), rtol=1e-5)
    per_image = [bce(b["mixed_pixel"][i].ravel(), b["mask"][i].ravel()).mean() for i in range(len(b["mask"]))]
    np.testing.assert_allclose(float(dec), np.mean(per_image), rtol=1e-5)
    # Hinge per pixel: the real hinge where the mask is 1, the fake one where 0.
    d_hinge, _ = losses.get_losses("hinge")
    _, dec = unetgan.cutmix_d_loss(d_hinge, b["mixed"], b["mixed_pixel"], b["mask"])
    p = b["mixed_pixel"]
    np.testing.assert_allclose(float(dec), np.where(b["mask"] == 1, np.maximum(0, 1 - p), np.maximum(0, 1 + p)).mean(),
                               rtol=1e-5)
    # Official: F.mse_loss(D_mixed, D_real * target_map + D_fake * (1 - target_map)).
    target = b["real_pixel"] * b["mask"] + b["fake_pixel"] * (1 - b["mask"])
    got = unetgan.cutmix_consistency(b["mixed_pixel"], b["real_pixel"], b["fake_pixel"], b["mask"])
    np.testing.assert_allclose(float(got), np.mean((b["mixed_pixel"] - target) ** 2), rtol=1e-5)


def test_the_cutmix_rate_warms_up_linearly():
    # Official (train.py): r_mixup = 0.5 * min(1, epoch / warmup_epochs).
    for step in (0, 1, 50, 99, 100, 250):
        np.testing.assert_allclose(float(unetgan.cutmix_rate(jnp.asarray(step), 0.5, 100)),
                                   0.5 * min(1.0, step / 100), rtol=1e-6)
    assert float(unetgan.cutmix_rate(jnp.asarray(0), 0.5, 0)) == 0.5


# ---------------------------------------------------------------- the trainer
def smoke_config(name="unetgan_ffhq.py", **unet):
    c = configs.load(f"{REPO}/configs/{name}:smoke")
    with c.unlocked():
        c.unet.update(unet)
    return c


def _split_vars(variables):
    return variables["params"], {c: v for c, v in variables.items() if c != "params"}


def _assert_trees_close(a, b, atol):
    flat_a, tree_a = jax.tree_util.tree_flatten_with_path(jax.device_get(a))
    flat_b, tree_b = jax.tree_util.tree_flatten(jax.device_get(b))
    assert tree_a == tree_b
    for (path, x), y in zip(flat_a, flat_b):
        tol = atol * max(1.0, float(np.max(np.abs(y))))
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=tol, err_msg=jax.tree_util.keystr(path))


def _sgd_trainer(config, step):
    trainer = get_trainer(config)
    trainer.d_tx = trainer.g_tx = optax.sgd(1.0)  # the update is minus the gradient
    state = trainer.init_state(jax.random.key(0))
    return trainer, state.replace(step=jnp.asarray(step, jnp.int32), d_opt=trainer.d_tx.init(state.d["params"]),
                                  g_opt=trainer.g_tx.init(state.g["params"]))


@pytest.mark.slow
def test_a_d_update_is_a_gradient_step_on_the_u_net_loss_written_out():
    # CutMix 'added' at weight 0.7, halfway through a warm-up of 4 steps to
    # 1.4: every term at once. ('batch' selects between the same two sums,
    # by one draw per D update: the smoke run below uses it.)
    trainer, state = _sgd_trainer(smoke_config(cutmix="added", cutmix_rate=1.4, cutmix_warmup_steps=4,
                                               consistency_weight=2.0), step=2)
    G, D = trainer.G, trainer.D
    B = 8
    real = jax.random.uniform(jax.random.key(1), (B, 32, 32, 3), minval=-1, maxval=1)
    key = jax.random.key(3)
    new, metrics = jax.jit(trainer._d_update)(state, real, None, key)

    mkey = jax.random.split(key, 1)[0]
    kz, _ = jax.random.split(mkey)
    z, _ = trainer.sample_inputs(kz, B)
    mask = unetgan.cutmix_masks(jax.random.fold_in(mkey, 6), B, 32)
    g_params, g_aux = _split_vars(state.g)
    fake, g_aux = G.apply({"params": g_params, **g_aux}, z, None, train=True, mutable=list(g_aux))
    d_params, d_aux0 = _split_vars(state.d)
    sp = jax.nn.softplus

    def loss(params):
        aux = d_aux0

        def d(images):
            nonlocal aux
            out, aux = D.apply({"params": params, **aux}, images, None, train=True, heads=True, mutable=list(aux))
            return out[0], out[1]["pixel"]

        logits, pixel = d(jnp.concatenate([fake, real]))
        d_fake, d_real = jnp.split(logits, 2)
        p_fake, p_real = jnp.split(pixel, 2)
        gan = (jnp.mean(sp(-d_real)) + jnp.mean(sp(d_fake))  # encoder, BCE
               + jnp.mean(sp(-p_real)) + jnp.mean(sp(p_fake)))  # decoder, per pixel
        m_logits, m_pixel = d(mask[..., None] * real + (1 - mask[..., None]) * fake)
        mix = (jnp.mean(sp(m_logits))  # the mixed image is fake to the encoder
               + jnp.mean(mask * sp(-m_pixel) + (1 - mask) * sp(m_pixel))  # BCE against the mask
               + 2.0 * jnp.mean((m_pixel - (mask * p_real + (1 - mask) * p_fake)) ** 2))
        return gan + 0.7 * mix, aux

    grads, d_aux = jax.jit(jax.grad(loss, has_aux=True))(d_params)
    _assert_trees_close(new.d, {"params": jax.tree_util.tree_map(lambda p, g: p - g, d_params, grads), **d_aux},
                        atol=1e-5)
    assert max(float(jnp.max(jnp.abs(g))) for g in jax.tree_util.tree_leaves(grads)) > 1e-3
    np.testing.assert_allclose(float(metrics["cutmix_rate"]), 0.7, rtol=1e-6)


@pytest.mark.slow
def test_a_g_update_is_a_gradient_step_on_both_outputs():
    trainer, state = _sgd_trainer(smoke_config(), step=0)
    G, D = trainer.G, trainer.D
    key = jax.random.key(4)
    new, metrics = jax.jit(trainer._g_update)(state, key)

    z, _ = trainer.sample_inputs(jax.random.split(key, 1)[0], 8)
    g_params, g_aux0 = _split_vars(state.g)
    d_params, d_aux0 = _split_vars(state.d)

    def loss(params):
        fake, g_aux = G.apply({"params": params, **g_aux0}, z, None, train=True, mutable=list(g_aux0))
        (logits, heads), d_aux = D.apply({"params": d_params, **d_aux0}, fake, None, train=True, heads=True,
                                         mutable=list(d_aux0))
        return jnp.mean(jax.nn.softplus(-logits)) + jnp.mean(jax.nn.softplus(-heads["pixel"])), (g_aux, d_aux)

    grads, (g_aux, d_aux) = jax.jit(jax.grad(loss, has_aux=True))(g_params)
    _assert_trees_close(new.g, {"params": jax.tree_util.tree_map(lambda p, g: p - g, g_params, grads), **g_aux},
                        atol=1e-5)
    _assert_trees_close(new.d, {"params": d_params, **d_aux}, atol=1e-6)
    assert float(metrics["g_loss_pixel"]) > 0


def test_bad_unet_settings_are_one_line_errors():
    for unet, message in [(dict(cutmix="mixup"), "must be one of"),
                          (dict(discriminator=False), "needs the U-Net discriminator"),
                          (dict(cutmix_rate=1.5), "probability")]:
        with pytest.raises(ValueError, match=message):
            get_trainer(smoke_config(**unet))
    c = smoke_config()
    with c.unlocked():
        c.reg.diffaugment = "color"
    with pytest.raises(ValueError, match="DiffAugment"):
        get_trainer(c)


@pytest.mark.slow
def test_the_unetgan_smoke_config_trains(tmp_path):
    config = configs.load(f"{REPO}/configs/unetgan_ffhq.py:smoke")
    out = train.train_and_evaluate(config, str(tmp_path))
    assert out["step"] == 4
    metrics = out["metrics"]
    assert all(np.isfinite(v) for v in metrics.values())
    for term in ("d_loss_real_pixel", "d_loss_fake_pixel", "g_loss_pixel", "cutmix_enc", "cutmix_dec",
                 "cutmix_consistency"):
        assert metrics[term] > 0, term
    assert metrics["cutmix_rate"] == 0.5  # the last step's: warmed up over the smoke's first 2 steps
    assert metrics["cutmix_batch"] in (0.0, 1.0)  # 'batch': the D update trained on a CutMix batch or not
