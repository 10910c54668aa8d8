"""SIFID (jaxgan.eval.sifid) against SinGAN's SIFID/sifid_score.py.

The oracle below is a transcription of what the script does for one pair of
image files: torchvision's Inception-v3 cut into SinGAN's blocks (block 0:
Conv2d_1a..2b, block 1: max pool, Conv2d_3b, Conv2d_4a; no resize; 2x - 1),
the image as imread gives a .jpg (uint8 HWC) -> float32 -> NCHW -> / 255, the
feature map flattened to one sample per position, np.mean / np.cov over the
positions, and pytorch-fid's Frechet distance with scipy's sqrtm (the eps
retry, the imaginary-part check). No weights can be downloaded here, so the
torchvision network gets random, seeded weights, scaled as in
test_eval_inception.py so that the features are O(1), and is saved as a .pth
that jaxgan converts.
"""

import contextlib

import numpy as np
import pytest

from jaxgan.eval import inception, sifid

SIZES = {"64": (64, 64), "96": (96, 96)}


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    """192x192 sqrtm / eigh are ~20x slower with OpenBLAS's threads fighting
    for a busy 2-core machine than on one thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        ctx = contextlib.nullcontext()
    else:
        ctx = threadpool_limits(limits=1, user_api="blas")
    with ctx:
        yield


# ---------------------------------------------------------------------------
# Images: uint8 HWC, as matplotlib's imread returns a decoded .jpg


def _smooth(rng, h, w, cells=6):
    """Low-frequency colour blobs plus stripes and a little grain."""
    low = rng.uniform(0, 1, (cells, cells, 3))
    yi = np.linspace(0, cells - 1, h)
    xi = np.linspace(0, cells - 1, w)
    y0, x0 = np.floor(yi).astype(int).clip(0, cells - 2), np.floor(xi).astype(int).clip(0, cells - 2)
    fy, fx = (yi - y0)[:, None, None], (xi - x0)[None, :, None]
    img = ((1 - fy) * (1 - fx) * low[y0][:, x0] + (1 - fy) * fx * low[y0][:, x0 + 1]
           + fy * (1 - fx) * low[y0 + 1][:, x0] + fy * fx * low[y0 + 1][:, x0 + 1])
    img = img + 0.15 * np.sin(np.arange(w) / 2.5)[None, :, None] + 0.03 * rng.standard_normal((h, w, 3))
    return (255 * img.clip(0, 1)).round().astype(np.uint8)


def _patch_shuffle(img, rng, patch=16):
    """A SinGAN-like fake: the same patches, rearranged."""
    h, w = (img.shape[0] // patch) * patch, (img.shape[1] // patch) * patch
    tiles = img[:h, :w].reshape(h // patch, patch, w // patch, patch, 3).transpose(0, 2, 1, 3, 4)
    flat = tiles.reshape(-1, patch, patch, 3)[rng.permutation((h // patch) * (w // patch))]
    out = img.copy()
    out[:h, :w] = flat.reshape(h // patch, w // patch, patch, patch, 3).transpose(0, 2, 1, 3, 4).reshape(h, w, 3)
    return out


def _pairs(size):
    rng = np.random.default_rng(size[0])
    h, w = size
    noise_a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    noise_b = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    real = _smooth(rng, h, w)
    noised = np.clip(real + rng.normal(0, 20, real.shape), 0, 255).astype(np.uint8)
    return [(noise_a, noise_b), (real, _patch_shuffle(real, rng)), (real, noised)]


# ---------------------------------------------------------------------------
# The torch oracle (parity tests only)


def _random_torchvision_inception(seed=0):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(seed)
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.0)
                m.bias.normal_(0.5, 0.3)
                m.momentum = None  # one train-mode pass sets the statistics
                m.reset_running_stats()
    return net


class _ScriptNet:
    """SinGAN's SIFID/inception.py InceptionV3([block]) around a torchvision
    Inception: normalize_input=True, resize_input=False."""

    def __init__(self, net, block):
        import torch
        self.torch = torch
        stages = [torch.nn.Sequential(net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3),
                  torch.nn.Sequential(torch.nn.MaxPool2d(kernel_size=3, stride=2), net.Conv2d_3b_1x1,
                                      net.Conv2d_4a_3x3)]
        self.stages, self.block = stages[:block + 1], block

    def __call__(self, x01):
        x = 2 * x01 - 1
        for stage in self.stages:
            x = stage(x)
        return [x]


def _script_statistics(model, image_u8):
    """get_activations + calculate_activation_statistics for one image file."""
    import torch
    batch = np.array([image_u8.astype(np.float32)])
    batch = batch[:, :, :, 0:3].transpose((0, 3, 1, 2))
    batch /= 255
    with torch.no_grad():
        pred = model(torch.from_numpy(batch).type(torch.FloatTensor))[0]
    act = pred.numpy().transpose(0, 2, 3, 1).reshape(pred.shape[2] * pred.shape[3], -1)
    return np.mean(act, axis=0), np.cov(act, rowvar=False)


def _script_frechet(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance, as the script has it."""
    from scipy import linalg
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def _script_sifid(model, real_u8, fake_u8):
    return _script_frechet(*_script_statistics(model, real_u8), *_script_statistics(model, fake_u8))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    torch = pytest.importorskip("torch")
    net = _random_torchvision_inception()
    # BatchNorm statistics from a train-mode pass over images like the tests'.
    rng = np.random.default_rng(123)
    calib = np.stack([_smooth(rng, 96, 96) for _ in range(4)] + [rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)])
    x = torch.from_numpy(calib.astype(np.float32).transpose(0, 3, 1, 2) / 255)
    net.train()
    with torch.no_grad():
        _ScriptNet(net, 1)(x)
    net.eval()
    path = tmp_path_factory.mktemp("weights") / "random_torchvision_inception.pth"
    torch.save(net.state_dict(), path)
    return {"net": net, "path": path, "params": {d: sifid.load_sifid_params(path, d) for d in (64, 192)}}


