"""GAN metrics on Inception features and logits: FID, IS, KID, improved
precision/recall, intra-FID. Plain numpy/float64 on the host: the heavy part,
feature extraction, runs on the accelerator (`jaxgan.eval.features`); these are
small reductions where float64 matters more than speed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# ---------------------------------------------------------------------------
# FID


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of [N, D] features in float64, as pytorch-fid computes them
    (`np.cov` with the unbiased N-1 normalisation)."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need features of shape [N >= 2, D] for statistics, got {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def _sqrt_psd(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(a)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr(sqrtm(sigma1 @ sigma2)) for covariance (symmetric PSD) matrices.

    sigma1 @ sigma2 is not symmetric, so a general sqrtm (scipy's Schur method,
    what pytorch-fid uses) can return complex noise or fail on the singular
    matrices that N < D samples give. But sigma1 @ sigma2 is similar to
    S = sqrt(sigma1) @ sigma2 @ sqrt(sigma1), which is symmetric PSD, and the
    trace of a square root is the sum of the square roots of the eigenvalues.
    So two symmetric eigendecompositions give the trace exactly in exact
    arithmetic, and stably in floating point (negative eigenvalues from
    rounding are clipped to 0).
    """
    s1h = _sqrt_psd(np.asarray(sigma1, np.float64))
    s = s1h @ np.asarray(sigma2, np.float64) @ s1h
    s = (s + s.T) / 2  # remove rounding asymmetry before eigvalsh
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(s), 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrt(sigma1 sigma2)):
    the Frechet distance of two Gaussians, i.e. FID on Inception statistics."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape:
        raise ValueError(f"mean vectors differ in shape: {mu1.shape} vs {mu2.shape}")
    if sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"covariances must both be [{mu1.size}, {mu1.size}], got {sigma1.shape} and {sigma2.shape}")
    for name, a in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} holds NaN or inf: the features it came from are broken")
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))


def fid_from_features(features1: np.ndarray, features2: np.ndarray) -> float:
    return frechet_distance(*statistics(features1), *statistics(features2))


def intra_fid(features: np.ndarray, labels: np.ndarray,
              reference: Mapping[int, tuple[np.ndarray, np.ndarray]] | tuple[np.ndarray, np.ndarray],
              ) -> tuple[float, dict[int, float]]:
    """Intra-FID (Miyato & Koyama 2018): the FID of each class's samples
    against that class's real statistics, averaged over classes.

    `reference` is {class: (mu, sigma)} or (real_features, real_labels).
    Returns (mean over classes, {class: fid}); only classes present in both
    sets count, and a class with fewer than 2 samples on either side raises.
    """
    features, labels = np.asarray(features), np.asarray(labels)
    if isinstance(reference, tuple):
        real_f, real_l = (np.asarray(a) for a in reference)
        reference = {int(c): statistics(_class_rows(real_f, real_l, c, "reference"))
                     for c in np.unique(real_l)}
    per_class = {}
    for c in sorted(int(c) for c in np.unique(labels)):
        if c not in reference:
            continue
        mu, sigma = statistics(_class_rows(features, labels, c, "generated"))
        per_class[c] = frechet_distance(mu, sigma, *reference[c])
    if not per_class:
        raise ValueError("no class appears in both the generated and the reference set")
    return float(np.mean(list(per_class.values()))), per_class


def _class_rows(f, labels, c, what):
    rows = f[labels == c]
    if rows.shape[0] < 2:
        raise ValueError(f"class {c} has {rows.shape[0]} {what} samples; intra-FID needs >= 2 per class")
    return rows


# ---------------------------------------------------------------------------
# Inception Score


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """IS (Salimans et al. 2016) from [N, classes] logits: exp(E_x KL(p(y|x) || p(y)))
    per split, mean and std over `splits` equal consecutive splits (the original
    code's protocol; the remainder N % splits is dropped, as there).

    The original code takes the logits without the fc bias
    (`FIDInceptionV3(...)["logits_unbiased"]`), as does torch-fidelity.
    """
    logits = np.asarray(logits, np.float64)
    n = logits.shape[0]
    if logits.ndim != 2 or n < splits:
        raise ValueError(f"need [N >= splits={splits}, classes] logits, got {logits.shape}")
    logp = logits - logits.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))  # log-softmax, stable
    p = np.exp(logp)
    part = n // splits
    scores = []
    for k in range(splits):
        lp, pk = logp[k * part:(k + 1) * part], p[k * part:(k + 1) * part]
        log_py = np.log(pk.mean(axis=0))
        kl = (pk * (lp - log_py)).sum(axis=1).mean()
        scores.append(np.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


# ---------------------------------------------------------------------------
# KID


def _polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3 (Binkowski et al. 2018)."""
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = x.shape[0], y.shape[0]
    # Diagonal terms k(x_i, x_i) are left out: that is what makes it unbiased.
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kernel_inception_distance(features1: np.ndarray, features2: np.ndarray, num_subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: the unbiased polynomial-kernel MMD^2 averaged over `num_subsets`
    random subsets of `subset_size` from each set, drawn without replacement
    within a subset, as in the KID paper's code. Returns (mean, std).
    `subset_size` shrinks to the smaller set's size when that is smaller."""
    x, y = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"features must be [N, D] with equal D, got {x.shape} and {y.shape}")
    m = min(subset_size, x.shape[0], y.shape[0])
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    vals = [_polynomial_mmd2_unbiased(x[rng.choice(x.shape[0], m, replace=False)],
                                      y[rng.choice(y.shape[0], m, replace=False)])
            for _ in range(num_subsets)]
    return float(np.mean(vals)), float(np.std(vals))


# ---------------------------------------------------------------------------
# Improved precision and recall


def _pairwise_sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.maximum(d, 0)


def _knn_radii(f: np.ndarray, k: int, block: int) -> np.ndarray:
    """Squared distance from each row to its k-th nearest other row."""
    radii = np.empty(f.shape[0])
    for i in range(0, f.shape[0], block):
        d = _pairwise_sq_dists(f[i:i + block], f)
        # index k, not k-1: each point's nearest neighbour is itself at distance 0.
        radii[i:i + block] = np.partition(d, k, axis=1)[:, k]
    return radii


def _coverage(manifold: np.ndarray, radii: np.ndarray, probes: np.ndarray, block: int) -> float:
    inside = np.zeros(probes.shape[0], bool)
    for i in range(0, probes.shape[0], block):
        d = _pairwise_sq_dists(probes[i:i + block], manifold)
        inside[i:i + block] = (d <= radii[None, :]).any(axis=1)
    return float(inside.mean())


def precision_recall(real_features: np.ndarray, fake_features: np.ndarray, k: int = 3,
                     block: int = 1024) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls around its samples with radius
    the distance to the k-th nearest neighbour in the same set. Precision: the
    fraction of fake samples inside the real manifold; recall: the fraction of
    real samples inside the fake manifold. The paper uses VGG-16 features;
    Inception pool3 features are the common substitute and what jaxgan passes.
    """
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    if min(real.shape[0], fake.shape[0]) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} samples per set")
    real_r = _knn_radii(real, k, block)
    fake_r = _knn_radii(fake, k, block)
    return _coverage(real, real_r, fake, block), _coverage(fake, fake_r, real, block)
