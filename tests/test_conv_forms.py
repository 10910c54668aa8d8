"""The CPU convolution forms (jaxgan.models.conv_forms) against XLA's plain
convolution, and the layers' choice between them by the platform a program is
compiled for."""

import collections
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.models import conv_forms, layers

# Tolerances relative to the largest entry of the float32 reference.
RTOL = {jnp.float32: 1e-5, jnp.bfloat16: 2e-2}


def _plain_upsample_conv(x, w):
    return layers._conv2d_same_xla(layers.upsample_nearest(x), w)


def _plain_conv_pool(x, w):
    return layers.avg_pool2(layers._conv2d_same_xla(x, w))


def _values_and_grads(fn, x, w, cot):
    loss = lambda x, w: jnp.sum(fn(x, w).astype(jnp.float32) * cot)
    return (fn(x, w), *jax.jit(jax.grad(loss, argnums=(0, 1)))(x, w))


def _assert_same_function(form, plain, x_shape, kernel_size, out_shape, dtype, seed=0):
    """form(x, w) equals plain(x, w) in values and in both gradients under a
    random cotangent. In bfloat16 both are compared with plain in float32 on
    the same (rounded) inputs: form must be as close to it as bf16 allows."""
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal(x_shape), dtype)
    w = jnp.asarray(rng.standard_normal((*kernel_size, x_shape[-1], 4)), dtype)
    cot = jnp.asarray(rng.standard_normal(out_shape), jnp.float32)
    got = _values_and_grads(form, x, w, cot)
    want = _values_and_grads(plain, x.astype(jnp.float32), w.astype(jnp.float32), cot)
    for name, a, b in zip(("value", "dx", "dw"), got, want):
        assert a.dtype == dtype and a.shape == b.shape, name
        scale = float(jnp.abs(b).max())
        assert scale > 0.5, name  # not vacuous
        np.testing.assert_allclose(np.asarray(a, np.float32), np.asarray(b), rtol=0,
                                   atol=RTOL[dtype] * scale, err_msg=name)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("kernel_size", [(3, 3), (1, 1), (3, 1), (2, 2)])
def test_tap_loop_conv_values_and_gradients(kernel_size, dtype):
    """conv_forms.conv2d_same (custom VJP: the input gradient as a forward
    convolution, the kernel gradient as a loop of per-tap matrix products, on
    one device) is XLA's 'SAME' convolution with jax.grad's gradients, on odd
    spatial sizes and for an even kernel's asymmetric padding."""
    _assert_same_function(conv_forms.conv2d_same, layers._conv2d_same_xla, (3, 9, 7, 5), kernel_size,
                          (3, 9, 7, 4), dtype)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_tap_loop_with_explicit_padding(dtype):
    """conv2d with padding other than 'SAME' (as the upsampling and pooling
    forms use it): values and gradients of XLA's convolution."""
    padding = ((1, 0), (0, 2))
    form = lambda x, w: conv_forms.conv2d(x, w, padding)
    plain = lambda x, w: conv_forms.conv2d_xla(x, w, padding)
    _assert_same_function(form, plain, (2, 5, 7, 3), (2, 3), (2, 5, 7, 4), dtype)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("kernel_size", [(3, 3), (1, 1)])
def test_upsampling_form_values_and_gradients(kernel_size, dtype):
    _assert_same_function(conv_forms.upsample_conv2d_same, _plain_upsample_conv, (2, 5, 7, 6), kernel_size,
                          (2, 10, 14, 4), dtype)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("kernel_size", [(3, 3), (1, 1)])
def test_pooling_form_values_and_gradients(kernel_size, dtype):
    _assert_same_function(conv_forms.conv2d_same_avg_pool, _plain_conv_pool, (2, 10, 6, 5), kernel_size,
                          (2, 5, 3, 4), dtype)


def test_forms_refuse_shapes_they_do_not_cover():
    x = jnp.zeros((1, 6, 5, 2))
    with pytest.raises(ValueError, match="1x1 or 3x3"):
        conv_forms.upsample_conv2d_same(x, jnp.zeros((5, 5, 2, 3)))
    with pytest.raises(ValueError, match="even sizes"):
        conv_forms.conv2d_same_avg_pool(x, jnp.zeros((3, 3, 2, 3)))