# ---------------------------------------------------------------------------
# Parity with the script


@pytest.mark.parity
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::scipy.linalg.LinAlgWarning")
@pytest.mark.parametrize("dims,size", [(64, "64"), (192, "64"), (192, "96")])
def test_sifid_matches_script(reference, dims, size):
    pairs = _pairs(SIZES[size])
    model = _ScriptNet(reference["net"], {64: 0, 192: 1}[dims])
    want = np.array([_script_sifid(model, r, f) for r, f in pairs])
    real = np.stack([r for r, _ in pairs])
    fake = np.stack([f for _, f in pairs])
    got = sifid.sifid(real, fake, reference["params"][dims], dims=dims)
    # Not vacuous: the features vary (O(1) covariance) and the pairs are told apart.
    _, sigma = _script_statistics(model, real[0])
    assert sigma.shape == (dims, dims) and np.trace(sigma) / dims > 0.1, np.trace(sigma) / dims
    assert np.all(want > 1e-2 * np.trace(sigma)), (want, np.trace(sigma))
    assert len(set(np.round(want, 6))) == len(want)
    rel = np.abs(got - want) / np.abs(want)
    print(f"dims={dims} size={size} sifid={want} rel_diff={rel}")
    # Measured <= 5e-7; 1e-4 still catches np.cov's N - 1 taken as N (1/841 for 64x64 at dims=64).
    assert np.all(rel <= 1e-4), (got, want, rel)
    # The mean over pairs is the number the script prints.
    assert sifid.mean_sifid(real, fake, reference["params"][dims], dims=dims) == pytest.approx(want.mean(), rel=1e-3)


@pytest.mark.parity
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::scipy.linalg.LinAlgWarning")
def test_sifid_matches_script_non_square_sizes_differ(reference):
    """A non-square real against a fake of another size, as [-1, 1] floats
    (jaxgan's generator range) in a list: the same pixels as the uint8 the
    script reads."""
    rng = np.random.default_rng(7)
    real = _smooth(rng, 72, 104)
    fake = _patch_shuffle(_smooth(rng, 88, 96), rng, patch=8)
    model = _ScriptNet(reference["net"], 1)
    want = _script_sifid(model, real, fake)
    got = sifid.sifid([real.astype(np.float32) / 127.5 - 1], [fake.astype(np.float32) / 127.5 - 1],
                      reference["params"][192])
    assert got.shape == (1,) and want > 1e-2
    rel = abs(got[0] - want) / want
    print(f"non-square sifid={want} rel_diff={rel}")
    assert rel <= 1e-4, (got, want)


@pytest.mark.parity
def test_feature_map_matches_script_block(reference):
    """The feature map itself, position by position (the blocks cut before the pools)."""
    import torch
    img = _pairs(SIZES["64"])[1][0]
    for dims, block in ((64, 0), (192, 1)):
        x = torch.from_numpy(img.astype(np.float32).transpose(2, 0, 1)[None] / 255)
        with torch.no_grad():
            want = _ScriptNet(reference["net"], block)(x)[0][0].numpy().transpose(1, 2, 0)
        got = sifid.feature_maps(img, reference["params"][dims], dims=dims)[0]
        assert got.shape == want.shape == ({64: (29, 29, 64), 192: (12, 12, 192)}[dims])
        np.testing.assert_allclose(got, want, atol=2e-5 * np.abs(want).max())


# ---------------------------------------------------------------------------
# Without torch


