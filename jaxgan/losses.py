"""GAN losses and regularisers. Every loss takes D outputs (logits, any shape)
and returns a float32 scalar; regularisers return float32 scalars to add.

Discriminator losses return (loss_real, loss_fake) so both can be logged, as
BigGAN-PyTorch does; the D loss is their sum.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import traverse_util

Array = jax.Array


def _f32(x: Array) -> Array:
    return jnp.asarray(x, jnp.float32)


# --- hinge (Lim & Ye 2017; SAGAN, BigGAN)
def hinge_d(real: Array, fake: Array) -> tuple[Array, Array]:
    return jnp.mean(jax.nn.relu(1.0 - _f32(real))), jnp.mean(jax.nn.relu(1.0 + _f32(fake)))


def hinge_g(fake: Array) -> Array:
    return -jnp.mean(_f32(fake))


# --- non-saturating (Goodfellow et al. 2014), on logits
def non_saturating_d(real: Array, fake: Array) -> tuple[Array, Array]:
    return jnp.mean(jax.nn.softplus(-_f32(real))), jnp.mean(jax.nn.softplus(_f32(fake)))


def non_saturating_g(fake: Array) -> Array:
    return jnp.mean(jax.nn.softplus(-_f32(fake)))


# --- Wasserstein (Arjovsky et al. 2017); pair with gradient_penalty for WGAN-GP
def wasserstein_d(real: Array, fake: Array) -> tuple[Array, Array]:
    return -jnp.mean(_f32(real)), jnp.mean(_f32(fake))


def wasserstein_g(fake: Array) -> Array:
    return -jnp.mean(_f32(fake))


# --- least squares (Mao et al. 2017), a=0, b=c=1
def least_squares_d(real: Array, fake: Array) -> tuple[Array, Array]:
    return 0.5 * jnp.mean(jnp.square(_f32(real) - 1.0)), 0.5 * jnp.mean(jnp.square(_f32(fake)))


def least_squares_g(fake: Array) -> Array:
    return 0.5 * jnp.mean(jnp.square(_f32(fake) - 1.0))


LOSSES: dict[str, tuple[Callable, Callable]] = {
    "hinge": (hinge_d, hinge_g),
    "non_saturating": (non_saturating_d, non_saturating_g),
    "wasserstein": (wasserstein_d, wasserstein_g),
    "least_squares": (least_squares_d, least_squares_g),
}


def get_losses(name: str) -> tuple[Callable, Callable]:
    """(d_loss, g_loss) by name."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r} (config.loss); choose one of {sorted(LOSSES)}")
    return LOSSES[name]


def _per_example_grad_norm_sq(d_fn: Callable[[Array], Array], x: Array) -> Array:
    # d_fn maps images [N, ...] to logits [N]; examples are independent in D
    # (no batch statistics), so the gradient of the sum is per-example.
    grads = jax.grad(lambda t: jnp.sum(_f32(d_fn(t))))(x)
    return jnp.sum(jnp.square(_f32(grads)), axis=tuple(range(1, x.ndim)))


