"""Losses and regularisers against direct numpy formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import losses

rng = np.random.default_rng(0)
REAL = rng.normal(0.5, 1.5, 64).astype(np.float32)
FAKE = rng.normal(-0.5, 1.5, 64).astype(np.float32)


def test_discriminator_and_generator_losses():
    sp = lambda x: np.log1p(np.exp(x))
    expected = {
        "hinge": ((np.maximum(0, 1 - REAL).mean(), np.maximum(0, 1 + FAKE).mean()), -FAKE.mean()),
        "non_saturating": ((sp(-REAL).mean(), sp(FAKE).mean()), sp(-FAKE).mean()),
        "wasserstein": ((-REAL.mean(), FAKE.mean()), -FAKE.mean()),
        "least_squares": ((0.5 * ((REAL - 1) ** 2).mean(), 0.5 * (FAKE ** 2).mean()), 0.5 * ((FAKE - 1) ** 2).mean()),
    }
    for name, ((real, fake), g) in expected.items():
        d_loss, g_loss = losses.get_losses(name)
        got_real, got_fake = d_loss(REAL, FAKE)
        np.testing.assert_allclose([got_real, got_fake, g_loss(FAKE)], [real, fake, g], rtol=1e-5, err_msg=name)
    assert losses.hinge_d(jnp.asarray(REAL, jnp.bfloat16), FAKE)[0].dtype == jnp.float32
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get_losses("hinge2")


def test_gradient_penalty_and_r1_on_a_linear_critic():
    # D(x) = <w, x> has gradient w everywhere: GP = (|w| - 1)^2, R1 = |w|^2.
    w = rng.normal(size=(4, 4, 3)).astype(np.float32)
    d = lambda x: jnp.sum(x * w, axis=(1, 2, 3))
    real = rng.normal(size=(8, 4, 4, 3)).astype(np.float32)
    fake = rng.normal(size=(8, 4, 4, 3)).astype(np.float32)
    norm = np.linalg.norm(w)
    assert float(losses.gradient_penalty(d, real, fake, jax.random.key(0))) == pytest.approx((norm - 1) ** 2, rel=1e-4)
    assert float(losses.r1_penalty(d, real)) == pytest.approx(norm ** 2, rel=1e-4)
    # A quadratic critic: the penalty depends on where the interpolates fall.
    q = lambda x: jnp.sum(x ** 2, axis=(1, 2, 3))
    eps = np.asarray(jax.random.uniform(jax.random.key(0), (8, 1, 1, 1)))
    x_hat = eps * real + (1 - eps) * fake
    expected = np.mean((np.linalg.norm((2 * x_hat).reshape(8, -1), axis=1) - 1) ** 2)
    assert float(losses.gradient_penalty(q, real, fake, jax.random.key(0))) == pytest.approx(expected, rel=1e-4)


def test_orthogonal_regularization_gradient_is_biggan_pytorchs():
    conv = rng.normal(size=(3, 3, 5, 7)).astype(np.float32)  # HWIO
    params = {"block": {"conv": {"kernel": conv, "bias": np.ones(7, np.float32)}},
              "shared": {"embedding": rng.normal(size=(10, 4)).astype(np.float32)}}
    value, grads = jax.value_and_grad(losses.orthogonal_regularization)(params)
    w = conv.transpose(3, 2, 0, 1).reshape(7, -1)  # torch's [out, in*kh*kw] view
    off = (w @ w.T) * (1 - np.eye(7))
    torch_grad = 2 * off @ w  # BigGAN-PyTorch utils.ortho adds this to the gradient
    np.testing.assert_allclose(value, 0.5 * np.sum(off ** 2), rtol=1e-5)
    ours = np.asarray(grads["block"]["conv"]["kernel"]).transpose(3, 2, 0, 1).reshape(7, -1)
    np.testing.assert_allclose(ours, torch_grad, rtol=1e-4, atol=1e-4)
    # Biases and embeddings are left alone.
    assert not np.any(grads["block"]["conv"]["bias"]) and not np.any(grads["shared"]["embedding"])
    # A layer with more outputs than inputs (BigGAN's first linear) takes the
    # small-Gram route; same value and gradient as the direct form.
    tall = rng.normal(size=(6, 40)).astype(np.float32)  # [fan_in, out]
    value, grad = jax.value_and_grad(losses.orthogonal_regularization)({"linear": {"kernel": tall}})
    w = tall.T
    off = (w @ w.T) * (1 - np.eye(40))
    np.testing.assert_allclose(value, 0.5 * np.sum(off ** 2), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(grad["linear"]["kernel"]).T, 2 * off @ w, rtol=1e-4, atol=1e-3)
    # An orthogonal matrix costs nothing.
    q, _ = np.linalg.qr(rng.normal(size=(16, 8)))
    assert float(losses.orthogonal_regularization({"k": q.astype(np.float32)})) < 1e-10
