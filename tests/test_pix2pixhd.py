"""pix2pixHD (jaxgan.trainers.pix2pixhd): one training step equals the
reference's (NVIDIA/pix2pixHD's Pix2PixHDModel.forward and train.py's two
optimizer steps, written here in torch with the networks of
test_models_pix2pixhd.py) in losses and updated weights; the local-enhancer
phase updates only the outermost enhancer; the learning rate in epochs; a
smoke run through the loop that resumes bit for bit mid-decay and across the
phase change; the reference's parameter counts."""

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
import torch
from test_models_pix2pixhd import TorchGlobalGenerator, TorchLocalEnhancer, TorchMultiscaleDiscriminator, torch_get_edges
from test_models_vgg19 import TorchVgg19, torch_vgg_loss
from test_pix2pix import restore, restored_equal, train_on_one_device
from torch_parity import randomize, state_dict

from PIL import Image

from jaxgan import configs, train
from jaxgan.data import build_input
from jaxgan.models import pix2pixhd as networks
from jaxgan.trainers import get_trainer
from jaxgan.trainers.pix2pixhd import learning_rate

REPO = Path(__file__).resolve().parents[1]
LABEL_NC, SIZE = 5, 32


def load(name: str, variant: str = "", *overrides: str):
    return configs.load(f"{REPO / 'configs' / name}:{variant}", list(overrides))


def batch(seed=0, n=2):
    """Label ids, Cityscapes-style instance ids and images in [-1, 1], each [1, n, ...] as a phase step gets them."""
    rng = np.random.default_rng(seed)
    blocks = lambda high: np.kron(rng.integers(0, high, (n, SIZE // 8, SIZE // 8)), np.ones((1, 8, 8), np.int64))
    label = blocks(LABEL_NC)
    inst = label * 1000 + blocks(2)
    image = np.tanh(rng.standard_normal((n, SIZE, SIZE, 3))).astype(np.float32)
    return {"label_map": label[None, ..., None].astype(np.int32), "instance": inst[None, ..., None].astype(np.int32),
            "image": image[None]}


def torch_reference_step(g, d, data, lr, eps, n_layers, lambda_feat, g_params=None, vgg=None):
    """The reference's forward (LSGAN, pool_size 0, feature matching, the
    VGG loss with `vgg`) and its G-then-D optimizer steps; returns the losses
    by the reference's names."""
    label = torch.from_numpy(data["label_map"][0, ..., 0]).long()[:, None]
    inst = torch.from_numpy(data["instance"][0, ..., 0])[:, None]
    real = torch.from_numpy(data["image"][0].transpose(0, 3, 1, 2))
    one_hot = torch.zeros(label.shape[0], LABEL_NC, SIZE, SIZE).scatter_(1, label, 1.0)
    input_label = torch.cat([one_hot, torch_get_edges(inst)], 1)
    opt_g = torch.optim.Adam(g.parameters() if g_params is None else g_params, lr=lr, betas=(0.5, 0.999), eps=eps)
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999), eps=eps)
    mse = lambda preds, target: sum(torch.mean((p[-1] - target) ** 2) for p in preds)

    fake = g(input_label)
    pred_fake_pool = d(torch.cat([input_label, fake.detach()], 1))
    loss_d_fake = mse(pred_fake_pool, 0.0)
    pred_real = d(torch.cat([input_label, real], 1))
    loss_d_real = mse(pred_real, 1.0)
    pred_fake = d(torch.cat([input_label, fake], 1))
    loss_g_gan = mse(pred_fake, 1.0)
    loss_g_feat = 0
    for i in range(len(pred_fake)):
        for j in range(len(pred_fake[i]) - 1):
            loss_g_feat = loss_g_feat + 1.0 / len(pred_fake) * 4.0 / (n_layers + 1) * torch.mean(
                torch.abs(pred_fake[i][j] - pred_real[i][j].detach())) * lambda_feat
    loss_g_vgg = torch_vgg_loss(vgg, fake, real) * lambda_feat if vgg is not None else torch.zeros(())
    loss_d = (loss_d_fake + loss_d_real) * 0.5
    loss_g = loss_g_gan + loss_g_feat + loss_g_vgg
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    return {"G_GAN": loss_g_gan.item(), "G_GAN_Feat": loss_g_feat.item(), "G_VGG": loss_g_vgg.item(),
            "D_real": loss_d_real.item(), "D_fake": loss_d_fake.item()}


def _with_torch_weights(trainer, state, g, d):
    like = lambda variables: jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), variables)
    return state.replace(g=networks.params_from_torch_state_dict(state_dict(g), like=like(state.g)),
                         d=networks.params_from_torch_state_dict(state_dict(d), like=like(state.d)))


