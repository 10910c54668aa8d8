"""benchmarks/step_flops.py: FLOPs of matrix products and convolutions from a
jaxpr, every loop iteration counted (XLA's cost analysis counts a loop body once)."""

import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp

from jaxgan.models import layers

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("step_flops", REPO / "benchmarks" / "step_flops.py")
step_flops = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step_flops)

X = jax.ShapeDtypeStruct((2, 16, 16, 8), jnp.float32)
W = jax.ShapeDtypeStruct((3, 3, 8, 4), jnp.float32)
CONV = 2 * (2 * 16 * 16 * 4) * (3 * 3 * 8)  # 2 x outputs x multiply-adds per output


def test_convolution_and_its_gradients(monkeypatch):
    assert step_flops.matmul_flops(layers._conv2d_same_xla, X, W) == CONV
    # The input and kernel gradients cost one forward convolution each, whether
    # XLA's transposed convolutions compute them or the CPU custom VJP (a
    # convolution and 9 per-tap matrix products); with the taps in a loop (one
    # device) XLA counts 1 + 1/9 of that.
    for conv in (layers._conv2d_same_xla, layers._conv2d_same_cpu):
        grad = jax.grad(lambda x, w: jnp.sum(conv(x, w)), argnums=(0, 1))
        assert step_flops.matmul_flops(grad, X, W) == 3 * CONV
    monkeypatch.setattr(layers, "_taps_in_a_loop", lambda: True)  # as on one device
    grad = jax.grad(lambda x, w: jnp.sum(layers._conv2d_same_cpu(x, w)), argnums=(0, 1))
    assert step_flops.matmul_flops(grad, X, W) == 3 * CONV
    cost = jax.jit(grad).lower(X, W).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    assert cost["flops"] < 1.2 * CONV


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