@pytest.fixture(scope="module")
def random_params():
    """He-normal convolutions, BatchNorm near identity: a torch-free state dict
    of numpy arrays, through the same converter as a .pth."""
    rng = np.random.default_rng(0)
    shapes = {"Conv2d_1a_3x3": (32, 3, 3, 3), "Conv2d_2a_3x3": (32, 32, 3, 3), "Conv2d_2b_3x3": (64, 32, 3, 3),
              "Conv2d_3b_1x1": (80, 64, 1, 1), "Conv2d_4a_3x3": (192, 80, 3, 3)}
    sd = {}
    for name, (o, i, kh, kw) in shapes.items():
        sd[f"{name}.conv.weight"] = rng.normal(0, np.sqrt(2 / (i * kh * kw)), (o, i, kh, kw))
        sd[f"{name}.bn.weight"] = rng.uniform(0.5, 1.0, o)
        sd[f"{name}.bn.bias"] = rng.normal(0.2, 0.2, o)
        sd[f"{name}.bn.running_mean"] = np.zeros(o)
        sd[f"{name}.bn.running_var"] = np.ones(o)
    return sifid.convert_state_dict(sd, 192)


def _blur(img):
    k = np.array([1, 4, 6, 4, 1], np.float32) / 16
    p = np.pad(img, ((2, 2), (2, 2), (0, 0)), mode="edge")
    p = sum(k[i] * p[i:i + img.shape[0]] for i in range(5))
    return sum(k[i] * p[:, i:i + img.shape[1]] for i in range(5))


def test_sifid_of_itself_is_zero_and_grows_with_damage(random_params):
    rng = np.random.default_rng(3)
    real = _smooth(rng, 96, 96).astype(np.float32) / 127.5 - 1
    fakes = [real, _blur(real)] + [np.clip(real + s * rng.standard_normal(real.shape), -1, 1).astype(np.float32)
                                   for s in (0.05, 0.2, 0.5)]
    scores = sifid.sifid([real] * len(fakes), fakes, random_params)
    print("self, blur, noise 0.05 / 0.2 / 0.5:", scores)
    fmap = sifid.feature_maps(real, random_params)[0].reshape(-1, 192)
    scale = np.trace(np.cov(fmap, rowvar=False))
    assert scale > 1.0, scale
    assert abs(scores[0]) < 1e-6 * scale, (scores[0], scale)
    assert scores[1] > 1e-3 * scale, (scores, scale)  # blur
    assert np.all(np.diff(scores[2:]) > 0) and scores[2] > 1e-3 * scale, scores  # more noise, larger
    # Symmetric in its arguments.
    np.testing.assert_allclose(sifid.sifid(fakes[3], real, random_params), scores[3], rtol=1e-6)


def test_input_ranges_and_param_trees_agree(random_params):
    rng = np.random.default_rng(4)
    u8 = np.stack([_smooth(rng, 64, 80) for _ in range(2)])
    fake = u8[::-1].copy()
    ref = sifid.sifid(u8, fake, random_params)
    f01 = sifid.sifid(u8.astype(np.float32) / 255, fake.astype(np.float32) / 255, random_params,
                      input_range=(0.0, 1.0))
    rgba = np.concatenate([u8, np.full(u8.shape[:3] + (1,), 255, np.uint8)], -1)
    np.testing.assert_allclose(f01, ref, rtol=1e-4)
    np.testing.assert_allclose(sifid.sifid(rgba, fake, random_params), ref, rtol=1e-12)  # alpha dropped
    # A full FIDInceptionV3-like tree: only the stem is taken.
    full = dict(random_params, Mixed_5b={"unused": np.zeros(3)}, fc_kernel=np.zeros((2, 2)))
    np.testing.assert_allclose(sifid.sifid(u8, fake, full), ref, rtol=1e-12)
    # Batching does not change the result (one batch vs padded batches of 1).
    np.testing.assert_allclose(sifid.sifid(u8, fake, random_params, batch_size=1), ref, rtol=1e-9)


def test_bad_inputs_raise(random_params):
    img = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="dims"):
        sifid.sifid(img, img, random_params, dims=768)
    with pytest.raises(ValueError, match="as many"):
        sifid.sifid([img, img], [img], random_params)
    with pytest.raises(ValueError, match="H, W, 3"):
        sifid.sifid(np.zeros((64, 64, 2), np.uint8), img, random_params)
    with pytest.raises(ValueError, match="lack"):
        sifid.sifid(img, img, {"Conv2d_1a_3x3": random_params["Conv2d_1a_3x3"]})
    sd = {f"{k}.conv.weight": np.zeros((1, 1, 1, 1)) for k in sifid.LAYERS[192]}
    with pytest.raises(ValueError, match="no tensor 'Conv2d_1a_3x3.bn.weight'"):
        sifid.convert_state_dict(sd)
    sd.update({f"{k}.bn.{leaf}": np.ones(1) for k in sifid.LAYERS[192]
               for leaf in ("weight", "bias", "running_mean", "running_var")})
    with pytest.raises(ValueError, match="has shape"):
        sifid.convert_state_dict(sd)
    assert inception.BN_EPS == 1e-3  # torchvision's BasicConv2d eps, which the stem shares