def _assert_params_equal(flax_variables, torch_module, atol):
    want = networks.params_from_torch_state_dict(state_dict(torch_module))["params"]
    flat_want = dict(jax.tree_util.tree_flatten_with_path(want)[0])
    flat_got = dict(jax.tree_util.tree_flatten_with_path(flax_variables["params"])[0])
    assert flat_got.keys() == flat_want.keys()
    for k in flat_want:
        np.testing.assert_allclose(np.asarray(flat_got[k]), flat_want[k], atol=atol, rtol=0, err_msg=str(k))


# Adam with eps 1 moves each weight by about lr * gradient (not lr * its sign, as eps 1e-8 would on a first
# step), so equal updates mean equal gradients.
PARITY = ("--config.data.label_nc=5", "--config.optim.eps=1.0", "--config.optim.lr=0.1",
          "--config.model.g.ngf=4", "--config.model.d.ndf=4")


def torch_vgg(tmp_path):
    """torchvision's VGG19 on its random init (seeded) and its features saved as a .pth."""
    import torchvision

    torch.manual_seed(0)
    features = torchvision.models.vgg19(weights=None).features
    path = tmp_path / "vgg19_random.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return TorchVgg19(features).eval(), path


@pytest.mark.parametrize("vgg", [False, True], ids=["feature matching", "feature matching and VGG"])
def test_a_step_equals_the_references_losses_and_updates(vgg, tmp_path):
    overrides = PARITY
    if vgg:
        torch_vgg_net, path = torch_vgg(tmp_path)
        overrides += ("--config.loss.vgg=True", f"--config.loss.vgg_weights={path}")
    config = load("pix2pixhd_cityscapes.py", "smoke", *overrides)
    trainer = get_trainer(config)
    state = jax.jit(trainer.init_state)(jax.random.key(0))
    m = config.model
    g = randomize(TorchGlobalGenerator(LABEL_NC + 1, 3, 4, m.g.n_downsample_global, m.g.n_blocks_global,
                                       "instance"), 1)
    d = randomize(TorchMultiscaleDiscriminator(LABEL_NC + 1 + 3, 4, m.d.n_layers_D, "instance", False, m.d.num_D,
                                               True), 2)
    state = _with_torch_weights(trainer, state, g, d)
    data = batch()
    (phase,) = trainer.phases()
    new, metrics = jax.jit(phase.step_fn())(state, data, phase.load_constants())
    want = torch_reference_step(g, d, data, 0.1, 1.0, m.d.n_layers_D, 10.0, vgg=torch_vgg_net if vgg else None)
    for name, value in want.items():
        assert float(metrics[name]) == pytest.approx(value, rel=2e-4, abs=1e-7), name
    assert want["G_GAN_Feat"] > 0.1 and (want["G_VGG"] > 0.1) == vgg
    _assert_params_equal(new.g, g, atol=1e-5)
    _assert_params_equal(new.d, d, atol=1e-5)
    moved = jax.tree_util.tree_map(lambda a, b: float(jnp.max(jnp.abs(a - b))), new.g["params"], state.g["params"])
    assert max(jax.tree_util.tree_leaves(moved)) > 1e-3  # the updates are big enough for the comparison to matter


