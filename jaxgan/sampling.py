"""What a noise-to-image generator is fed: z from its prior, with or without
truncation, classes, standing statistics, interpolations, z after LOGAN's
latent steps. (Pictures and files of its outputs: jaxgan.pictures.)

Everything here is a pure function of its inputs, so it serves the train loop,
`--mode sample`, evaluation and the Colab notebook alike.

Truncation comes in two conventions that give different numbers for the same
value, so they carry different names:

- `truncated_normal_z(key, shape, psi)`: DeepMind's BigGAN-deep / TF-Hub
  convention, the one pytorch-pretrained-biggan's pretrained models and their
  standing statistics are indexed by: z ~ N(0, 1) truncated to [-2, 2], then
  multiplied by psi in [0, 1].
- `resampled_normal_z(key, shape, threshold)`: the BigGAN paper's "truncation
  trick" (values with |z| > threshold are resampled until they fall inside),
  not rescaled, so `threshold` is the bound itself.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


# --------------------------------------------------------------------------
# Truncation


def _check_scalar(name: str, value, low: float, high: float, low_open: bool) -> None:
    """Range check for Python numbers; traced values pass unchecked."""
    if isinstance(value, (int, float, np.floating, np.integer)):
        bad = value <= low if low_open else value < low
        if bad or value > high:
            interval = f"{'(' if low_open else '['}{low}, {high}]"
            raise ValueError(f"{name} must be in {interval}, got {value}")


def truncated_normal_z(key: Array, shape: Sequence[int], psi: float, dtype=jnp.float32) -> Array:
    """z for truncation `psi`, DeepMind's BigGAN-deep convention.

    Draws from a standard normal truncated to [-2, 2] and multiplies by `psi`,
    so every value lies in [-2 psi, 2 psi] and psi -> 0 shrinks z towards 0.
    This is what DeepMind's TF-Hub BigGAN / BigGAN-deep Colab does
    (`truncated_z_sample`: `truncation * truncnorm.rvs(-2, 2, ...)`), what
    pytorch-pretrained-biggan's `utils.truncated_noise_sample(batch_size,
    dim_z, truncation)` does (the same scipy call), and what BigGAN-PyTorch's
    `TFHub/biggan.py: truncated_z_sample` copies. The pretrained BigGAN-deep
    models take z of 128 dims and expect the same `psi` here and
    in their standing statistics (`ConvertedGenerator.variables(truncation)`
    in jaxgan.convert.pytorch_pretrained_biggan): pass the same number to both.

    psi must be in [0, 1]; psi = 0 gives z = 0, the limit of truncation: one
    image per class (the converted model's standing statistics need psi > 0,
    use its smallest nonzero one, 1 / (n_stats - 1), for them).
    """
    _check_scalar("psi", psi, 0.0, 1.0, low_open=False)
    return jax.random.truncated_normal(key, -2.0, 2.0, tuple(shape), dtype) * jnp.asarray(psi, dtype)


def resampled_normal_z(key: Array, shape: Sequence[int], threshold: float, dtype=jnp.float32) -> Array:
    """z with every value in [-threshold, threshold], the BigGAN paper's convention.

    Brock et al. 2019 (Large Scale GAN Training..., Sec. 3.1) truncate "by
    resampling the values with magnitude above a chosen threshold". Redrawing a
    standard normal until |z| <= threshold gives exactly the standard normal
    conditioned on |z| <= threshold, i.e. scipy's truncnorm(-threshold,
    threshold); this draws from that distribution directly
    (jax.random.truncated_normal, inverse-CDF), so there is no loop and no
    unbounded cost for small thresholds. The values are not rescaled:
    threshold 0.5 gives values in [-0.5, 0.5] with std truncnorm(-0.5, 0.5).std().

    Not BigGAN-PyTorch's own sweep: its `sample.py --sample_trunc_curves`
    varies `z_.var` (utils.py `Distribution.sample_`, `normal_(mean, var)`),
    i.e. it scales an untruncated normal. And not `truncated_normal_z`: there
    the bound is fixed at 2 and psi scales the values.
    """
    _check_scalar("threshold", threshold, 0.0, float("inf"), low_open=True)
    t = jnp.asarray(threshold, dtype)
    return jax.random.truncated_normal(key, -t, t, tuple(shape), dtype)


# --------------------------------------------------------------------------
# Standing statistics


Z_PRIORS = ("normal", "uniform")


def draw_inputs(key: Array, n: int, z_dim: int, num_classes: int | None,
                truncation: float | None = None, prior: str = "normal") -> tuple[Array, Array | None]:
    """z and uniformly drawn class ids (None for an unconditional G) for n
    samples; traceable. truncation None: z from the prior, the training
    distribution (the same numbers as the trainer's `sample_inputs` for the
    same key): N(0, I) ('normal') or U(-1, 1) ('uniform', StudioGAN's
    z_prior 'uniform'); else `truncated_normal_z` at psi = truncation (normal
    prior only)."""
    if prior not in Z_PRIORS:
        raise ValueError(f"the z prior must be one of {Z_PRIORS}, got {prior!r}")
    kz, ky = jax.random.split(key)
    if prior == "uniform":
        if truncation is not None:
            raise ValueError(f"truncation {truncation} needs normal z; this generator's z is uniform in [-1, 1] "
                             "(config.model.z_prior 'uniform')")
        z = jax.random.uniform(kz, (n, z_dim), jnp.float32, -1.0, 1.0)
    elif truncation is None:
        z = jax.random.normal(kz, (n, z_dim), jnp.float32)
    else:
        z = truncated_normal_z(kz, (n, z_dim), truncation)
    y = None if num_classes is None else jax.random.randint(ky, (n,), 0, num_classes)
    return z, y


def standing_stats(model, variables, keys: Array, truncation, batch_size: int, sharding=None) -> dict:
    """G's BatchNorm statistics for samples at `truncation`: the plain average,
    over one batch per key in `keys` ([num_batches] keys), of each batch's
    mean and (unbiased) variance; a `batch_stats` tree to sample with.

    BigGAN-PyTorch's `utils.accumulate_standing_stats` (with its `myBN`): reset
    the statistics, run G in train mode on many batches of fresh z and classes,
    and average, instead of the running averages kept during training; it
    improves samples at a given truncation, and the released BigGAN-deep
    models ship a set per truncation. z is `truncated_normal_z` at
    psi = truncation (`draw_inputs`), classes uniform, as for sampling.

    `model` is a jaxgan generator (a `bn_momentum` field): with momentum 0 a
    train-mode call stores exactly the batch's statistics. Train mode also
    runs one power iteration per spectrally normalised layer from the stored
    vectors; those updates are discarded (for a trained G the vectors have
    converged, so sigma is the eval-mode value). `sharding`: where to put each
    batch (e.g. split over a mesh's `data` axis; BN statistics stay global).
    Pure and traceable: jit it with `batch_size` static.
    """
    if "batch_stats" not in variables:
        raise ValueError("this generator has no BatchNorm statistics (no 'batch_stats' collection)")
    measure = model.clone(bn_momentum=0.0)
    mutable = [c for c in variables if c != "params"]
    zeros = jax.tree_util.tree_map(jnp.zeros_like, variables["batch_stats"])

    def add_batch(total, key):
        z, y = draw_inputs(key, batch_size, model.z_dim, model.num_classes, truncation)
        if sharding is not None:
            z, y = jax.lax.with_sharding_constraint((z, y), sharding)
        _, updates = measure.apply({**variables, "batch_stats": zeros}, z, y, train=True, mutable=mutable)
        return jax.tree_util.tree_map(jnp.add, total, updates["batch_stats"]), None

    total, _ = jax.lax.scan(add_batch, zeros, keys)
    return jax.tree_util.tree_map(lambda t: t / keys.shape[0], total)


# --------------------------------------------------------------------------
# Latent optimisation (LOGAN)

# The stream of LOGAN's per-example draws, folded from the key that drew z.
_LATENT_STREAM = 0x1060A


def latent_step_draws(key: Array, steps: int, n: int, start: int | Array = 0) -> Array:
    """[steps, n] numbers uniform in [0, 1) that decide which examples take
    each of LOGAN's latent steps (`latent_optimise`). key: the key z was drawn
    with; example start + i's numbers come from its own key, so a sample's
    steps do not depend on the batch it is drawn in or on its padding."""
    stream = jax.random.fold_in(key, _LATENT_STREAM)
    index = jnp.asarray(start, jnp.uint32) + jnp.arange(n, dtype=jnp.uint32)
    return jax.vmap(lambda i: jax.random.uniform(jax.random.fold_in(stream, i), (steps,)))(index).T


def latent_optimise(score, z: Array, draws: Array, *, alpha: float, beta: float, rate: float,
                    bound: float | None = None, state=None) -> tuple[Array, Array, object]:
    """LOGAN's latent optimisation (Wu et al. 2019, as StudioGAN's
    utils/losses.py latent_optimise), one step per row of `draws` ([steps, N]):

        g   = d score(z)_i / d z_i               (per example; score is D(G(z)))
        dz  = alpha g / (beta + |g|^2)           (the natural-gradient step)
        z  <- z + [draw_i < rate] dz,  clipped to [-bound, bound] if bound is set

    so z moves up D(G(z)), a share `rate` of the examples per step (the
    others keep theirs). Returns (z, cost, state): cost = sum over the steps of
    mean_i |dz_i|^2 of all the examples, taken or not (StudioGAN's transport
    cost). score(z, state) -> (scores [N], state): `state` carries side outputs
    of train-mode calls (BatchNorm statistics, SN vectors) through the steps.
    Differentiable: the gradient of anything computed from the result flows
    through each step's g (second order, as torch's create_graph=True)."""

    def step(carry, u):
        z, cost, state = carry
        g, state = jax.grad(lambda z: _summed(score(z, state)), has_aux=True)(z)
        g = g.astype(jnp.float32)
        dz = alpha * g / (beta + jnp.sum(g * g, axis=-1, keepdims=True))
        z = z + (u < rate).astype(z.dtype)[:, None] * dz.astype(z.dtype)
        if bound is not None:
            z = jnp.clip(z, -bound, bound)
        return (z, cost + jnp.mean(jnp.sum(dz * dz, axis=-1)), state), None

    (z, cost, state), _ = jax.lax.scan(step, (z, jnp.zeros((), jnp.float32), state), draws)
    return z, cost, state


def _summed(scored):
    scores, state = scored
    return jnp.sum(scores.astype(jnp.float32)), state


# --------------------------------------------------------------------------
# Interpolation


def _steps(n: int, ndim: int, dtype) -> Array:
    if n < 2:
        raise ValueError(f"n must be at least 2 (both end points), got {n}")
    return jnp.linspace(0.0, 1.0, n, dtype=dtype).reshape((n,) + (1,) * ndim)


def lerp(a, b, n: int) -> Array:
    """n points from a to b inclusive, linearly spaced, along a new leading
    axis: [n, *a.shape]. Row 0 is a and row n-1 is b exactly.

    BigGAN-PyTorch's utils.py `interp(x0, x1, num_midpoints)` is this with
    n = num_midpoints + 2 (it adds the steps on axis 1 instead)."""
    a, b = jnp.asarray(a), jnp.asarray(b)
    a, b = jnp.broadcast_arrays(a, b)
    dtype = jnp.result_type(a.dtype, jnp.float32)
    t = _steps(n, a.ndim, dtype)
    return (1.0 - t) * a.astype(dtype) + t * b.astype(dtype)


def slerp(a, b, n: int, eps: float = 1e-6) -> Array:
    """n points from a to b inclusive along the great circle, per row: a, b
    are [..., D] and each row (last axis) is interpolated on its own; returns
    [n, ..., D].

    The spherical interpolation of Shoemake (1985) as White (2016, "Sampling
    Generative Networks") uses it for GAN latents:
        slerp(a, b; t) = sin((1 - t) w) / sin w * a + sin(t w) / sin w * b,
    with w the angle between a and b. Unit vectors stay on the unit sphere;
    vectors of equal norm r stay on the sphere of radius r (what Gaussian z of
    high dimension nearly are, where lerp's midpoints would fall inside, to
    norms z never has). Where sin w < eps (a and b parallel, or opposite)
    the row falls back to lerp; for opposite vectors that passes through 0,
    as any choice of great circle would be arbitrary.
    """
    a, b = jnp.asarray(a), jnp.asarray(b)
    a, b = jnp.broadcast_arrays(a, b)
    dtype = jnp.result_type(a.dtype, jnp.float32)
    a, b = a.astype(dtype), b.astype(dtype)
    t = _steps(n, a.ndim, dtype)
    norm = lambda v: jnp.linalg.norm(v, axis=-1, keepdims=True)
    tiny = jnp.finfo(dtype).tiny
    a_hat, b_hat = a / jnp.maximum(norm(a), tiny), b / jnp.maximum(norm(b), tiny)
    # The angle from atan2(|a^ - b^|, |a^ + b^|) * 2 keeps precision near 0 and pi,
    # where arccos of the dot product loses it.
    omega = 2.0 * jnp.arctan2(norm(a_hat - b_hat), norm(a_hat + b_hat))
    sin_omega = jnp.sin(omega)
    parallel = sin_omega < eps
    safe = jnp.where(parallel, 1.0, sin_omega)
    spherical = (jnp.sin((1.0 - t) * omega) / safe) * a + (jnp.sin(t * omega) / safe) * b
    linear = (1.0 - t) * a + t * b
    out = jnp.where(parallel, linear, spherical)
    # End points exactly, whatever rounding sin(w) / sin(w) does.
    return out.at[0].set(a).at[-1].set(b)


def class_vectors(y, num_classes: int | None = None) -> Array:
    """Class inputs as float vectors [..., num_classes]: integer labels become
    one-hot rows, float vectors (one-hot or soft) are returned as float32."""
    y = jnp.asarray(y)
    if jnp.issubdtype(y.dtype, jnp.integer):
        if num_classes is None:
            raise ValueError("integer labels need num_classes to become one-hot vectors")
        return jax.nn.one_hot(y, num_classes, dtype=jnp.float32)
    if num_classes is not None and y.shape[-1] != num_classes:
        raise ValueError(f"class vectors have {y.shape[-1]} entries, num_classes is {num_classes}")
    return y.astype(jnp.float32)


def interpolate_z_and_classes(z0, z1, y0=None, y1=None, n: int = 8, mode: str = "slerp",
                              num_classes: int | None = None) -> tuple[Array, Array | None]:
    """Inputs for an interpolation from (z0, y0) to (z1, y1) in n steps.

    z0, z1: [D] or a batch [B, D]. y0, y1: integer labels (scalar / [B]) or
    class vectors ([C] / [B, C], one-hot or soft); None for an unconditional G.
    Fix z (z0 is z1) to morph the class, fix the class (y0 == y1) to move in z.

    Returns (z, y) with the steps on a new leading axis: z [n, (B,) D] by
    `mode` ('slerp' or 'lerp'), y [n, (B,) C] float class weights, always
    linear: the class embedding is linear in the one-hot vector (jaxgan's
    `layers.lookup`, pytorch-pretrained-biggan's `embeddings` Linear), so
    lerp of one-hot vectors is lerp of class embeddings, what BigGAN-PyTorch's
    `interp_sheet` does with `G.shared(y)`. The weights at each step sum to 1.

    jaxgan's BigGAN and BigGAN-deep generators take these float vectors as y
    directly (an integer y is looked up, a float [N, C] y is multiplied by the
    embedding table). For one frame per step: `G(z[i], y[i])`; for one sheet
    with a row per pair: `z.swapaxes(0, 1).reshape(-1, D)` and `ncol=n`.
    """
    if mode not in ("slerp", "lerp"):
        raise ValueError(f"mode must be 'slerp' or 'lerp', got {mode!r}")
    z = (slerp if mode == "slerp" else lerp)(z0, z1, n)
    if (y0 is None) != (y1 is None):
        raise ValueError("pass both y0 and y1, or neither (unconditional G)")
    if y0 is None:
        return z, None
    c0, c1 = class_vectors(y0, num_classes), class_vectors(y1, num_classes)
    return z, lerp(c0, c1, n).astype(jnp.float32)
