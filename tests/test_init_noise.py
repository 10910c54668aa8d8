"""init_noise: a model's initialisation noise from one random draw."""

import collections

import flax.linen as nn
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models import init_noise, layers


class _Net(nn.Module):
    """Every initialiser style, SN vectors, an embedding and two same-shaped conv kernels."""

    style: str = "ortho"

    @nn.compact
    def __call__(self, x, y):
        init = layers.weight_init(self.style)
        h = layers.SNConv(16, (3, 3), kernel_init=init, name="conv_a")(x)
        h = layers.SNConv(16, (3, 3), kernel_init=init, name="conv_b")(h)
        h = layers.SNConv(16, (3, 3), kernel_init=init, name="conv_c")(h)
        e = layers.SNEmbed(10, 16, embedding_init=init, name="embed")(y)
        return layers.SNDense(8, kernel_init=init, name="dense")(h.mean((1, 2)) + e)


X, Y = jnp.ones((2, 6, 6, 5)), jnp.arange(2, dtype=jnp.int32)


def _draws(jaxpr):
    """random_bits primitives in a jaxpr, with every sub-jaxpr's."""
    count = collections.Counter()

    def walk(j):
        for eqn in j.eqns:
            count[eqn.primitive.name] += 1
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                walk(sub)

    walk(jaxpr.jaxpr)
    return count["random_bits"]


def test_plain_initialisers_are_flaxs():
    # Outside one_draw, a model initialises exactly as with flax's own initialisers.
    key = jax.random.key(3)
    for shape in [(3, 3, 16, 32), (128, 40), (1, 1, 64, 16), (10, 128)]:
        for ours, flaxs in [(layers.orthogonal_init, nn.initializers.orthogonal()),
                            (layers.normal_init(0.02), nn.initializers.normal(0.02)),
                            (layers.xavier_uniform_init, nn.initializers.xavier_uniform())]:
            np.testing.assert_array_equal(ours(key, shape), flaxs(key, shape, jnp.float32))


@pytest.mark.parametrize("style", ["ortho", "N02", "glorot"])
def test_one_draw_initialises_with_one_random_call(style):
    net = _Net(style)
    plain = jax.jit(net.init)(jax.random.key(0), X, Y)
    pooled_init = init_noise.one_draw(net.init)
    pooled = jax.jit(pooled_init)(jax.random.key(0), X, Y)
    assert jax.tree_util.tree_structure(pooled) == jax.tree_util.tree_structure(plain)
    for a, b in zip(jax.tree_util.tree_leaves(pooled), jax.tree_util.tree_leaves(plain)):
        assert a.shape == b.shape and a.dtype == b.dtype
    # 5 kernels + 5 SN vectors drawn one by one; one draw pooled (the keys flax still
    # derives per parameter go unused, and XLA drops them).
    assert _draws(jax.make_jaxpr(net.init)(jax.random.key(0), X, Y)) == 10
    assert _draws(jax.make_jaxpr(pooled_init)(jax.random.key(0), X, Y)) == 1

    params, spectral = pooled["params"], pooled["spectral"]
    kernels = {name: np.asarray(p.get("kernel", p.get("embedding"))).reshape(-1, 16 if name != "dense" else 8)
               for name, p in params.items()}
    # Same-shaped layers get different noise.
    assert not np.allclose(kernels["conv_b"], kernels["conv_c"])
    for name, k in kernels.items():
        if style == "ortho":  # semi-orthogonal: the short side's Gram matrix is the identity
            gram = k.T @ k if k.shape[0] >= k.shape[1] else k @ k.T
            np.testing.assert_allclose(gram, np.eye(len(gram)), atol=1e-5, err_msg=name)
        elif style == "glorot":
            limit = np.sqrt(6.0 / sum(np.asarray(params[name].get("kernel", params[name].get("embedding"))).shape[-2:])
                            / (9 if name.startswith("conv") else 1))
            assert np.abs(k).max() <= limit and np.abs(k).max() > 0.9 * limit, name
    if style == "N02":
        everything = np.concatenate([k.ravel() for k in kernels.values()])
        assert abs(everything.std() - 0.02) < 0.002 and abs(everything.mean()) < 0.002
    for name, vectors in spectral.items():  # SN's u and v are unit vectors, u drawn per layer
        np.testing.assert_allclose(np.linalg.norm(vectors["u"]), 1.0, rtol=1e-5, err_msg=name)


def test_pooled_noise_is_standard_normal_and_uniform():
    def init(key):
        return (init_noise.standard_normal(key, (200, 300)), init_noise.uniform(key, (100_000,), jnp.float32, -2.0, 3.0))

    z, u = jax.jit(init_noise.one_draw(init))(jax.random.key(1))
    assert abs(float(z.mean())) < 0.01 and abs(float(z.std()) - 1) < 0.01
    assert float(u.min()) >= -2 and float(u.max()) <= 3
    counts, _ = np.histogram(np.asarray(u), bins=10, range=(-2, 3))
    assert np.all(np.abs(counts / len(u) - 0.1) < 0.006), counts  # ~6 sigma of a bin's binomial noise


def test_one_draw_rejects_an_init_that_draws_differently_each_time():
    calls = []

    def init(key):
        calls.append(1)
        return init_noise.standard_normal(key, (len(calls),))

    with pytest.raises(RuntimeError, match="drew differently"):
        jax.jit(init_noise.one_draw(init))(jax.random.key(0))