@pytest.mark.parametrize("x_shape, kernel_size", [((2, 7, 5, 3), (3, 3)), ((2, 6, 6, 3), (5, 5))])
def test_layers_fall_back_to_plain_forms_on_shapes_the_cpu_forms_do_not_cover(x_shape, kernel_size):
    """Odd sizes for pooling, 5x5 kernels for both: decided before the
    per-platform choice (which traces both forms)."""
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.standard_normal(x_shape), jnp.float32)
    w = jnp.asarray(rng.standard_normal((*kernel_size, 3, 4)), jnp.float32)
    for layer, plain in ((layers.upsample_conv2d_same, _plain_upsample_conv),
                         (layers.conv2d_same_avg_pool, _plain_conv_pool)):
        np.testing.assert_allclose(np.asarray(jax.jit(layer)(x, w)), np.asarray(plain(x, w)), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------
# Which form a compiled program holds

LAYERS = {  # name: (layer, its CPU form, its plain form, x shape)
    "conv2d_same": (layers.conv2d_same, conv_forms.conv2d_same, layers._conv2d_same_xla, (2, 8, 6, 4)),
    "upsample_conv2d_same": (layers.upsample_conv2d_same, conv_forms.upsample_conv2d_same, _plain_upsample_conv,
                             (2, 4, 3, 4)),
    "conv2d_same_avg_pool": (layers.conv2d_same_avg_pool, conv_forms.conv2d_same_avg_pool, _plain_conv_pool,
                             (2, 8, 6, 4)),
}
OPS = ("convolution", "while", "dot_general", "reduce_window")


def _step(conv):
    """A training step's use of a convolution: its value and both gradients."""
    return jax.value_and_grad(lambda x, w: jnp.sum(conv(x, w) ** 2), argnums=(0, 1))


def _op_counts(lowered) -> dict:
    """How many of each of OPS the lowered StableHLO module holds."""
    found = collections.Counter(re.findall(r"stablehlo\.(\w+)", lowered.as_text()))
    return {op: found[op] for op in OPS}


def _lowered(fn, args, platform=None):
    traced = jax.jit(fn).trace(*args)
    return traced.lower(lowering_platforms=(platform,)) if platform else traced.lower()


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("platform", [None, "tpu", "cuda"])
def test_layers_pick_the_form_of_the_platform_compiled_for(name, platform):
    """Lowered for this process's CPU (None), the layer's step holds the CPU
    form's operations (the tap loop's while, its dots); lowered for an
    accelerator from this CPU process, the plain form's: what the process's
    own backend is does not matter."""
    layer, cpu_form, plain_form, x_shape = LAYERS[name]
    args = (jax.ShapeDtypeStruct(x_shape, jnp.float32), jax.ShapeDtypeStruct((3, 3, 4, 5), jnp.float32))
    want_form = cpu_form if platform is None else plain_form
    got = _op_counts(_lowered(_step(layer), args, platform))
    assert got == _op_counts(_lowered(_step(want_form), args, platform))
    other = plain_form if platform is None else cpu_form
    assert got != _op_counts(_lowered(_step(other), args, platform))  # the forms are told apart
    assert (got["while"] > 0) == (platform is None)


def test_dispatch_under_transformations():
    """vmap, scan, eval_shape and eager calls see the CPU forms' values."""
    rng = np.random.default_rng(4)
    xs = jnp.asarray(rng.standard_normal((3, 2, 6, 4, 4)), jnp.float32)
    ws = jnp.asarray(rng.standard_normal((3, 3, 3, 4, 5)), jnp.float32)
    for name, (layer, _, plain, _) in LAYERS.items():
        want = jnp.stack([plain(x, w) for x, w in zip(xs, ws)])
        np.testing.assert_allclose(np.asarray(jax.vmap(layer)(xs, ws)), np.asarray(want), rtol=1e-5, atol=1e-4,
                                   err_msg=name)
        scanned = jax.jit(lambda xs, ws: jax.lax.scan(lambda c, xw: (c, layer(*xw)), 0, (xs, ws))[1])(xs, ws)
        np.testing.assert_allclose(np.asarray(scanned), np.asarray(want), rtol=1e-5, atol=1e-4, err_msg=name)
        np.testing.assert_allclose(np.asarray(layer(xs[0], ws[0])), np.asarray(want[0]), rtol=1e-5, atol=1e-4,
                                   err_msg=name)
        grads = jax.eval_shape(jax.grad(lambda x, w: jnp.sum(layer(x, w)), argnums=(0, 1)), xs[0], ws[0])
        assert [g.shape for g in grads] == [xs[0].shape, ws[0].shape]


def test_tpu_topology_compile_holds_the_plain_convolution(monkeypatch):
    """Compiled ahead of time for a TPU slice from this CPU process, as
    benchmarks/aot_memory.py --topology does: the plain convolutions (forward,
    input and kernel gradient), no tap loop. Needs the `libtpu` package."""
    pytest.importorskip("libtpu")
    from jax.experimental import topologies
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    monkeypatch.setenv("TPU_WORKER_HOSTNAMES", "localhost")
    monkeypatch.setenv("ALLOW_MULTIPLE_LIBTPU_LOAD", "1")  # beside another process's libtpu
    devices = topologies.get_topology_desc(topology_name="v5e:2x2", platform="tpu").devices
    mesh = Mesh(np.array(devices), ("data",))
    x = jax.ShapeDtypeStruct((8, 8, 8, 4), jnp.float32, sharding=NamedSharding(mesh, PartitionSpec("data")))
    w = jax.ShapeDtypeStruct((3, 3, 4, 5), jnp.float32, sharding=NamedSharding(mesh, PartitionSpec()))
    lowered = jax.jit(_step(layers.conv2d_same)).lower(x, w)
    assert _op_counts(lowered)["convolution"] == 3 and _op_counts(lowered)["while"] == 0
    hlo = lowered.compile().as_text()
    assert "while" not in hlo and len(re.findall(r"\bconvolution\(", hlo)) == 3