def gradient_penalty(d_fn: Callable[[Array], Array], real: Array, fake: Array, key: Array) -> Array:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)|| - 1)^2] at random
    interpolates x_hat of real and fake. Multiply by lambda (10 in the paper)."""
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
    x_hat = eps * real + (1.0 - eps) * jax.lax.stop_gradient(fake)
    norm = jnp.sqrt(_per_example_grad_norm_sq(d_fn, x_hat) + 1e-12)
    return jnp.mean(jnp.square(norm - 1.0))


def r1_penalty(d_fn: Callable[[Array], Array], real: Array) -> Array:
    """R1 (Mescheder et al. 2018): E[||grad D(x_real)||^2]; multiply by gamma / 2."""
    return jnp.mean(_per_example_grad_norm_sq(d_fn, real))


def orthogonal_regularization(params, exclude: Callable[[tuple[str, ...]], bool] | None = None) -> Array:
    """BigGAN's orthogonal regularisation (Brock et al. 2019, eq. 3), off-diagonal only:
    sum over weights W of ||W W^T * (1 - I)||_F^2 / 2, W the [out, fan_in] view.

    The 1/2 makes the gradient 2 (W W^T * (1 - I)) W, the term BigGAN-PyTorch's
    `utils.ortho` adds to each weight's gradient; multiply by the strength
    (1e-4 in the paper). 1-D params (biases, gains) are skipped, as are
    embeddings (leaves named 'embedding': the shared class embedding
    BigGAN-PyTorch blacklists, and per-class BN embeddings) and whatever
    `exclude(path)` selects.
    """
    total = jnp.zeros((), jnp.float32)
    for path, w in traverse_util.flatten_dict(params).items():
        if w.ndim < 2 or path[-1] == "embedding" or (exclude is not None and exclude(path)):
            continue
        m = _f32(w).reshape(-1, w.shape[-1])  # [fan_in, out]: the transpose of torch's view
        total = total + 0.5 * _off_diagonal_gram_sq(m)
    return total


def _off_diagonal_gram_sq(m: Array) -> Array:
    """||W W^T * (1 - I)||_F^2 for W = m.T, without an [out, out] matrix when
    out > fan_in (BigGAN's first linear layer has out = 16 * 16 * ch, where the
    direct form would be a 24576 x 24576 Gram matrix): ||W W^T||_F = ||W^T W||_F,
    and the diagonal of W W^T holds the squared row norms."""
    fan_in, out = m.shape
    if out <= fan_in:
        gram = m.T @ m  # [out, out] = W W^T
        return jnp.sum(jnp.square(gram)) - jnp.sum(jnp.square(jnp.diagonal(gram)))
    small = m @ m.T  # [fan_in, fan_in] = W^T W
    return jnp.sum(jnp.square(small)) - jnp.sum(jnp.square(jnp.sum(jnp.square(m), axis=0)))


def lecam_regularizer(real: Array, fake: Array, anchor_real: Array, anchor_fake: Array) -> Array:
    """LeCam (Tseng et al. 2021, eq. 3, as StudioGAN's `lecam_reg`):
    E[relu(D(x) - anchor_fake)^2] + E[relu(anchor_real - D(G(z)))^2], the
    anchors being moving averages of D's mean outputs on fakes and reals
    (LeCamAnchors). Multiply by lambda (0.3 in StudioGAN's CIFAR configs)."""
    return (jnp.mean(jnp.square(jax.nn.relu(_f32(real) - anchor_fake)))
            + jnp.mean(jnp.square(jax.nn.relu(anchor_real - _f32(fake)))))


def consistency(a: Array, b: Array) -> Array:
    """Mean squared difference of two D outputs (torch's MSELoss): the term of
    CR, bCR and zCR (Zhang et al. 2020; Zhao et al. 2021), D(x) against
    D(T(x)) for an augmentation T, or G(z) against G(z + eps)."""
    return jnp.mean(jnp.square(_f32(a) - _f32(b)))


# --- classifier heads of conditional discriminators (AC-GAN, TAC-GAN, ADC-GAN,
# ContraGAN, ReACGAN), as StudioGAN's losses.py computes them. The contrastive
# losses compare every example of the batch with every other: under jit the
# batch is the global one, as StudioGAN gathers it over DDP ranks.
def class_cross_entropy(logits: Array, labels: Array) -> Array:
    """Mean softmax cross-entropy of class logits [N, K] and integer labels [N]
    (torch's CrossEntropyLoss): AC-GAN's classifier term."""
    logp = jax.nn.log_softmax(_f32(logits), axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, labels[:, None].astype(jnp.int32), axis=-1))


def _cosine(a: Array, b: Array) -> Array:
    """torch's CosineSimilarity(dim=-1, eps=1e-8), broadcast over leading axes."""
    norms = jnp.linalg.norm(a, axis=-1) * jnp.linalg.norm(b, axis=-1)
    return jnp.sum(a * b, axis=-1) / jnp.maximum(norms, 1e-8)


def _pair_masks(labels: Array) -> tuple[Array, Array]:
    """(off-diagonal, same class and off-diagonal) masks of a batch, [N, N]."""
    n = labels.shape[0]
    off = ~jnp.eye(n, dtype=bool)
    return off, off & (labels[:, None] == labels[None, :])


def conditional_contrastive(embed: Array, proxy: Array, labels: Array, temperature: float) -> Array:
    """ContraGAN's 2C loss (Kang & Park 2020, eq. 7): for each example, minus
    the log of [exp(s(e, proxy)) + sum over other same-class examples of
    exp(s(e, e'))] over [exp(s(e, proxy)) + sum over all other examples of
    exp(s(e, e'))], s the cosine similarity / temperature; mean over the batch."""
    embed, proxy = _f32(embed), _f32(proxy)
    off, same = _pair_masks(labels)
    sim = jnp.exp(_cosine(embed[:, None], embed[None, :]) / temperature)
    to_proxy = jnp.exp(_cosine(embed, proxy) / temperature)
    numerator = to_proxy + jnp.sum(jnp.where(same, sim, 0.0), axis=1)
    denominator = to_proxy + jnp.sum(jnp.where(off, sim, 0.0), axis=1)
    return -jnp.mean(jnp.log(numerator / denominator))


def data_to_data_cross_entropy(embed: Array, proxy: Array, labels: Array, temperature: float,
                               margin: float) -> Array:
    """ReACGAN's D2D-CE (Kang et al. 2021, eq. 8) as StudioGAN's
    Data2DataCrossEntropyLoss: a positive attraction relu((m_p - s(e, proxy)) / T)
    plus log(exp(-attraction) + sum over other-class examples of exp(relu(s') -
    max s')), s' = (s(e, e') + m_p - 1) / T and the max over the other examples
    (held constant, for numerical stability); mean over the batch. `margin` is m_p."""
    embed, proxy = _f32(embed), _f32(proxy)
    off, same = _pair_masks(labels)
    sim = (_cosine(embed[:, None], embed[None, :]) + margin - 1.0) / temperature
    sim_max = jax.lax.stop_gradient(jnp.max(jnp.where(off, sim, -jnp.inf), axis=1, keepdims=True))
    repulsion = jnp.where(off & ~same, jnp.exp(jax.nn.relu(sim) - sim_max), 0.0)
    attraction = jax.nn.relu((margin - _cosine(embed, proxy)) / temperature)
    return jnp.mean(attraction + jnp.log(jnp.exp(-attraction) + jnp.sum(repulsion, axis=1)))
