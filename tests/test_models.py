"""BigGAN and BigGAN-deep: parameter counts pinned to the references, shapes at
every resolution (via jax.eval_shape, nothing allocated), small-width forward
passes in fp32 and bf16, unconditional mode, sharded BatchNorm."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AxisType, NamedSharding, PartitionSpec

from jaxgan.models import layers
from jaxgan.models.biggan import BigGANDiscriminator, BigGANGenerator
from jaxgan.models.biggan_deep import BigGANDeepDiscriminator, BigGANDeepGenerator
from jaxgan.state import count_params

RESOLUTIONS = (32, 64, 128, 256, 512)
KINDS = {
    "biggan": (BigGANGenerator, BigGANDiscriminator),
    "biggan_deep": (BigGANDeepGenerator, BigGANDeepDiscriminator),
}


def _shapes(model, resolution=None, batch=2, labels=True, **call):
    """Variables of `model` as ShapeDtypeStructs (jax.eval_shape: no allocation)."""
    y = jnp.zeros((batch,), jnp.int32) if labels else None
    if resolution is None:  # a generator
        x = jnp.zeros((batch, model.z_dim))
    else:
        x = jnp.zeros((batch, resolution, resolution, 3))
    return jax.eval_shape(functools.partial(model.init, **call), jax.random.key(0), x, y)


def _count(model, resolution=None):
    # Counts every entry of the `params` collection, as torch's
    # sum(p.numel() for p in model.parameters()) does. Not counted, as in the
    # references where they are buffers: spectral-norm vectors u, v
    # (`spectral`) and BatchNorm running statistics (`batch_stats`).
    return count_params(_shapes(model, resolution)["params"])


# Counts of ajbrock/BigGAN-PyTorch (BigGAN.py, BigGANdeep.py) and of
# pytorch-pretrained-biggan 0.1.1, measured by instantiating them.
def test_biggan_128_parameter_counts():
    # BigGAN-PyTorch ImageNet 128: G_ch = D_ch = 96, dim_z 120, shared_dim 128,
    # hier, attention at 64.
    assert _count(BigGANGenerator()) == 70_433_988
    assert _count(BigGANDiscriminator(), 128) == 87_982_370


def test_biggan_cifar10_parameter_counts():
    # BigGAN-PyTorch's CIFAR launch script: ch 64, dim_z 128, no shared
    # embedding (each conditional BN has its own class embeddings), no hier,
    # no attention, N(0, 0.02) init.
    kw = dict(resolution=32, ch=64, attention=(), num_classes=10, init_style="N02")
    assert _count(BigGANGenerator(dim_z=128, shared_dim=0, hier=False, **kw)) == 4_304_387
    assert _count(BigGANDiscriminator(**kw), 32) == 4_207_361


@pytest.mark.parametrize("resolution,g,d", [(256, 82_108_548, 99_225_890), (512, 82_253_988, 99_401_282)])
def test_biggan_large_parameter_counts(resolution, g, d):
    assert _count(BigGANGenerator(resolution=resolution)) == g
    assert _count(BigGANDiscriminator(resolution=resolution), resolution) == d


def test_biggan_64_parameter_counts():
    kw = dict(resolution=64, ch=64, attention=(32,))
    assert _count(BigGANGenerator(**kw)) == 31_969_540
    assert _count(BigGANDiscriminator(**kw), 64) == 20_571_842


@pytest.mark.parametrize("resolution,count", [(128, 50_388_609), (256, 55_880_833), (512, 56_163_905)])
def test_biggan_deep_generator_counts_equal_pytorch_pretrained_biggan(resolution, count):
    # pytorch-pretrained-biggan's BigGAN128/256/512 (DeepMind's released models);
    # tests/test_convert_pytorch_pretrained_biggan.py also checks them live.
    assert _count(BigGANDeepGenerator(resolution=resolution)) == count


@pytest.mark.parametrize("resolution,count", [(64, 20_869_633), (128, 34_590_210), (256, 38_247_426)])
def test_biggan_deep_discriminator_counts(resolution, count):
    # BigGAN-PyTorch BigGANdeep.Discriminator, D_ch 128, attention at 64.
    assert _count(BigGANDeepDiscriminator(resolution=resolution), resolution) == count


def test_biggan_deep_cifar_discriminator_count():
    d = BigGANDeepDiscriminator(resolution=32, ch=64, attention=(), num_classes=10)
    assert _count(d, 32) == 651_649


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_every_model_builds_at_every_resolution(kind, resolution):
    G, D = KINDS[kind]
    g = G(resolution=resolution)
    g_vars = _shapes(g)
    image = jax.eval_shape(lambda v: g.apply(v, jnp.zeros((2, g.z_dim)), jnp.zeros((2,), jnp.int32)), g_vars)
    assert image.shape == (2, resolution, resolution, 3)
    d = D(resolution=resolution)
    d_vars = _shapes(d, resolution)
    logits = jax.eval_shape(lambda v: d.apply(v, jnp.zeros(image.shape), jnp.zeros((2,), jnp.int32)), d_vars)
    assert logits.shape == (2,)
    for variables in (g_vars, d_vars):
        assert set(variables) == {"params", "spectral"} | ({"batch_stats"} if variables is g_vars else set())
        assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(variables))


def _small(kind, resolution=32, **kw):
    G, D = KINDS[kind]
    width = dict(ch=4, attention=(16,), num_classes=5, **kw)
    g_kw = dict(dim_z=24, shared_dim=8) if kind == "biggan" else dict(dim_z=16, shared_dim=8)
    return G(resolution=resolution, **width, **g_kw), D(resolution=resolution, **width)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_small_forward_fp32_and_bf16(kind):
    z = jax.random.normal(jax.random.key(1), (4, 24 if kind == "biggan" else 16))
    y = jnp.array([0, 1, 2, 4], jnp.int32)
    outputs = {}
    for dtype in (jnp.float32, jnp.bfloat16):
        g, d = _small(kind, dtype=dtype)
        g_vars = g.init(jax.random.key(0), z, y)
        d_vars = d.init(jax.random.key(0), jnp.zeros((4, 32, 32, 3)), y)
        (img, g_upd) = g.apply(g_vars, z, y, train=True, mutable=["batch_stats", "spectral"])
        logits, d_upd = d.apply(d_vars, img, y, train=True, mutable=["spectral"])
        assert img.shape == (4, 32, 32, 3) and img.dtype == jnp.float32
        assert logits.shape == (4,) and logits.dtype == jnp.float32
        assert np.isfinite(np.asarray(img)).all() and np.isfinite(np.asarray(logits)).all()
        # Statistics and SN vectors stay float32 under bf16 compute.
        for leaf in jax.tree_util.tree_leaves((g_upd, d_upd)):
            assert leaf.dtype == jnp.float32
        outputs[dtype] = (np.asarray(img), np.asarray(logits))
    img32, logits32 = outputs[jnp.float32]
    img16, logits16 = outputs[jnp.bfloat16]
    assert img32.std() > 1e-2 and np.abs(img32[0] - img32[1]).max() > 1e-3  # not a constant image
    # bf16 keeps ~3 significant digits through a dozen layers: close on average.
    assert np.abs(img32 - img16).mean() < 0.02 and np.abs(img32 - img16).max() < 0.3
    np.testing.assert_allclose(logits16, logits32, rtol=0.1, atol=0.1 * np.abs(logits32).max())


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unconditional_models(kind):
    G, D = KINDS[kind]
    g = G(resolution=32, ch=4, attention=(), num_classes=None, dim_z=24 if kind == "biggan" else 16)
    d = D(resolution=32, ch=4, attention=(), num_classes=None)
    z = jax.random.normal(jax.random.key(0), (2, g.z_dim))
    g_vars = g.init(jax.random.key(0), z)
    d_vars = d.init(jax.random.key(0), jnp.zeros((2, 32, 32, 3)))
    assert "shared" not in g_vars["params"] and "embed" not in d_vars["params"]
    img = g.apply(g_vars, z)
    assert d.apply(d_vars, img).shape == (2,)
    with pytest.raises(ValueError, match="unconditional"):
        g.apply(g_vars, z, jnp.zeros((2,), jnp.int32))
    with pytest.raises(ValueError, match="class-conditional"):
        G(resolution=32, ch=4, attention=(), dim_z=24).init(jax.random.key(0), z)


def test_biggan_unconditional_without_hier_uses_plain_batchnorm():
    g = BigGANGenerator(resolution=32, ch=4, attention=(), num_classes=None, hier=False, dim_z=16)
    params = g.init(jax.random.key(0), jnp.zeros((2, 16)))["params"]
    assert set(params["block0"]["bn1"]) == {"scale", "bias"}


def test_labels_as_ids_or_one_hot_give_the_same_images():
    g, _ = _small("biggan")
    z = jax.random.normal(jax.random.key(1), (3, 24))
    ids = jnp.array([0, 3, 4], jnp.int32)
    variables = g.init(jax.random.key(0), z, ids)
    np.testing.assert_allclose(g.apply(variables, z, ids), g.apply(variables, z, jax.nn.one_hot(ids, 5)), atol=1e-6)


def test_hierarchical_z_is_split_into_blocks_plus_one_chunks():
    g = BigGANGenerator()  # 5 blocks at 128: 6 chunks of 20
    assert g.z_dim == 120
    assert _shapes(g)["params"]["linear"]["kernel"].shape == (20, 4 * 4 * 16 * 96)
    assert _shapes(g)["params"]["block0"]["bn1"]["gain"]["kernel"].shape == (128 + 20, 16 * 96)
    assert BigGANGenerator(dim_z=128).z_dim == 126  # cut to a multiple, as BigGAN-PyTorch does


# Nonlinearities per block and outside the blocks (G's output BN-ReLU; D's
# ReLU before the sum pool; BigGAN D's first block is not preactivated).
NONLINEARITIES = {"biggan": ((2, 1), (2, 0)), "biggan_deep": ((4, 1), (4, 1))}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_activation_option_reaches_every_nonlinearity(kind, monkeypatch):
    calls = []
    monkeypatch.setitem(layers.ACTIVATIONS, "counted", lambda x: calls.append(x.shape) or jax.nn.silu(x))
    for model, resolution, (per_block, extra) in zip(_small(kind, activation="counted"), (None, 32),
                                                     NONLINEARITIES[kind]):
        calls.clear()
        params = _shapes(model, resolution)["params"]
        blocks = sum(name.startswith("block") for name in params)
        assert blocks >= 3 and len(calls) == per_block * blocks + extra, (type(model).__name__, blocks, len(calls))
    g, _ = _small(kind)
    assert g.activation == "relu"  # the papers'
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        _shapes(_small(kind, activation="swish")[0])


def test_clear_errors():
    with pytest.raises(ValueError, match="resolution 100 is not supported"):
        _shapes(BigGANGenerator(resolution=100))
    with pytest.raises(ValueError, match="z has 7 dims"):
        BigGANGenerator().init(jax.random.key(0), jnp.zeros((1, 7)), jnp.zeros((1,), jnp.int32))
    with pytest.raises(ValueError, match="this discriminator takes 128x128"):
        BigGANDiscriminator().init(jax.random.key(0), jnp.zeros((1, 64, 64, 3)), jnp.zeros((1,), jnp.int32))


def test_sharded_batch_gives_cross_replica_batchnorm():
    # A batch sharded over 8 devices under jit computes BatchNorm statistics
    # over the global batch: outputs and running statistics equal one device's.
    assert jax.device_count() == 8
    g, _ = _small("biggan_deep")
    z = jax.random.normal(jax.random.key(1), (16, 16))
    y = jnp.arange(16, dtype=jnp.int32) % 5
    variables = g.init(jax.random.key(0), z, y)
    step = jax.jit(lambda v, z, y: g.apply(v, z, y, train=True, mutable=["batch_stats", "spectral"]))
    single = step(variables, z, y)
    mesh = jax.make_mesh((8,), ("data",), axis_types=(AxisType.Auto,))
    batch = NamedSharding(mesh, PartitionSpec("data"))
    replicated = NamedSharding(mesh, PartitionSpec())
    sharded = step(jax.device_put(variables, replicated), jax.device_put(z, batch), jax.device_put(y, batch))
    assert len(sharded[0].sharding.device_set) == 8
    jax.tree_util.tree_map(lambda a, b: np.testing.assert_allclose(a, b, atol=2e-5), single, sharded)
