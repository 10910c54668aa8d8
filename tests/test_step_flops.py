"""benchmarks/step_flops.py: FLOPs of matrix products and convolutions from a
jaxpr, every loop iteration counted (XLA's cost analysis counts a loop body once)."""

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp

from jaxgan.models import conv_forms, layers

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("step_flops", REPO / "benchmarks" / "step_flops.py")
step_flops = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step_flops)

X = jax.ShapeDtypeStruct((2, 16, 16, 8), jnp.float32)
W = jax.ShapeDtypeStruct((3, 3, 8, 4), jnp.float32)
CONV = 2 * (2 * 16 * 16 * 4) * (3 * 3 * 8)  # 2 x outputs x multiply-adds per output


def test_convolution_and_its_gradients():
    assert step_flops.matmul_flops(layers._conv2d_same_xla, X, W) == CONV
    # The input and kernel gradients cost one forward convolution each, whether
    # XLA's transposed convolutions compute them or the CPU custom VJP (a
    # convolution and a 9-tap loop of matrix products), which XLA counts as
    # 1 + 1/9 of that.
    for conv in (layers._conv2d_same_xla, conv_forms.conv2d_same, layers.conv2d_same):
        grad = jax.grad(lambda x, w: jnp.sum(conv(x, w)), argnums=(0, 1))
        assert step_flops.matmul_flops(grad, X, W) == 3 * CONV
    cost = jax.jit(grad).lower(X, W).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    assert cost["flops"] < 1.2 * CONV


def test_per_platform_forms_count_the_form_compiled_for_this_backend():
    # layers' upsampling convolution: on the CPU four 2x2 phase convolutions
    # (16 of the plain form's 36 multiply-adds per input pixel), elsewhere upsample + 3x3.
    phases = step_flops.matmul_flops(conv_forms.upsample_conv2d_same, X, W)
    plain = step_flops.matmul_flops(lambda x, w: layers.conv2d_same(layers.upsample_nearest(x), w), X, W)
    assert 36 * phases == 16 * plain
    assert step_flops.matmul_flops(layers.upsample_conv2d_same, X, W) == phases


def test_scan_iterations_count_and_a_cond_counts_one_branch():
    a = jax.ShapeDtypeStruct((5, 6), jnp.float32)
    b = jax.ShapeDtypeStruct((6, 7), jnp.float32)
    product = 2 * 5 * 6 * 7
    assert step_flops.matmul_flops(jnp.matmul, a, b) == product

    def looped(a, b):
        return jax.lax.scan(lambda c, _: (c, c @ b), a, None, length=4)[1]

    assert step_flops.matmul_flops(looped, a, b) == 4 * product
    pick = lambda p, a, b: jax.lax.cond(p, lambda: a @ b, lambda: a @ b @ jnp.ones((7, 7)))
    assert step_flops.matmul_flops(pick, True, a, b) == product + 2 * 5 * 7 * 7