def test_the_local_phase_trains_only_the_outermost_enhancer_as_the_reference():
    config = load("pix2pixhd_cityscapes_1024.py", "smoke", *PARITY, "--config.model.g.ngf=2",
                  "--config.model.d.num_D=2")
    trainer = get_trainer(config)
    local, everything = trainer.phases()
    assert (local.name, local.num_steps, everything.name, everything.num_steps) == ("local", 2, "all", 2)
    state = jax.jit(trainer.init_state)(jax.random.key(0))
    m = config.model
    g = randomize(TorchLocalEnhancer(LABEL_NC + 1, 3, 2, m.g.n_downsample_global, m.g.n_blocks_global, 1,
                                     m.g.n_blocks_local, "instance"), 1)
    d = randomize(TorchMultiscaleDiscriminator(LABEL_NC + 1 + 3, 4, m.d.n_layers_D, "instance", False, 2, True), 2)
    state = _with_torch_weights(trainer, state, g, d)
    data = batch(1)
    new, metrics = jax.jit(local.train_step)(state, data)
    # The reference's optimizer over the parameters named model1*: the enhancer's model1_1 and model1_2.
    enhancer = [p for name, p in g.named_parameters() if name.startswith("model1")]
    want = torch_reference_step(g, d, data, 0.1, 1.0, m.d.n_layers_D, 10.0, g_params=enhancer)
    for name, value in want.items():
        assert float(metrics[name]) == pytest.approx(value, rel=2e-4), name
    _assert_params_equal(new.g, g, atol=1e-5)
    _assert_params_equal(new.d, d, atol=1e-5)
    for name, p in new.g["params"].items():
        unchanged = all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(p),
                                                                jax.tree_util.tree_leaves(state.g["params"][name])))
        assert unchanged == (not name.startswith("model1_")), name
    # The 'all' phase's Adam state is untouched (fresh when that phase starts, as the reference's new optimizer).
    for a, b in zip(jax.tree_util.tree_leaves(new.g_opt), jax.tree_util.tree_leaves(state.g_opt)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_learning_rate_is_constant_then_decays_per_epoch_as_the_reference():
    # Cityscapes 512p: 2975 steps an epoch, 100 epochs at 2e-4, then lr / 100 less after each of 100 epochs.
    config = load("pix2pixhd_cityscapes.py")
    lr = lambda step: float(learning_rate(config.optim, config.train.num_steps, step))
    e = 2975
    assert [lr(0), lr(100 * e - 1), lr(100 * e), lr(101 * e - 1)] == pytest.approx([2e-4] * 4)
    assert lr(101 * e) == pytest.approx(2e-4 * 0.99, rel=1e-5)
    assert lr(200 * e - 1) == pytest.approx(2e-4 / 100, rel=1e-5)  # float32 steps
    no_decay = ml_collections.ConfigDict(dict(lr=1.0, epoch_steps=1, decay_steps=0))
    assert float(learning_rate(no_decay, 5, 4)) == 1.0


def test_the_references_parameter_counts():
    for name, want in (("pix2pixhd_cityscapes.py", {"g": 182_546_755, "d": 5_603_202}),
                       ("pix2pixhd_cityscapes_1024.py", {"g": 182_857_059, "d": 8_404_803})):
        config = load(name, "", "--config.loss.vgg=False")
        trainer = get_trainer(config)
        assert trainer.param_counts(jax.eval_shape(trainer.init_state, jax.random.key(0))) == want, name
    config = load("pix2pixhd_cityscapes.py", "", "--config.loss.vgg=False", "--config.model.instance_feat=True")
    trainer = get_trainer(config)
    counts = trainer.param_counts(jax.eval_shape(trainer.init_state, jax.random.key(0)))
    assert counts == {"g": 182_556_163, "d": 5_603_202, "e": 788_803}


def test_bad_settings_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="fix_global_steps .* needs model.g.netG 'local'"):
        get_trainer(load("pix2pixhd_cityscapes.py", "", "--config.optim.fix_global_steps=10"))
    with pytest.raises(ValueError, match="instance_feat .* needs data.instance"):
        get_trainer(load("pix2pixhd_cityscapes.py", "", "--config.model.instance_feat=True",
                         "--config.data.instance=False"))


