"""SinGAN (jaxgan.trainers.singan, jaxgan.models.singan): parameter counts of
the reference's pyramids, and one training iteration at the coarsest scale and
at the next against a torch transcription of the reference's
train_single_scale (SinGAN/training.py, models.py, functions.py) written here
with the reference's state_dict names."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jaxgan import imresize
from jaxgan.configs import loader
from jaxgan.models.singan import SinGANDiscriminator, SinGANGenerator
from jaxgan.state import count_params, step_key
from jaxgan.trainers.single_image import pad as _pad
from jaxgan.trainers.singan import SinGANTrainer

tnn = torch.nn


def load(image="coffee", *overrides):
    return loader.load("configs/singan.py:smoke", [f"--config.data.image={image}", *overrides])


# ---------------------------------------------------------------- counts
@pytest.mark.parametrize("nfc, g, d", [(32, 29_763, 29_185), (64, 114_819, 113_665), (128, 450_819, 448_513)])
def test_one_scale_has_the_references_parameter_counts(nfc, g, d):
    x = jnp.zeros((1, 35, 35, 3))
    count = lambda m, *a: count_params(jax.eval_shape(m.init, jax.random.key(0), *a)["params"])
    assert count(SinGANGenerator(nfc, nfc), x, x) == g
    assert count(SinGANDiscriminator(nfc, nfc), x) == d


@pytest.mark.parametrize("image, scales, g, d", [("astronaut", 10, 1_479_966, 1_468_426),
                                                 ("chelsea", 8, 578_328, 571_400)])
def test_the_pyramid_of_a_scikit_image_photo_has_the_references_counts(image, scales, g, d):
    config = loader.load("configs/singan.py", [f"--config.data.image={image}"])
    trainer = SinGANTrainer(config)
    assert trainer.num_scales == scales
    state = jax.eval_shape(trainer.init_state, jax.random.key(0))
    assert trainer.param_counts(state) == {"g": g, "d": d}


# ------------------------------------------------- the torch transcription
class ConvBlock(tnn.Sequential):
    def __init__(self, cin, cout):
        super().__init__()
        self.add_module("conv", tnn.Conv2d(cin, cout, 3, 1, 0))
        self.add_module("norm", tnn.BatchNorm2d(cout))
        self.add_module("LeakyRelu", tnn.LeakyReLU(0.2))


class Trunk(tnn.Module):
    def __init__(self, nfc, out, tanh):
        super().__init__()
        self.head = ConvBlock(3, nfc)
        self.body = tnn.Sequential()
        for i in range(3):
            self.body.add_module(f"block{i + 1}", ConvBlock(nfc, nfc))
        tail = tnn.Conv2d(nfc, out, 3, 1, 0)
        self.tail = tnn.Sequential(tail, tnn.Tanh()) if tanh else tail


class TorchG(Trunk):
    def __init__(self, nfc):
        super().__init__(nfc, 3, True)

    def forward(self, x, y):
        x = self.tail(self.body(self.head(x)))
        ind = (y.shape[2] - x.shape[2]) // 2
        return x + y[:, :, ind:y.shape[2] - ind, ind:y.shape[3] - ind]


class TorchD(Trunk):
    def __init__(self, nfc):
        super().__init__(nfc, 1, False)

    def forward(self, x):
        return self.tail(self.body(self.head(x)))


def _torch_names(module_name):
    return {"head": "head", "block1": "body.block1", "block2": "body.block2", "block3": "body.block3"}.get(module_name)


def to_torch(variables, net):
    """Copies flax variables {'params', 'batch_stats'} into the torch net."""
    sd = {}
    for block, p in variables["params"].items():
        if block == "tail":
            prefix = "tail.0" if isinstance(net, TorchG) else "tail"
            sd[f"{prefix}.weight"] = np.asarray(p["kernel"]).transpose(3, 2, 0, 1)
            sd[f"{prefix}.bias"] = np.asarray(p["bias"])
            continue
        name = _torch_names(block)
        sd[f"{name}.conv.weight"] = np.asarray(p["conv"]["kernel"]).transpose(3, 2, 0, 1)
        sd[f"{name}.conv.bias"] = np.asarray(p["conv"]["bias"])
        sd[f"{name}.norm.weight"] = np.asarray(p["norm"]["scale"])
        sd[f"{name}.norm.bias"] = np.asarray(p["norm"]["bias"])
        stats = variables["batch_stats"][block]["norm"]
        sd[f"{name}.norm.running_mean"] = np.asarray(stats["mean"])
        sd[f"{name}.norm.running_var"] = np.asarray(stats["var"])
        sd[f"{name}.norm.num_batches_tracked"] = np.asarray(0)
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()})
    return net


def from_torch(net):
    """The torch net's parameters and running statistics, as flax's tree."""
    sd = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    params, stats = {}, {}
    for block in ("head", "block1", "block2", "block3"):
        name = _torch_names(block)
        params[block] = {"conv": {"kernel": sd[f"{name}.conv.weight"].transpose(2, 3, 1, 0),
                                  "bias": sd[f"{name}.conv.bias"]},
                         "norm": {"scale": sd[f"{name}.norm.weight"], "bias": sd[f"{name}.norm.bias"]}}
        stats[block] = {"norm": {"mean": sd[f"{name}.norm.running_mean"], "var": sd[f"{name}.norm.running_var"]}}
    prefix = "tail.0" if isinstance(net, TorchG) else "tail"
    params["tail"] = {"kernel": sd[f"{prefix}.weight"].transpose(2, 3, 1, 0), "bias": sd[f"{prefix}.bias"]}
    return {"params": params, "batch_stats": stats}


def nchw(x):
    return torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())


def calc_gradient_penalty(netD, real, fake, alpha, weight):
    """functions.calc_gradient_penalty with the uniform draw given."""
    interpolates = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    out = netD(interpolates)
    grads = torch.autograd.grad(out, interpolates, torch.ones_like(out), create_graph=True, retain_graph=True)[0]
    return ((grads.norm(2, dim=1) - 1) ** 2).mean() * weight


def reference_iteration(netG, netD, real, noise_, prevs, alphas, z_opt, z_prev, amp, first_scale, lr=5e-4,
                        alpha=10.0, gp_weight=0.1):
    """One epoch of train_single_scale (fresh optimizers: the scale's first).
    The G steps reuse the last D step's adversarial gradient as the
    reference's retained graph does (computed once here: current torch
    refuses to back-propagate through weights its optimizer changed)."""
    optD = torch.optim.Adam(netD.parameters(), lr=lr, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=lr, betas=(0.5, 0.999))
    for prev, a in zip(prevs, alphas):
        netD.zero_grad()
        output = netD(real)
        errD_real = -output.mean()
        errD_real.backward(retain_graph=True)
        noise = noise_ if first_scale else amp * noise_ + prev
        fake = netG(noise.detach(), prev)
        output = netD(fake.detach())
        errD_fake = output.mean()
        errD_fake.backward(retain_graph=True)
        gradient_penalty = calc_gradient_penalty(netD, real, fake, a, gp_weight)
        gradient_penalty.backward()
        optD.step()
    errG = -netD(fake).mean()
    adv = torch.autograd.grad(errG, list(netG.parameters()), retain_graph=True)
    for _ in range(3):
        netG.zero_grad()
        Z_opt = amp * z_opt + z_prev
        rec_loss = alpha * tnn.functional.mse_loss(netG(Z_opt.detach(), z_prev), real)
        rec_loss.backward()
        for p, g in zip(netG.parameters(), adv):
            p.grad += g
        optG.step()
    return errG.item(), rec_loss.item()


def _jax_inputs(trainer, state, n):
    """The random draws of the trainer's iteration at scale n, recomputed from
    its keys (the torch side takes them as given)."""
    key_noise, key_z, key_d, key_gp = jax.random.split(step_key(state), 4)
    d_keys = jax.random.split(key_d, 3)
    alphas = [float(jax.random.uniform(k, ())) for k in jax.random.split(key_gp, 3)]
    noise_ = trainer.noise(key_noise, n)
    if n == 0:
        prevs = [jnp.zeros_like(noise_)] * 3
        z_opt = trainer.noise(key_z, 0)
    else:
        prevs = [_pad(trainer.draw_concat(state, n, k), trainer.pad) for k in d_keys]
        z_opt = jnp.zeros_like(noise_)
    return noise_, prevs, alphas, z_opt


def _assert_close(jax_vars, torch_vars, atol):
    flat_j = jax.tree_util.tree_leaves_with_path(jax_vars)
    flat_t = dict(jax.tree_util.tree_leaves_with_path(torch_vars))
    assert len(flat_j) == len(flat_t)
    for path, a in flat_j:
        name = jax.tree_util.keystr(path)
        # A conv bias right before BatchNorm has a zero gradient up to float
        # noise, which Adam scales up to about lr per update on either side:
        # those biases and the running means they shift agree to a few lr.
        noise = ("['conv']['bias']" in name) or name.endswith("['norm']['mean']")
        np.testing.assert_allclose(np.asarray(a), flat_t[path], atol=5e-3 if noise else atol, rtol=0, err_msg=name)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The smoke config's run through the loop to step 4 (two scales of 2
    iterations), checkpointed at every step: (workdir, config, summary,
    trainer, states at steps 0..4)."""
    from jaxgan import train

    config = smoke_config()
    workdir = tmp_path_factory.mktemp("singan") / "run"
    summary = train.train_and_evaluate(config, str(workdir))
    trainer = SinGANTrainer(config)
    states = [jax.jit(trainer.init_state)(jax.random.key(config.seed))]
    states += [train.restore_latest(config, str(workdir), step)[2] for step in range(1, 5)]
    return workdir, config, summary, trainer, states


