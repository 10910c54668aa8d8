"""FID, IS, KID, precision/recall and intra-FID against independent computations."""

import numpy as np
import pytest
import scipy.linalg
import scipy.special

from jaxgan.eval import metrics


def _gaussian_stats(rng, d, n, scale=1.0, shift=0.0):
    a = rng.standard_normal((d, d)) * scale / np.sqrt(d)
    x = rng.standard_normal((n, d)) @ a + shift + rng.standard_normal(d)
    return metrics.statistics(x)


@pytest.mark.parametrize("d,n", [(64, 500), (256, 2000)])
def test_fid_equals_pytorch_fid(d, n):
    from pytorch_fid import fid_score
    rng = np.random.default_rng(d)
    s1 = _gaussian_stats(rng, d, n)
    s2 = _gaussian_stats(rng, d, n, scale=1.5, shift=0.3)
    ours = metrics.frechet_distance(*s1, *s2)
    ref = fid_score.calculate_frechet_distance(*s1, *s2)
    assert ours > 1.0
    np.testing.assert_allclose(ours, ref, rtol=1e-6)


def test_fid_equals_independent_scipy_formula():
    """tr sqrt(S1 S2) = tr sqrt(S1^1/2 S2 S1^1/2): computed here with scipy's
    sqrtm on the symmetric form, not the eigen route the library takes."""
    rng = np.random.default_rng(0)
    d = 32
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    a, b = rng.standard_normal((d, 3 * d)), rng.standard_normal((d, 3 * d))
    s1, s2 = a @ a.T / (3 * d), b @ b.T / (3 * d) * 2.0
    s1h = np.real(scipy.linalg.sqrtm(s1))
    tr_covmean = np.trace(np.real(scipy.linalg.sqrtm(s1h @ s2 @ s1h)))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_covmean
    np.testing.assert_allclose(metrics.frechet_distance(mu1, s1, mu2, s2), expected, rtol=1e-9)


def test_fid_closed_form_for_diagonal_covariances():
    rng = np.random.default_rng(1)
    v1, v2 = rng.uniform(0.1, 2, 10), rng.uniform(0.1, 2, 10)
    mu1, mu2 = rng.standard_normal(10), rng.standard_normal(10)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    np.testing.assert_allclose(metrics.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)), expected, rtol=1e-12)


