"""FLOPs of a function from its jaxpr: 2 x the multiply-adds of every matrix
product (dot_general) and convolution, a scan body counted once per iteration.

Why not only XLA's cost analysis (`compiled.cost_analysis()["flops"]`): it
counts a loop body once, whatever its trip count. A train step has loops: the
num_d_steps D updates and the grad-accumulation micro-batches run under
lax.scan, and on the CPU each convolution's weight gradient loops over its
kernel taps (jaxgan.models.conv_forms.conv2d). Elementwise work is left out,
as in the usual model-FLOPs utilisation (MFU); in BigGAN's steps XLA counts it
at a few percent of the products.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
from jax.extend import core


def matmul_flops(fn: Callable, *args: Any) -> int:
    """FLOPs of fn(*args) (arrays or jax.ShapeDtypeStruct); traces fn, runs nothing."""
    return _count(jax.make_jaxpr(fn)(*args).jaxpr)


def _subjaxprs(value: Any):
    if isinstance(value, core.ClosedJaxpr):
        yield value.jaxpr
    elif isinstance(value, core.Jaxpr):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _subjaxprs(v)


def _count(jaxpr: core.Jaxpr) -> int:
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        out = eqn.outvars[0].aval
        if name == "dot_general":
            (lhs_contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval
            total += 2 * math.prod(out.shape) * math.prod(lhs.shape[d] for d in lhs_contract)
        elif name == "conv_general_dilated":
            rhs, rhs_spec = eqn.invars[1].aval, eqn.params["dimension_numbers"].rhs_spec
            # rhs_spec: (out features, in features per group, spatial...)
            per_output = rhs.shape[rhs_spec[1]] * math.prod(rhs.shape[d] for d in rhs_spec[2:])
            total += 2 * math.prod(out.shape) * per_output
        if name == "cond":
            branches = list(_subjaxprs(eqn.params["branches"]))
            platforms = eqn.params.get("branches_platforms")
            if platforms is not None:  # lax.platform_dependent: the branch compiled for this backend
                backend = jax.default_backend()
                total += _count(next(b for b, ps in zip(branches, platforms) if ps is None or backend in ps))
            else:  # one branch runs: count the most expensive
                total += max(_count(b) for b in branches)
            continue
        times = eqn.params["length"] if name == "scan" else 1  # a while loop's trip count is unknown: once
        for value in eqn.params.values():
            for sub in _subjaxprs(value):
                total += times * _count(sub)
    return total