# The 1024p config's smoke variant: local G, 2 steps of the local phase, then 2 of all; decaying from the second
# step, so a resume from the step-2 checkpoint is mid-decay and in the other phase.
SMOKE = (f"{REPO / 'configs'}/pix2pixhd_cityscapes_1024.py:smoke", "--config.optim.decay_steps=4")


def smoke():
    return configs.load(SMOKE[0], list(SMOKE[1:]))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The 4-step smoke run, and the same run resumed from its step-2
    checkpoint: (config, straight workdir, its output, resumed workdir)."""
    root = tmp_path_factory.mktemp("pix2pixhd")
    output = train_on_one_device(root / "straight", SMOKE)
    shutil.copytree(root / "straight" / "checkpoints" / "2", root / "resumed" / "checkpoints" / "2")
    assert "done: step 4" in train_on_one_device(root / "resumed", SMOKE)
    return smoke(), root / "straight", output, root / "resumed"


@pytest.mark.slow
def test_smoke_run_logs_the_references_losses_in_two_phases_and_draws_triplets(run):
    config, workdir, output, _ = run
    assert "phases local to step 2, all to step 4" in output and "phase all from step 3" in output
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "G_GAN" in line]
    assert [line["step"] for line in steps] == [1, 2, 3, 4]
    assert all({"G_GAN", "G_GAN_Feat", "G_VGG", "D_real", "D_fake"} <= set(line) for line in steps)
    assert [line["lr"] for line in steps] == pytest.approx([2e-4, 1.5e-4, 1e-4, 5e-5])
    evals = [line["eval/l1"] for line in lines if "eval/l1" in line]
    assert len(evals) == 2 and all(0 < v < 2 for v in evals)
    # 4 synthetic examples as (label map, output, target) on one row of 32x32 RGB tiles with 2-pixel borders.
    grid = np.asarray(Image.open(workdir / "samples" / "translations_00000004.png"))
    assert grid.shape == (2 + 34, 2 + 12 * 34, 3)
    assert restore(workdir, config, "best")[0] is not None


@pytest.mark.slow
def test_resume_across_the_phase_change_and_mid_decay_is_exact(run):
    config, straight_dir, _, resumed_dir = run
    straight = restored_equal(config, straight_dir, resumed_dir)
    assert jax.tree_util.tree_leaves(straight.g_opt_local)  # the local phase's Adam state is part of the state


@pytest.mark.slow
def test_sample_mode_writes_a_grid_and_npz(run):
    config, workdir, _, _ = run
    assert Path(train.sample(config, str(workdir), 4)).name == "translation_00000004.png"
    npz = np.load(train.sample(config, str(workdir), 3, sample_format="npz", step=2))
    assert npz["x"].shape == (3, 32, 32, 3) and npz["x"].dtype == np.uint8


def test_the_digit_canvas_quickstart_data_fits_its_model():
    config = load("pix2pixhd_digits.py")
    trainer = get_trainer(config)
    data = build_input(config.data, batch_size=2, seed=0)
    trainer.check_data(data)
    (phase,) = trainer.phases()
    assert phase.batch_keys == ("label_map", "instance", "image") and phase.constants is None
    batch = next(iter(data))
    assert batch["label_map"].max() <= 10 and (batch["instance"] // 1000 == batch["label_map"]).all()
    no_instance = load("pix2pixhd_digits.py", "", "--config.data.instance=False")
    assert get_trainer(no_instance).phases()[0].batch_keys == ("label_map", "image")
    with pytest.raises(ValueError, match="config.data.instance is on but config.data.source 'digit_canvas' gives no "
                                         "instance maps"):
        trainer.check_data(build_input(no_instance.data, batch_size=2, seed=0))