def test_fid_singular_covariances_stay_real_and_zero_on_self():
    """N < D (the common small-sample case): rank-deficient covariances."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 200))
    y = rng.standard_normal((50, 200)) * 1.2
    mu, sigma = metrics.statistics(x)
    # sqrt of the ~1e-15 rounding noise in the 150 null eigenvalues leaves ~1e-5 here.
    assert abs(metrics.frechet_distance(mu, sigma, mu, sigma)) < 1e-6 * np.trace(sigma)
    fid = metrics.fid_from_features(x, y)
    assert np.isfinite(fid) and fid > 0


def test_fid_rejects_bad_stats():
    with pytest.raises(ValueError, match="NaN"):
        metrics.frechet_distance(np.array([np.nan, 0]), np.eye(2), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="covariances"):
        metrics.frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


def _direct_inception_score(logits, splits):
    p = scipy.special.softmax(logits.astype(np.float64), axis=1)
    n = len(p) // splits
    scores = []
    for k in range(splits):
        part = p[k * n:(k + 1) * n]
        py = part.mean(0)
        scores.append(np.exp(np.mean([scipy.stats.entropy(row, py) for row in part])))
    return np.mean(scores), np.std(scores)


def test_inception_score_equals_direct_numpy():
    import scipy.stats  # noqa: F401 - used by the direct implementation

    rng = np.random.default_rng(3)
    logits = rng.standard_normal((1005, 1008)) * 3  # 1005: the remainder 5 is dropped
    np.testing.assert_allclose(metrics.inception_score(logits, 10), _direct_inception_score(logits, 10), rtol=1e-10)


def test_inception_score_extremes():
    assert metrics.inception_score(np.zeros((100, 1008)), 10)[0] == pytest.approx(1.0)
    confident = np.full((200, 20), -50.0)
    confident[np.arange(200), np.arange(200) % 20] = 50.0  # each split sees all 20 classes evenly
    assert metrics.inception_score(confident, 10)[0] == pytest.approx(20.0, rel=1e-6)


def _direct_kid_subset(x, y):
    d = x.shape[1]
    def k(a, b):
        return (a @ b.T / d + 1) ** 3

    m = len(x)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    off = ~np.eye(m, dtype=bool)
    return kxx[off].mean() + kyy[off].mean() - 2 * kxy.mean()


def test_kid_single_subset_equals_direct():
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((30, 8)), rng.standard_normal((30, 8)) + 0.5
    # subset_size = N: every subset is a permutation of the whole set.
    mean, std = metrics.kernel_inception_distance(x, y, num_subsets=3, subset_size=30)
    np.testing.assert_allclose(mean, _direct_kid_subset(x, y), rtol=1e-10)
    assert std < 1e-10


def test_kid_is_unbiased():
    """Same distribution: the mean over many independent draws is ~0 (the
    biased V-statistic would sit clearly above 0); different: clearly > 0."""
    rng = np.random.default_rng(5)
    d, n = 16, 40
    vals = [metrics.kernel_inception_distance(rng.standard_normal((n, d)), rng.standard_normal((n, d)),
                                              num_subsets=1, subset_size=n, seed=i)[0] for i in range(300)]
    mean, sem = np.mean(vals), np.std(vals) / np.sqrt(len(vals))
    assert abs(mean) < 3 * sem, (mean, sem)
    # The biased estimate (diagonals kept) would be ~ 2 E[k(x,x) - k(x,y)] / n: far outside.
    biased_offset = 2 * (np.mean((np.sum(rng.standard_normal((1000, d)) ** 2, 1) / d + 1) ** 3) - 1) / n
    assert biased_offset > 20 * sem
    shifted, _ = metrics.kernel_inception_distance(rng.standard_normal((200, d)), rng.standard_normal((200, d)) + 0.5,
                                                   num_subsets=10, subset_size=100)
    assert shifted > 20 * sem


def _brute_precision_recall(real, fake, k):
    def radii(f):
        d = np.linalg.norm(f[:, None] - f[None], axis=-1)
        return np.sort(d, axis=1)[:, k]
    rr, fr = radii(real), radii(fake)
    d = np.linalg.norm(fake[:, None] - real[None], axis=-1)  # [fake, real]
    precision = np.mean((d <= rr[None]).any(1))
    recall = np.mean((d.T <= fr[None]).any(1))
    return precision, recall


def test_precision_recall_equals_brute_force_and_behaves():
    rng = np.random.default_rng(6)
    real = rng.standard_normal((120, 5))
    fake = rng.standard_normal((100, 5)) * 0.5 + 0.7
    got = metrics.precision_recall(real, fake, k=3, block=17)  # blocks that do not divide N
    np.testing.assert_allclose(got, _brute_precision_recall(real, fake, 3))
    assert metrics.precision_recall(real, real) == (1.0, 1.0)
    assert metrics.precision_recall(real, real + 100.0) == (0.0, 0.0)
    # Mode collapse: fakes near a few real samples are precise but do not recall.
    collapsed = real[:5].repeat(20, 0) + 1e-3 * rng.standard_normal((100, 5))
    p, r = metrics.precision_recall(real, collapsed)
    assert p > 0.9 and r < 0.3


def test_intra_fid_is_mean_of_per_class_fid():
    rng = np.random.default_rng(7)
    real_f, real_l = rng.standard_normal((300, 6)), np.repeat(np.arange(3), 100)
    fake_f, fake_l = rng.standard_normal((150, 6)) * 1.3, np.repeat(np.arange(3), 50)
    mean, per_class = metrics.intra_fid(fake_f, fake_l, (real_f, real_l))
    for c in range(3):
        expected = metrics.fid_from_features(fake_f[fake_l == c], real_f[real_l == c])
        np.testing.assert_allclose(per_class[c], expected, rtol=1e-12)
    assert mean == pytest.approx(np.mean(list(per_class.values())))
    stats = {c: metrics.statistics(real_f[real_l == c]) for c in range(3)}
    assert metrics.intra_fid(fake_f, fake_l, stats)[0] == pytest.approx(mean)
    with pytest.raises(ValueError, match="class 2 has 1"):
        metrics.intra_fid(fake_f[:101], fake_l[:101], stats)
