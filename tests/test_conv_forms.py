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
@pytest.mark.parametrize("padding", [((1, 0), (0, 2)), ((-1, 2), (1, -1)), ((0, 0), (0, 0))])
def test_tap_loop_with_explicit_padding(padding, dtype):
    """conv2d with padding other than 'SAME' (as the upsampling, pooling and
    stride-2 forms use it; a negative one crops, as some transposed
    convolutions' phases do; none, as SinGAN's and ConSinGAN's convolutions,
    which the CPU form pads and crops): values and gradients of XLA's convolution."""
    form = lambda x, w: conv_forms.conv2d(x, w, padding)
    plain = lambda x, w: conv_forms.conv2d_xla(x, w, padding)
    out = jax.eval_shape(plain, jnp.zeros((2, 5, 7, 3)), jnp.zeros((2, 3, 3, 4))).shape
    _assert_same_function(form, plain, (2, 5, 7, 3), (2, 3), out, dtype)


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


def _plain_conv_stride2(x, w, padding):
    return jax.lax.conv_general_dilated(x, w, (2, 2), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _plain_conv_transpose_stride2(x, w, padding):
    # As flax nn.ConvTranspose(strides=2, transpose_kernel=True) computes it; w is [k, k, out, in].
    return jax.lax.conv_transpose(x, w, (2, 2), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                  transpose_kernel=True)


@pytest.mark.parametrize("n", range(1, 10))
@pytest.mark.parametrize("k", range(1, 7))
def test_stride2_same_paddings_are_lax_s(k, n):
    """The explicit paddings the layers give 'SAME' are lax's: the strided
    convolution's from lax.padtype_to_pads, the transposed one's by
    jax.lax.conv_transpose's output with 'SAME' and with that padding."""
    assert conv_forms.same_padding_stride2((1, n, n + 1, 1), (k, k)) == tuple(
        map(tuple, jax.lax.padtype_to_pads((n, n + 1), (k, k), (2, 2), "SAME")))
    rng = np.random.default_rng(k * 10 + n)
    x = jnp.asarray(rng.standard_normal((1, n, n + 1, 2)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((k, k + 1, 3, 2)), jnp.float32)
    same = _plain_conv_transpose_stride2(x, w, "SAME")
    explicit = _plain_conv_transpose_stride2(x, w, conv_forms.transpose_same_padding_stride2(w.shape))
    assert same.shape == explicit.shape == (1, 2 * n, 2 * n + 2, 3)
    np.testing.assert_array_equal(np.asarray(same), np.asarray(explicit))


# Explicit paddings per kernel size k: asymmetric, and for the transposed
# convolution none on one axis (its phases then crop x: negative paddings).
_STRIDE2_PADDINGS = {
    "same": ("SAME", "SAME"),
    "explicit": (lambda k: ((1, 2), (k - 1, 0)), lambda k: ((0, 0), (k - 1, 1))),
}


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("padding", sorted(_STRIDE2_PADDINGS))
@pytest.mark.parametrize("x_size", [(8, 6), (7, 5)])
@pytest.mark.parametrize("k", [1, 3, 4, 5])
def test_stride2_forms_values_and_gradients(k, x_size, padding, dtype):
    """conv_forms.conv_stride2 and conv_transpose_stride2 (through the
    layers' padding) are lax's strided and transposed convolutions, values
    and both gradients, on even and odd sizes."""
    conv_pad, transpose_pad = (p if isinstance(p, str) else p(k) for p in _STRIDE2_PADDINGS[padding])
    x_shape = (2, *x_size, 3)
    w_shape = (k, k, 3, 4)
    explicit = layers._explicit_padding(conv_pad, lambda: conv_forms.same_padding_stride2(x_shape, w_shape))
    plain = lambda x, w: _plain_conv_stride2(x, w, conv_pad)
    out = jax.eval_shape(plain, jnp.zeros(x_shape), jnp.zeros(w_shape)).shape
    _assert_same_function(lambda x, w: conv_forms.conv_stride2(x, w, explicit), plain, x_shape, (k, k), out, dtype)
    # The transposed kernel is [k, k, out, in]: out = 4 as the helper draws kernels [.., in, 4].
    explicit = layers._explicit_padding(transpose_pad, lambda: conv_forms.transpose_same_padding_stride2(w_shape))
    plain = lambda x, w: _plain_conv_transpose_stride2(x, w.transpose(0, 1, 3, 2), transpose_pad)
    out = jax.eval_shape(plain, jnp.zeros(x_shape), jnp.zeros(w_shape)).shape
    _assert_same_function(lambda x, w: conv_forms.conv_transpose_stride2(x, w.transpose(0, 1, 3, 2), explicit),
                          plain, x_shape, (k, k), out, dtype)


@pytest.mark.parametrize("name", ["conv2d", "conv2d_unpadded", "conv_stride2", "conv_transpose_stride2"])
def test_second_derivatives_of_the_forms(name):
    """A gradient penalty differentiates the forms' gradients: the input
    gradient of sum(tanh(form(x, w)) * cot), squared and summed, has the
    values and both gradients of the plain form's (5x5 kernels, odd sizes;
    with no padding, as SinGAN's critics)."""
    pad = ((0, 0), (0, 0)) if name == "conv2d_unpadded" else ((2, 1), (1, 3))
    form, plain = {
        "conv2d": (lambda x, w: conv_forms.conv2d(x, w, pad), lambda x, w: conv_forms.conv2d_xla(x, w, pad)),
        "conv2d_unpadded": (lambda x, w: conv_forms.conv2d(x, w, pad), lambda x, w: conv_forms.conv2d_xla(x, w, pad)),
        "conv_stride2": (lambda x, w: conv_forms.conv_stride2(x, w, pad), lambda x, w: _plain_conv_stride2(x, w, pad)),
        "conv_transpose_stride2": (lambda x, w: conv_forms.conv_transpose_stride2(x, w.transpose(0, 1, 3, 2), pad),
                                   lambda x, w: _plain_conv_transpose_stride2(x, w.transpose(0, 1, 3, 2), pad)),
    }[name]
    rng = np.random.default_rng(5)
    x = jnp.asarray(rng.standard_normal((2, 7, 5, 3)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((5, 5, 3, 4)) * 0.2, jnp.float32)
    cot = jnp.asarray(rng.standard_normal(jax.eval_shape(plain, x, w).shape), jnp.float32)

    def penalty(conv):
        return lambda x, w: jnp.sum(jax.grad(lambda x: jnp.sum(jnp.tanh(conv(x, w)) * cot))(x) ** 2)

    got, want = (_values_and_grads(penalty(f), x, w, jnp.float32(1)) for f in (form, plain))
    for what, a, b in zip(("value", "dx", "dw"), got, want):
        scale = float(jnp.abs(b).max())
        assert scale > 0.5, what
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-5 * scale, err_msg=what)


def _plain_conv_4x4_stride2(x, w):
    return jax.lax.conv_general_dilated(x, w, (2, 2), ((1, 1), (1, 1)), dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _plain_conv_transpose_4x4_stride2(x, w):
    # torch's ConvTranspose2d(4, 2, 1) as flax nn.ConvTranspose(transpose_kernel=True) computes it.
    return jax.lax.conv_transpose(x, w, (2, 2), ((2, 2), (2, 2)), dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                  transpose_kernel=True)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_dcgan_strided_forms_values_and_gradients(dtype):
    _assert_same_function(conv_forms.conv_4x4_stride2, _plain_conv_4x4_stride2, (2, 8, 6, 3), (4, 4),
                          (2, 4, 3, 4), dtype)
    # The transposed kernel is [4, 4, out, in]: out = 4 as the helper draws kernels [.., in, 4].
    _assert_same_function(lambda x, w: conv_forms.conv_transpose_4x4_stride2(x, w.transpose(0, 1, 3, 2)),
                          lambda x, w: _plain_conv_transpose_4x4_stride2(x, w.transpose(0, 1, 3, 2)),
                          (2, 5, 3, 6), (4, 4), (2, 10, 6, 4), dtype)


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
    # 'SAME' on an odd height: lax's padding (1, 1) there, (0, 1) on the width.
    "conv_stride2": (lambda x, w: layers.conv_stride2(x, w, "SAME"),
                     lambda x, w: conv_forms.conv_stride2(x, w, ((1, 1), (0, 1))),
                     lambda x, w: _plain_conv_stride2(x, w, "SAME"), (2, 7, 6, 4)),
    # Kernels drawn HWIO [3, 3, 4, 5] are transposed ones [3, 3, out 5, in 4].
    "conv_transpose_stride2": (lambda x, w: layers.conv_transpose_stride2(x, w.transpose(0, 1, 3, 2), "SAME"),
                               lambda x, w: conv_forms.conv_transpose_stride2(x, w.transpose(0, 1, 3, 2),
                                                                              ((2, 1), (2, 1))),
                               lambda x, w: _plain_conv_transpose_stride2(x, w.transpose(0, 1, 3, 2), "SAME"),
                               (2, 4, 3, 4)),
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
