"""jaxgan.kmeans: Lloyd's k-means from given centers, against
scikit-learn's KMeans(init=centers, n_init=1), the reference's quant2centers."""

import jax
import numpy as np
import pytest
from sklearn.cluster import KMeans

from jaxgan.kmeans import kmeans_labels, quantize_to_centers


@pytest.mark.parametrize("empty_at_start", [0, 1, 3])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_labels_equal_scikit_learns(seed, empty_at_start):
    rng = np.random.default_rng(seed)
    # three blobs and five centers: some clusters split a blob
    x = (rng.normal(size=(1500, 3)) + 2 * rng.integers(0, 3, size=(1500, 1))).astype(np.float32)
    init = rng.normal(size=(5, 3)).astype(np.float32)
    # Centers no point is nearest to: scikit-learn relocates each to one of the farthest
    # points, in numpy's argpartition's order (jaxgan.kmeans calls it on the host).
    init[:empty_at_start] = 50 + np.arange(empty_at_start)[:, None]
    ref = KMeans(n_clusters=5, init=init, n_init=1).fit(x)
    assert ref.n_iter_ > 2
    np.testing.assert_array_equal(np.asarray(jax.jit(kmeans_labels)(x, init)), ref.labels_)


def test_max_iter_stops_early_as_scikit_learn():
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(800, 3)) + 2 * rng.integers(0, 3, size=(800, 1))).astype(np.float32)
    init = rng.normal(size=(5, 3)).astype(np.float32)
    ref = KMeans(n_clusters=5, init=init, n_init=1, max_iter=2).fit(x)
    np.testing.assert_array_equal(np.asarray(kmeans_labels(x, init, max_iter=2)), ref.labels_)
    assert not np.array_equal(np.asarray(kmeans_labels(x, init)), ref.labels_)  # not converged at 2


def test_quantize_to_centers_maps_each_pixel_to_an_original_center():
    rng = np.random.default_rng(4)
    image = rng.uniform(-1, 1, size=(1, 12, 16, 3)).astype(np.float32)
    centers = np.array([[-1, -1, -1], [1, 1, 1], [1, -1, -1], [-1, 1, -1], [0, 0, 1]], np.float32)
    out = np.asarray(quantize_to_centers(image, centers))
    labels = KMeans(n_clusters=5, init=centers, n_init=1).fit(image.reshape(-1, 3)).labels_
    np.testing.assert_array_equal(out.reshape(-1, 3), centers[labels])  # the centers given, not the refitted
