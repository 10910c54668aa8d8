"""Lloyd's k-means from given initial centers, on the device: the labels
scikit-learn's `KMeans(n_clusters=K, init=centers, n_init=1).fit(x).labels_`
gives, jitted (SinGAN's colour-quantised paint-to-image runs it on every
training iteration, jaxgan.singan).

It follows scikit-learn's `_kmeans_single_lloyd`: each iteration assigns the
points to their nearest center and moves each center to its points' mean; a
center left without points moves to a point far from its own center,
taken from that point's cluster, the one scikit-learn picks (numpy's
argpartition on the host, only when a cluster is empty); it stops when no
label changed, or when the squared center shift summed over the centers is
at most `tol` times the data's mean per-feature variance, or after
`max_iter` iterations; without the first, the labels are those of the last
centers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def _assign(x: Array, centers: Array) -> tuple[Array, Array]:
    """Each point's nearest center (the lowest index on ties) and its squared distance."""
    d = jnp.sum(jnp.square(x[:, None, :] - centers[None, :, :]), axis=-1)
    labels = jnp.argmin(d, axis=1)
    return labels, jnp.take_along_axis(d, labels[:, None], axis=1)[:, 0]


def _farthest(x: Array, centers: Array, labels: Array, n_empty: Array) -> Array:
    """The points the empty clusters take, as scikit-learn picks them (on the
    host: numpy's argpartition, whose order among the farthest points is its
    own), padded to K."""
    k = centers.shape[0]

    def host(x, centers, labels, n):
        n = int(n)
        distances = ((np.asarray(x) - np.asarray(centers)[np.asarray(labels)]) ** 2).sum(axis=1)
        out = np.zeros(k, np.int32)
        out[:n] = np.argpartition(distances, -n)[:-n - 1:-1]
        return out

    return jax.pure_callback(host, jax.ShapeDtypeStruct((k,), jnp.int32), x, centers, labels, n_empty)


def _update(x: Array, centers: Array, labels: Array) -> Array:
    """The centers' new positions: their points' means, empty clusters
    relocated to the points farthest from their centers, as scikit-learn's
    `_relocate_empty_clusters_dense` does."""
    k = centers.shape[0]
    one_hot = jax.nn.one_hot(labels, k, dtype=x.dtype)  # [N, K]
    sums, counts = one_hot.T @ x, jnp.sum(one_hot, axis=0)
    empty = counts == 0
    far = jax.lax.cond(jnp.any(empty), _farthest, lambda *a: jnp.zeros((k,), jnp.int32), x, centers, labels,
                       jnp.sum(empty))
    # The i-th empty cluster (by index) takes the i-th farthest point.
    rank = jnp.cumsum(empty) - 1

    def relocate(i, carry):
        sums, counts = carry
        point = far[rank[i]]
        src = labels[point]
        move = empty[i]
        sums = sums.at[src].add(jnp.where(move, -x[point], 0)).at[i].set(jnp.where(move, x[point], sums[i]))
        counts = counts.at[src].add(jnp.where(move, -1, 0)).at[i].set(jnp.where(move, 1, counts[i]))
        return sums, counts

    sums, counts = jax.lax.fori_loop(0, k, relocate, (sums, counts))
    return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1)[:, None], centers)


def kmeans_labels(x: Array, init: Array, *, max_iter: int = 300, tol: float = 1e-4) -> Array:
    """scikit-learn's `KMeans(n_clusters=len(init), init=init, n_init=1,
    max_iter=max_iter, tol=tol).fit(x).labels_` for points x [N, F] (float32
    here, as the float32 arrays scikit-learn is given)."""
    x = jnp.asarray(x, jnp.float32)
    init = jnp.asarray(init, jnp.float32)
    threshold = jnp.mean(jnp.var(x, axis=0)) * tol

    def cond(carry):
        i, _, _, strict, shifted = carry
        return (i < max_iter) & ~strict & ~shifted

    def body(carry):
        i, centers, labels_old, _, _ = carry
        labels, _ = _assign(x, centers)
        new = _update(x, centers, labels)
        strict = jnp.all(labels == labels_old)
        shifted = jnp.sum(jnp.square(new - centers)) <= threshold
        return i + 1, new, labels, strict, shifted

    labels0 = jnp.full((x.shape[0],), -1, jnp.int32)
    _, centers, labels, strict, _ = jax.lax.while_loop(cond, body, (0, init, labels0, False, False))
    # Without a strict convergence scikit-learn assigns once more, to the last centers.
    return jnp.where(strict, labels, _assign(x, centers)[0].astype(labels.dtype))


def quantize_to_centers(image: Array, centers: Array, **kwargs) -> Array:
    """The reference's quant2centers (SinGAN/functions.py): k-means on the
    pixels' colours of `image` [..., C] from `centers` [K, C], each pixel
    replaced by the ORIGINAL center of its final cluster (not the refitted
    one)."""
    flat = image.reshape(-1, image.shape[-1])
    labels = kmeans_labels(flat, centers, **kwargs)
    return jnp.asarray(centers, image.dtype)[labels].reshape(image.shape)
