"""Spectral norm, batch norms, self-attention: checked against numpy and torch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxgan.models import layers


def _kernel_matrix(name, kernel):
    # The [fan_in, out] matrix each layer normalises.
    if name == "embed":
        return np.asarray(kernel).T
    return np.asarray(kernel).reshape(-1, kernel.shape[-1])


LAYERS = {
    "dense": (lambda sn: layers.SNDense(24, sn=sn), np.ones((2, 40), np.float32), "kernel"),
    "conv": (lambda sn: layers.SNConv(16, (3, 3), sn=sn), np.ones((2, 6, 6, 5), np.float32), "kernel"),
    "embed": (lambda sn: layers.SNEmbed(30, 12, sn=sn), np.arange(2, dtype=np.int32), "embedding"),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_spectral_norm_converges_to_largest_singular_value(name):
    build, x, pname = LAYERS[name]
    layer = build(layers.SpectralNorm(eps=1e-12, n_iters=1))
    variables = layer.init(jax.random.key(0), x)
    # Random (not orthogonal) weights so the singular values differ.
    kernel = jax.random.normal(jax.random.key(1), variables["params"][pname].shape)
    variables = {**variables, "params": {**variables["params"], pname: kernel}}
    step = jax.jit(lambda v: layer.apply(v, x, train=True, mutable=["spectral"])[1])
    for _ in range(200):
        variables = {**variables, **step(variables)}
    matrix = _kernel_matrix(name, kernel)
    u, v = variables["spectral"]["u"], variables["spectral"]["v"]
    sigma = float(layers.spectral_norm_estimate(jnp.asarray(matrix), u, v))
    top = np.linalg.svd(matrix, compute_uv=False)[0]
    assert sigma == pytest.approx(top, rel=1e-3)
    assert top > 2.0  # a random matrix far from unit norm: the check is not vacuous


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_spectral_norm_eval_leaves_vectors_unchanged_train_updates_them(name):
    build, x, pname = LAYERS[name]
    layer = build(layers.SpectralNorm())
    variables = layer.init(jax.random.key(0), x)
    # Random weights: with BigGAN's orthogonal init every singular value is 1
    # and a power iteration would barely move u.
    kernel = jax.random.normal(jax.random.key(1), variables["params"][pname].shape)
    variables = {**variables, "params": {**variables["params"], pname: kernel}}
    _, after_eval = layer.apply(variables, x, train=False, mutable=["spectral"])
    _, after_train = layer.apply(variables, x, train=True, mutable=["spectral"])
    for key in ("u", "v"):
        np.testing.assert_array_equal(after_eval["spectral"][key], variables["spectral"][key])
    assert np.abs(after_train["spectral"]["u"] - variables["spectral"]["u"]).max() > 1e-3
    # The raw kernel stays the param; u and v are not params.
    assert set(variables["params"]) <= {pname, "bias"}
    assert set(variables["spectral"]) == {"u", "v"}


def test_spectral_norm_output_has_unit_spectral_norm_and_gradient_reaches_kernel():
    layer = layers.SNDense(8, use_bias=False, sn=layers.SpectralNorm(eps=1e-12, n_iters=100))
    x = np.eye(20, dtype=np.float32)
    variables = layer.init(jax.random.key(0), x)
    kernel = 3.0 * jax.random.normal(jax.random.key(1), (20, 8))
    variables = {**variables, "params": {"kernel": kernel}}
    # Identity input returns W / sigma, whose largest singular value is 1.
    w_sn, _ = layer.apply(variables, x, train=True, mutable=["spectral"])
    assert np.linalg.svd(np.asarray(w_sn), compute_uv=False)[0] == pytest.approx(1.0, rel=1e-4)

    def loss(params):
        out, _ = layer.apply({**variables, "params": params}, x, train=True, mutable=["spectral"])
        return jnp.sum(out ** 2)

    grads = jax.grad(loss)(variables["params"])
    assert float(jnp.abs(grads["kernel"]).max()) > 0


def test_weight_init_styles():
    shape = (64, 32)
    ortho = np.asarray(layers.weight_init("ortho")(jax.random.key(0), shape))
    np.testing.assert_allclose(ortho.T @ ortho, np.eye(32), atol=1e-5)
    n02 = np.asarray(layers.weight_init("N02")(jax.random.key(0), (256, 256)))
    assert n02.std() == pytest.approx(0.02, rel=0.05)
    with pytest.raises(ValueError, match="unknown init style"):
        layers.weight_init("kaiming")


def test_batch_norm_matches_torch_in_train_and_eval():
    x = np.random.default_rng(0).normal(2.0, 3.0, (6, 5, 4, 7)).astype(np.float32)
    bn = layers.BatchNorm(momentum=0.9, eps=1e-5)
    variables = bn.init(jax.random.key(0), x)
    scale = np.linspace(0.5, 1.5, 7).astype(np.float32)
    bias = np.linspace(-1, 1, 7).astype(np.float32)
    variables = {**variables, "params": {"scale": scale, "bias": bias}}
    out, updates = bn.apply(variables, x, train=True, mutable=["batch_stats"])

    ref = torch.nn.BatchNorm2d(7, eps=1e-5, momentum=0.1)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(scale))
        ref.bias.copy_(torch.from_numpy(bias))
    ref.train()
    ref_out = ref(torch.from_numpy(x.transpose(0, 3, 1, 2))).detach().numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(out, ref_out, atol=1e-5)
    np.testing.assert_allclose(updates["batch_stats"]["mean"], ref.running_mean.numpy(), atol=1e-5)
    np.testing.assert_allclose(updates["batch_stats"]["var"], ref.running_var.numpy(), atol=1e-5)

    ref.eval()
    eval_out = bn.apply({**variables, **updates}, x, train=False)
    ref_eval = ref(torch.from_numpy(x.transpose(0, 3, 1, 2))).detach().numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(eval_out, ref_eval, atol=1e-5)


def test_conditional_batch_norm_gain_is_one_plus_linear():
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 8)).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(4, 10)).astype(np.float32)
    cbn = layers.ConditionalBatchNorm(sn=None)
    variables = cbn.init(jax.random.key(0), x, y)
    out, _ = cbn.apply(variables, x, y, train=True, mutable=["batch_stats"])
    normed = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-5)
    gain = 1.0 + y @ np.asarray(variables["params"]["gain"]["kernel"])
    bias = y @ np.asarray(variables["params"]["bias"]["kernel"])
    np.testing.assert_allclose(out, normed * gain[:, None, None] + bias[:, None, None], atol=1e-4)
    # With zero maps the layer is plain normalisation: gain 1, not 0.
    zeros = jax.tree_util.tree_map(jnp.zeros_like, variables["params"])
    out0, _ = cbn.apply({**variables, "params": zeros}, x, y, train=True, mutable=["batch_stats"])
    np.testing.assert_allclose(out0, normed, atol=1e-4)


def test_conditional_batch_norm_per_class_embeddings_and_bf16_statistics():
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 8)).astype(np.float32)
    labels = np.array([0, 3, 3, 9], np.int32)
    cbn = layers.ConditionalBatchNorm(num_classes=10, dtype=jnp.bfloat16)
    variables = cbn.init(jax.random.key(0), x, labels)
    assert variables["params"]["gain"]["embedding"].shape == (10, 8)
    out, updates = cbn.apply(variables, x.astype(jnp.bfloat16), labels, train=True, mutable=["batch_stats"])
    assert out.dtype == jnp.bfloat16
    assert updates["batch_stats"]["mean"].dtype == jnp.float32
    assert variables["params"]["gain"]["embedding"].dtype == jnp.float32


def test_self_attention_matches_numpy_and_starts_as_identity():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 4, 6, 16)).astype(np.float32)
    attn = layers.SelfAttention(sn=None)
    variables = attn.init(jax.random.key(0), x)
    np.testing.assert_array_equal(attn.apply(variables, x), x)  # gamma starts at 0

    params = jax.tree_util.tree_map(lambda p: p, variables["params"])
    params["gamma"] = jnp.asarray(0.8)
    out = np.asarray(attn.apply({"params": params}, x))

    w = {k: np.asarray(params[k]["kernel"])[0, 0] for k in ("theta", "phi", "g", "o")}

    def pool(t):  # 2x2 max pool, NHWC
        n, h, wd, c = t.shape
        return t.reshape(n, h // 2, 2, wd // 2, 2, c).max(axis=(2, 4))

    theta = (x @ w["theta"]).reshape(2, 24, 2)
    phi = pool(x @ w["phi"]).reshape(2, 6, 2)
    g = pool(x @ w["g"]).reshape(2, 6, 8)
    logits = theta @ phi.transpose(0, 2, 1)
    beta = np.exp(logits - logits.max(-1, keepdims=True))
    beta /= beta.sum(-1, keepdims=True)
    expected = x + 0.8 * ((beta @ g).reshape(2, 4, 6, 8) @ w["o"])
    np.testing.assert_allclose(out, expected, atol=1e-5)
    assert np.abs(out - x).max() > 0.1


def test_lookup_accepts_labels_and_class_vectors():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_array_equal(layers.lookup(table, np.array([2, 0])), table[[2, 0]])
    onehot = np.eye(4, dtype=np.float32)[[2, 0]]
    np.testing.assert_array_equal(layers.lookup(table, onehot), table[[2, 0]])
    mix = np.array([[0.5, 0.5, 0, 0]], np.float32)
    np.testing.assert_allclose(layers.lookup(table, mix), 0.5 * (table[0] + table[1])[None])


def test_resampling():
    x = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    up = np.asarray(layers.upsample_nearest(x))
    np.testing.assert_array_equal(up[:, ::2, ::2], x)
    np.testing.assert_array_equal(up[:, 1::2, 1::2], x)
    np.testing.assert_allclose(layers.avg_pool2(up), x)


@pytest.mark.parametrize("kernel_size", [(3, 3), (1, 1), (3, 1), (2, 2)])
def test_conv2d_same_gradients_equal_xla_and_torch(kernel_size):
    """The CPU custom VJP (per-tap matmuls for the kernel gradient) gives XLA's
    convolution gradients; for odd kernels also torch's conv2d(padding=k//2)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 9, 7, 5)).astype(np.float32)
    w = rng.standard_normal((*kernel_size, 5, 4)).astype(np.float32)
    cot = rng.standard_normal((3, 9, 7, 4)).astype(np.float32)

    def loss(conv):
        return lambda x, w: jnp.sum(conv(x, w) * cot)

    assert jax.default_backend() == "cpu"  # the custom VJP is what runs here
    y_custom = layers.conv2d_same(x, w)
    y_xla = layers._conv2d_same_xla(x, w)
    np.testing.assert_array_equal(np.asarray(y_custom), np.asarray(y_xla))
    g_custom = jax.jit(jax.grad(loss(layers.conv2d_same), argnums=(0, 1)))(x, w)
    g_xla = jax.grad(loss(layers._conv2d_same_xla), argnums=(0, 1))(x, w)
    for a, b in zip(g_custom, g_xla):
        assert float(jnp.abs(b).max()) > 1.0
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-4)
    if kernel_size[0] % 2 and kernel_size[1] % 2:
        xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
        wt = torch.tensor(w.transpose(3, 2, 0, 1), requires_grad=True)
        pad = (kernel_size[0] // 2, kernel_size[1] // 2)
        yt = torch.nn.functional.conv2d(xt, wt, padding=pad)
        (yt * torch.tensor(cot.transpose(0, 3, 1, 2))).sum().backward()
        np.testing.assert_allclose(np.asarray(g_custom[0]), xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(np.asarray(g_custom[1]), wt.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-5, atol=1e-4)


def test_conv2d_same_gradient_holds_one_window_copy_at_a_time():
    """The kernel gradient's per-tap windows of x are copied one at a time (a
    loop), not all nine at once: XLA's own memory analysis of the compiled
    gradient, in units of x's size. Unrolled taps needed 11x (BigGAN-deep 256
    at batch 8: 31 GiB of temporaries instead of 15); the loop needs ~3x
    (padded x, one window, dy^T). The loop runs whatever the device count (this
    process has 8)."""
    x = jax.ShapeDtypeStruct((2, 64, 64, 16), jnp.float32)
    w = jax.ShapeDtypeStruct((3, 3, 16, 16), jnp.float32)
    grad = jax.jit(jax.grad(lambda x, w: jnp.sum(layers.conv2d_same(x, w) ** 2), argnums=(0, 1)))
    assert jax.device_count() > 1
    assert grad.lower(x, w).compile().memory_analysis().temp_size_in_bytes < 5 * 2 * 64 * 64 * 16 * 4


def _assert_same_function(fast, plain, x, w, cot, grad_floor):
    """fast(x, w) equals plain(x, w) in values and in both gradients under the
    cotangent `cot` (whose largest entries exceed grad_floor: not vacuous)."""
    np.testing.assert_allclose(np.asarray(fast(x, w)), np.asarray(plain(x, w)), rtol=1e-5, atol=1e-5)
    loss = lambda conv: lambda x, w: jnp.sum(conv(x, w) * cot)
    g_fast = jax.jit(jax.grad(loss(fast), argnums=(0, 1)))(x, w)
    g_plain = jax.grad(loss(plain), argnums=(0, 1))(x, w)
    for a, b in zip(g_fast, g_plain):
        assert float(jnp.abs(b).max()) > grad_floor
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-4)


def _compiled_macs(fn, x, w) -> float:
    """Multiply-adds of the compiled fn(x, w), from XLA's cost analysis."""
    cost = jax.jit(fn).lower(x, w).compile().cost_analysis()
    return (cost[0] if isinstance(cost, (list, tuple)) else cost)["flops"] / 2


@pytest.mark.parametrize("kernel_size", [(3, 3), (1, 1)])
def test_upsample_conv_equals_upsample_then_conv(kernel_size):
    """The CPU's phase-decomposed upsampling convolution (four 2x2 convolutions
    on the small input) is the plain nearest-upsample + 'SAME' convolution, in
    values and in both gradients, borders included; and it does 16/36 of the
    multiply-adds."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 6, 7)).astype(np.float32)
    w = rng.standard_normal((*kernel_size, 7, 4)).astype(np.float32)
    cot = rng.standard_normal((2, 10, 12, 4)).astype(np.float32)
    plain = lambda x, w: layers._conv2d_same_xla(layers.upsample_nearest(x), w)
    _assert_same_function(layers.upsample_conv2d_same, plain, x, w, cot, grad_floor=1.0)
    per_pixel = 16 if kernel_size == (3, 3) else 1  # per input pixel, in and out channel
    assert _compiled_macs(layers.upsample_conv2d_same, x, w) < 1.1 * per_pixel * 2 * 5 * 6 * 7 * 4


@pytest.mark.parametrize("kernel_size", [(3, 3), (1, 1)])
def test_conv_avg_pool_equals_conv_then_pool(kernel_size):
    """The CPU's fused convolution + 2x2 average pooling (a 2x2 convolution on
    the space-to-depth input) is the plain 'SAME' convolution then pooling, in
    values and in both gradients; and it does fewer multiply-adds: 16 instead
    of 36 per output pixel and channel pair for 3x3 (on one extra row and
    column of blocks), 1 instead of 4 for 1x1."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 16, 12, 5)).astype(np.float32)
    w = rng.standard_normal((*kernel_size, 5, 4)).astype(np.float32)
    cot = rng.standard_normal((2, 8, 6, 4)).astype(np.float32)
    plain = lambda x, w: layers.avg_pool2(layers._conv2d_same_xla(x, w))
    _assert_same_function(layers.conv2d_same_avg_pool, plain, x, w, cot, grad_floor=0.5)
    plain_macs = 2 * 16 * 12 * 5 * 4 * kernel_size[0] * kernel_size[1]
    limit = (0.4 if kernel_size == (1, 1) else 0.65) * plain_macs  # 1x1: plus the pooling adds
    assert _compiled_macs(layers.conv2d_same_avg_pool, x, w) < limit