def smoke_config():
    config = load()
    with config.unlocked():
        config.ckpt.every_steps, config.ckpt.max_to_keep = 1, 5
    return config


@pytest.mark.parity
@pytest.mark.parametrize("n", [0, 1])
def test_an_iteration_equals_the_references(run, n):
    trainer, states = run[3:]
    before = states[2] if n else states[0]  # scale 1 starts at step 2
    after = states[3] if n else states[1]
    real = trainer.reals[n]
    noise_, prevs, alphas, z_opt = _jax_inputs(trainer, before, n)
    source = n - 1 if n else n  # scale 1 starts from scale 0's weights (same widths)
    assert trainer.widths[1] == trainer.widths[0]
    netG = to_torch(before.g[source], TorchG(trainer.widths[n]))
    netD = to_torch(before.d[source], TorchD(trainer.widths[n]))
    if n == 0:
        amp, z_prev = 1.0, torch.zeros(nchw(noise_).shape)
    else:
        # draw_concat 'rec' in torch: scale 0's G (eval) on z_opt, the reference's resize.
        g0 = to_torch(before.g[0], TorchG(trainer.widths[0])).eval()
        zero = torch.zeros(nchw(before.z_opt).shape)
        with torch.no_grad():
            out0 = g0(float(before.noise_amp[0]) * nchw(before.z_opt) + zero, zero)
        rec = imresize.imresize_like_singan_np(out0.numpy().transpose(0, 2, 3, 1), 1 / trainer.scales.scale_factor)
        rec = rec[:, :real.shape[1], :real.shape[2]]
        jax_rec = np.asarray(trainer.draw_concat(before, 1, None))
        # the uint8 round trip may flip a level where torch and XLA round apart
        assert np.mean(np.abs(rec - jax_rec)) < 1e-4 and np.max(np.abs(rec - jax_rec)) <= 2 / 255 + 1e-6
        amp = 0.1 * float(np.sqrt(np.mean((real - jax_rec) ** 2)))
        np.testing.assert_allclose(float(after.noise_amp[1]), amp, rtol=1e-5)
        z_prev = nchw(_pad(jax_rec, trainer.pad))
    netG.train(), netD.train()
    errG, rec_loss = reference_iteration(netG, netD, nchw(real), nchw(noise_), [nchw(p) for p in prevs], alphas,
                                         nchw(z_opt), z_prev, amp, first_scale=n == 0)
    _assert_close(after.g[n], from_torch(netG), atol=2e-5)
    _assert_close(after.d[n]["params"], from_torch(netD)["params"], atol=2e-5)
    if n == 0:
        np.testing.assert_array_equal(np.asarray(after.z_opt), np.asarray(z_opt))
        assert float(after.noise_amp[0]) == 1.0


def test_scales_above_the_first_start_from_the_previous_weights_only_when_widths_match():
    trainer = SinGANTrainer(load("coffee", "--config.model.nfc=8", "--config.model.min_nfc=8"))
    assert trainer.widths == [8, 8]
    wide = SinGANTrainer(loader.load("configs/singan.py", ["--config.data.image=chelsea"]))
    assert wide.widths == [32] * 4 + [64] * 4


# ------------------------------------------------------- the loop, resume
@pytest.mark.slow
def test_a_run_trains_every_scale_and_resumes_in_its_scale_at_its_step(run, tmp_path):
    import json
    import shutil

    from jaxgan import train

    workdir, config, summary, _, states = run
    assert summary["step"] == 4 and summary["step_traces"] == 2  # one compiled step per scale
    lines = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [line["scale"] for line in lines] == [0, 0, 1, 1]
    assert lines[0]["noise_amp"] == 1 and 0 < lines[2]["noise_amp"] < 1
    assert sorted(p.name for p in (workdir / "samples").glob("*.png")) == ["samples_00000002.png",
                                                                           "samples_00000004.png"]
    # Resumed from step 3's checkpoint: scale 1's second iteration comes next.
    resumed = tmp_path / "resumed"
    shutil.copytree(workdir, resumed)
    shutil.rmtree(resumed / "checkpoints" / "4")
    summary = train.train_and_evaluate(config, str(resumed))
    assert summary["step"] == 4 and summary["step_traces"] == 1  # only scale 1's step compiled
    after = train.restore_latest(config, str(resumed))[2]
    for x, y in zip(jax.tree_util.tree_leaves(states[4]), jax.tree_util.tree_leaves(after), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.slow
def test_sample_mode_writes_random_samples_of_any_size_and_start_scale(run):
    from jaxgan import train

    workdir, config = str(run[0]), run[1]
    h, w = SinGANTrainer(config).shapes[-1]
    grid = train.sample(config, workdir, 3)
    assert grid.endswith("sample_00000004.png")
    wide = np.load(train.sample(config, workdir, 2, sample_format="npz", scale_h=1.5))["x"]
    assert wide.shape == (2, h, round(1.5 * w), 3)
    start = np.load(train.sample(config, workdir, 2, sample_format="npz", start_scale=1))["x"]
    assert start.shape == (2, h, w, 3)
    with pytest.raises(ValueError, match="gen_start_scale must be in \\[0, 1\\]"):
        train.sample(config, workdir, 2, start_scale=2)


@pytest.mark.slow
def test_evaluation_scores_samples_against_the_image_and_its_baselines(run):
    from jaxgan import train

    scores = train.evaluate(run[1], str(run[0]))
    assert scores["step"] == 4
    assert scores["patch_swd_shifted"] > 0 and scores["patch_swd_blurred"] > 0
    assert scores["patch_swd"] > 0 and scores["diversity"] > 0 and np.isfinite(scores["rec_psnr"])


# ------------------------------------------------------------ the image
def test_the_image_is_a_scikit_image_sample_or_a_file_rgb_without_alpha(tmp_path):
    from PIL import Image

    from jaxgan.data.single_image import read_image

    assert read_image("chelsea").shape == (300, 451, 3)
    assert read_image("camera").shape == (512, 512, 3)  # gray, copied to R, G, B
    rgba = np.random.default_rng(0).integers(0, 256, (9, 7, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(str(tmp_path / "a.png")), rgba[..., :3])  # alpha dropped
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="config.data.image: .*bad.png"):
        read_image(str(tmp_path / "bad.png"))
    with pytest.raises(FileNotFoundError, match="config.data.image: no file"):
        read_image(str(tmp_path / "missing.jpg"))
    with pytest.raises(ValueError, match="config.data.image 'astronautt' is neither a file nor a scikit-image"):
        read_image("astronautt")
