"""ConSinGAN's trainer (jaxgan.trainers.consingan): iterations against a torch
transcription of the reference's train_single_scale
(ConSinGAN/training_generation.py) on the networks of
tests/test_models_consingan.py, the loop's run, resume, samples and scores."""

import json
import re
import shutil

import jax
import numpy as np
import pytest
import torch
from test_models_consingan import TorchDiscriminator, TorchGrowingGenerator, _opt

from jaxgan import train
from jaxgan.configs import loader
from jaxgan.models.consingan import params_from_torch
from jaxgan.state import step_key
from jaxgan.trainers.consingan import ConSinGANTrainer

tnn = torch.nn


def smoke_config(*overrides, variant="smoke"):
    config = loader.load(f"configs/consingan.py:{variant}", list(overrides))
    with config.unlocked():
        config.ckpt.every_steps, config.ckpt.max_to_keep = 1, 5
    return config


def trained(tmp_path_factory, config, name):
    """The run of `config` through the loop, checkpointed at every step:
    (workdir, config, summary, trainer, states at steps 0..3)."""
    workdir = tmp_path_factory.mktemp(name) / "run"
    summary = train.train_and_evaluate(config, str(workdir))
    trainer = ConSinGANTrainer(config)
    states = [jax.jit(trainer.init_state)(jax.random.key(config.seed))]
    states += [train.restore_latest(config, str(workdir), step)[2] for step in range(1, 4)]
    return workdir, config, summary, trainer, states


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The smoke run (3 stages of one iteration, 2 trained together): `trained`."""
    return trained(tmp_path_factory, smoke_config(), "consingan")


@pytest.fixture(scope="module")
def editing_run(tmp_path_factory):
    """The editing model's smoke run (BatchNorm, stage 0 fed the shuffled
    image plus noise): `trained`."""
    return trained(tmp_path_factory, smoke_config(variant="editing_smoke"), "consingan_editing")


def test_the_default_pyramid_has_the_references_counts():
    trainer = ConSinGANTrainer(loader.load("configs/consingan.py", []))
    assert trainer.num_scales == 6
    state = jax.eval_shape(trainer.init_state, jax.random.key(0))
    assert trainer.param_counts(state) == {"g": 668_227, "d": 113_153}


def test_stages_can_train_for_different_numbers_of_iterations():
    trainer = ConSinGANTrainer(smoke_config("--config.train.stage_iters=5,1,10"))
    assert [p.num_steps for p in trainer.phases()] == trainer.iters == [5, 1, 10] and trainer.starts == [0, 5, 6]
    # The networks of the state after step s are those of the stage step s was in.
    assert [int(trainer.current_phase(jax.numpy.int32(s))) for s in range(18)] == [0] * 6 + [1] + [2] * 11
    # Each stage's lr decays from 0.8 of its own iterations: stage 0 from its 5th, stage 2 from its 9th.
    assert [float(trainer._lr(1.0, it, 0)) for it in range(5)] == pytest.approx([1, 1, 1, 1, 0.1])
    assert [float(trainer._lr(1.0, it, 2)) for it in (7, 8)] == pytest.approx([1, 0.1])
    assert ConSinGANTrainer(smoke_config()).iters == [1, 1, 1]  # iters_per_stage for every stage
    for value, message in (("3,1", "needs one count per stage (3), got 2"), ("3,x,1", "must be whole numbers"),
                           ("3,0,1", "must be >= 1")):
        with pytest.raises(ValueError, match=re.escape("config.train.stage_iters " + message)):
            ConSinGANTrainer(smoke_config(f"--config.train.stage_iters={value}"))


def to_torch(params, net):
    """flax params -> the torch net (the reference's state-dict names)."""
    sd = {}
    for path, value in jax.tree_util.tree_leaves_with_path(params):
        names = [p.key for p in path]
        names = [n.replace("_", ".") if n.startswith(("body_", "tail_")) else n for n in names]
        leaf = {"kernel": "weight", "bias": "bias", "scale": "weight"}[names[-1]]  # scale: BatchNorm's
        value = np.asarray(value)
        sd[".".join(names[:-1] + [leaf])] = value.transpose(3, 2, 0, 1) if names[-1] == "kernel" else value
    # BatchNorm's running statistics are not set: the reference's G always normalises by the batch's
    missing, unexpected = net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()},
                                              strict=False)
    assert not unexpected and all(k.endswith(("running_mean", "running_var", "num_batches_tracked"))
                                  for k in missing), (missing, unexpected)
    return net


def assert_adam_close(got, want, max_move, name, atol=2e-5, share=0.25):
    """Parameters after Adam steps taken on both sides: Adam moves every
    element by about lr whatever the size of its gradient, so where a gradient
    is a difference of nearly equal numbers (in the smoke D's tail, the weights
    of a channel whose activations on the real and the fake nearly agree) float
    noise decides a good part of the move. All but a few elements agree to
    `atol`, those few within the largest possible move. How many depends on
    the libraries' summation orders: with jax 0.10.2 and torch 2.14.1, 16 of
    the 72 weights of the smoke D's 8-channel tail (about two channels), the
    largest off by 2.9e-4 (lr 5e-4); everything else within 5e-5."""
    diff = np.abs(got - want)
    assert np.mean(diff > atol) <= share, f"{name}: {np.mean(diff > atol):.1%} of elements differ by > {atol}"
    assert diff.max() <= max_move, f"{name}: {diff.max()} > {max_move}"


def nchw(x):
    return torch.from_numpy(np.asarray(x).transpose(0, 3, 1, 2).copy())


def calc_gradient_penalty(netD, real, fake, alpha, weight):
    interpolates = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    out = netD(interpolates)
    grads = torch.autograd.grad(out, interpolates, torch.ones_like(out), create_graph=True, retain_graph=True)[0]
    return ((grads.norm(2, dim=1) - 1) ** 2).mean() * weight


def reference_iteration(netG, netD, depth, reals, fixed_noise, noise, alphas, noise_amp, lr=5e-4, train_depth=2,
                        lr_scale=0.1, alpha=10.0, gp_weight=0.1, g_steps=3):
    """train_single_scale's set-up (parameter groups, noise_amp) and its first
    iteration; returns noise_amp[depth]."""
    shapes = [r.shape for r in reals]
    real = reals[depth]
    optD = torch.optim.Adam(netD.parameters(), lr=lr, betas=(0.5, 0.999))
    for block in netG.body[:-train_depth]:
        for p in block.parameters():
            p.requires_grad = False
    groups = [{"params": block.parameters(), "lr": lr * lr_scale ** (len(netG.body[-train_depth:]) - 1 - idx)}
              for idx, block in enumerate(netG.body[-train_depth:])]
    if depth - train_depth < 0:
        groups += [{"params": netG.head.parameters(), "lr": lr * lr_scale ** depth}]
    else:
        for p in netG.head.parameters():
            p.requires_grad = False
    groups += [{"params": netG.tail.parameters(), "lr": lr}]
    optG = torch.optim.Adam(groups, lr=lr, betas=(0.5, 0.999))
    if depth == 0:
        noise_amp.append(1)
    else:
        noise_amp.append(0)
        rec = netG(fixed_noise, shapes, noise_amp)
        noise_amp[-1] = 0.1 * torch.sqrt(tnn.functional.mse_loss(rec, real)).detach()
    for j, a in enumerate(alphas):
        netD.zero_grad()
        errD_real = -netD(real).mean()
        fake = netG(noise, shapes, noise_amp)
        errD_fake = netD(fake.detach()).mean()
        gp = calc_gradient_penalty(netD, real, fake, a, gp_weight)
        (errD_real + errD_fake + gp).backward()
        optD.step()
    errG = -netD(fake).mean()
    rec_loss = alpha * tnn.functional.mse_loss(netG(fixed_noise, shapes, noise_amp), real)
    netG.zero_grad()
    (errG + rec_loss).backward()
    for _ in range(g_steps):
        optG.step()
    return float(noise_amp[-1])


@pytest.mark.parity
@pytest.mark.parametrize("s", [0, 2])
@pytest.mark.parametrize("mode", ["generation", "editing"])
def test_an_iteration_equals_the_references(request, mode, s):
    """Stage 0 (head, body_0 and tail trained) and stage 2 (train depth 2:
    head and body_0 frozen, body_1 at lr x 0.1): set-up and one iteration;
    the editing model (training_harmonization_editing.py: BatchNorm, stage 0
    fed the tile-shuffled image plus noise, its fixed noise the image plus
    noise) as its own."""
    _, config, _, trainer, states = request.getfixturevalue("run" if mode == "generation" else "editing_run")
    before, after = states[s], states[s + 1]
    nfc = config.model.nfc
    opt = _opt(nfc=nfc, train_mode=mode, batch_norm=config.model.batch_norm)
    netG = TorchGrowingGenerator(opt)
    for _ in range(max(s - 1, 0)):
        netG.init_next_stage()
    stages_before = {k: v for k, v in before.g["params"].items()
                     if not k.startswith("body_") or int(k[5:]) < max(s, 1)}
    to_torch(stages_before, netG)
    if s > 0:
        netG.init_next_stage()
    netD = to_torch(before.d["params"], TorchDiscriminator(opt))

    key_start, key_noise, key_gp = jax.random.split(step_key(before), 3)
    fixed = [np.asarray(z) for z in before.fixed_noise[:s]]
    if s == 0:
        fixed = [trainer.reals[0]]
        if mode == "editing":
            fixed = [trainer.reals[0] + 0.1 * np.asarray(jax.random.normal(key_start, trainer.reals[0].shape))]
    else:
        fixed.append(np.asarray(jax.random.normal(key_start, trainer.noise_shapes(s + 1)[s])))
    noise = [np.asarray(z) for z in trainer.noise(key_noise, s + 1)]
    alphas = [float(jax.random.uniform(k, ())) for k in jax.random.split(key_gp, config.train.d_steps)]
    amps = [float(a) for a in before.noise_amp[:s]]
    reals = [nchw(r) for r in trainer.reals[:s + 1]]
    amp = reference_iteration(netG, netD, s, reals, [nchw(z) for z in fixed], [nchw(z) for z in noise], alphas,
                              amps, train_depth=config.model.train_depth)

    np.testing.assert_allclose(float(after.noise_amp[s]), amp, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(after.fixed_noise[s]), fixed[s], rtol=0, atol=1e-6)
    want_g = params_from_torch(netG.state_dict())["params"]
    got_g = {k: v for k, v in after.g["params"].items() if not k.startswith("body_") or int(k[5:]) <= s}
    want_d = params_from_torch(netD.state_dict())["params"]
    for got, want in ((got_g, want_g), (after.d["params"], want_d)):
        flat = dict(jax.tree_util.tree_leaves_with_path(want))
        assert len(flat) == len(jax.tree_util.tree_leaves(got))
        for path, a in jax.tree_util.tree_leaves_with_path(got):
            name = jax.tree_util.keystr(path)
            # A conv bias before BatchNorm has a zero gradient in exact arithmetic: float noise gives
            # its sign, and Adam moves it by lr per step either way, on each side independently.
            before_norm = config.model.batch_norm and got is got_g and name.endswith("['conv']['bias']")
            assert_adam_close(np.asarray(a), flat[path], max_move=(2 if before_norm else 1) * 3 * 5e-4, name=name,
                              share=1.0 if before_norm else 0.25)
    if s == 2:  # frozen: the head and body_0 did not move
        for name in ("head", "body_0"):
            for a, b in zip(jax.tree_util.tree_leaves(before.g["params"][name]),
                            jax.tree_util.tree_leaves(after.g["params"][name])):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_a_run_trains_every_stage_and_resumes_in_its_stage(run, tmp_path):
    workdir, config, summary, _, states = run
    assert summary["step"] == 3 and summary["step_traces"] == 3  # one compiled step per stage
    lines = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [line["stage"] for line in lines] == [0, 1, 2]
    assert lines[0]["noise_amp"] == 1 and 0 < lines[1]["noise_amp"] < 1
    assert sorted(p.name for p in (workdir / "samples").glob("*.png")) == ["samples_00000002.png",
                                                                           "samples_00000003.png"]
    resumed = tmp_path / "resumed"
    shutil.copytree(workdir, resumed)
    shutil.rmtree(resumed / "checkpoints" / "3")
    summary = train.train_and_evaluate(config, str(resumed))
    assert summary["step"] == 3 and summary["step_traces"] == 1  # stage 2 only
    after = train.restore_latest(config, str(resumed))[2]
    for x, y in zip(jax.tree_util.tree_leaves(states[3]), jax.tree_util.tree_leaves(after), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.slow
def test_samples_of_any_size_and_the_scores(run):
    workdir, config = str(run[0]), run[1]
    h, w = run[3].shapes[-1]
    tall = np.load(train.sample(config, workdir, 2, sample_format="npz", scale_v=2.0))["x"]
    assert tall.shape == (2, 2 * h, w, 3)
    assert train.sample(config, workdir, 3).endswith("sample_00000003.png")
    scores = train.evaluate(config, workdir)
    assert scores["step"] == 3 and scores["patch_swd"] > 0 and np.isfinite(scores["rec_psnr"])


@pytest.mark.slow
def test_the_quality_benchmark_scores_a_run_and_its_untrained_generator(run):
    from benchmarks import single_image_quality

    result = single_image_quality.main(["--config", "configs/consingan.py:smoke", "--workdir", str(run[0]),
                                        "--num-samples", "3", "--config.ckpt.every_steps=1",
                                        "--config.ckpt.max_to_keep=5"])
    assert result["step"] == 3 and result["image_shape"] == list(run[3].shapes[-1])
    assert result["untrained_patch_swd"] > 0 and result["patch_swd"] > 0 and result["diversity"] >= 0


def test_several_images_train_as_a_batch_of_independent_pyramids(tmp_path):
    from PIL import Image

    from jaxgan.data.single_image import read_image

    image = smoke_config().data.image
    Image.fromarray(read_image(image)[:, ::-1]).save(tmp_path / "mirrored.png")
    mirrored = str(tmp_path / "mirrored.png")
    both = ConSinGANTrainer(smoke_config(f"--config.data.image={image},{mirrored}"))
    second = ConSinGANTrainer(smoke_config(f"--config.data.image={mirrored}"))
    assert both.num_pyramids == 2 and both.reals[0].shape == (2, *second.reals[0].shape)
    np.testing.assert_array_equal(both.finest(1), second.reals[-1])
    # One vmapped iteration is each pyramid's own iteration (its key, networks, noise), here
    # stage 1's first: the new stage, its fixed noise and its amplitude start in it.
    state = jax.jit(both.init_state)(jax.random.key(0))
    assert state.step.shape == () and state.noise_amp.shape == (2, 3)
    before = state.replace(step=state.step + both.starts[1])
    after, metrics = jax.jit(both.train_step, static_argnums=0)(1, before, [np.asarray(r) for r in both.reals])
    assert int(after.step) == both.starts[1] + 1 and all(m.shape == () for m in metrics.values())
    want, _ = jax.jit(second.train_step, static_argnums=0)(1, both.pyramid(before, 1), second.reals)
    assert float(want.noise_amp[1]) > 0
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(both.pyramid(after, 1)),
                            jax.tree_util.tree_leaves(want), strict=True):
        # batched and unbatched convolutions round apart; three Adam steps of D carry that to ~3e-6
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=1e-5, err_msg=jax.tree_util.keystr(path))
    state = after
    # The sample grid: a row per pyramid (the reconstruction, then samples).
    num = both.config.samples.num
    assert jax.eval_shape(both.sample_grid, state, both.grid_inputs(jax.random.key(0), num)).shape == \
        (2 * num, *second.shapes[-1], 3)
    assert both.grid_columns == num
    with pytest.raises(ValueError, match="pyramids trained together need images of one size"):
        ConSinGANTrainer(smoke_config(f"--config.data.image={image},astronaut"))


@pytest.mark.slow
def test_pyramids_split_over_the_devices_train_as_on_one(tmp_path):
    """With as many pyramids as devices (the suite's 8 CPU devices), the loop
    keeps each pyramid's state on its own device, and training equals the
    same steps on one device (to float rounding: the split and the whole
    batch of convolutions round apart, and Adam's steps amplify it in a few
    elements: 2 of the 4608 of a D kernel differed by 7e-5 in one CI run)."""
    from PIL import Image

    from jaxgan.data.single_image import read_image

    image = read_image(smoke_config().data.image)
    paths = []
    for i in range(jax.device_count()):  # 8 different images of one size: flips and shifts of the photo
        variant = np.roll(image[:, ::-1] if i % 2 else image, 5 * i, axis=1)
        Image.fromarray(variant).save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    # no sample grids, scores or checkpoints but the last: the state is what is compared
    config = smoke_config(f"--config.data.image={','.join(paths)}", "--config.samples.every_steps=0",
                          "--config.eval.every_steps=0")
    with config.unlocked():
        config.ckpt.every_steps = 1000
    train.train_and_evaluate(config, str(tmp_path / "run"))
    trainer, mesh, state = train.restore_latest(config, str(tmp_path / "run"))
    assert mesh.size == jax.device_count() > 1
    for path, x in jax.tree_util.tree_leaves_with_path(state.replace(step=None)):
        assert x.sharding.spec[0] == "data" and x.addressable_shards[0].data.shape[0] == 1, path
    assert state.step.sharding.is_fully_replicated

    one = jax.jit(trainer.init_state)(jax.random.key(config.seed))
    reals = [np.asarray(r) for r in trainer.reals]
    for s in range(trainer.num_scales):
        one, _ = jax.jit(trainer.train_step, static_argnums=0)(s, one, reals)
    # Up to 9 Adam steps (3 iterations of 3 D steps) amplify float noise in a few elements, as in the
    # parity tests: all but 1% within 1e-5, every one within both sides' largest moves.
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(state), jax.tree_util.tree_leaves(one), strict=True):
        assert_adam_close(np.asarray(x, np.float32), np.asarray(y, np.float32), max_move=2 * 9 * 5e-4,
                          name=jax.tree_util.keystr(path), atol=1e-5, share=0.01)


def reference_shuffle_grid(image, draws):
    """ConSinGAN/functions.py's shuffle_grid(image, max_tiles=5), its
    random.randint / random.random calls answered from `draws` in order."""
    calls = iter(draws)
    randint = random = lambda *_: next(calls)
    img_w, img_h = image.shape[0], image.shape[1]
    _max_tiles = randint(1, 5)
    f = {1: (0.2, 0.5, 0.05, 0.15), 2: (0.15, 0.3, 0.05, 0.1), 3: (0.1, 0.2, 0.05, 0.1)}.get(
        _max_tiles, (0.1, 0.15, 0.05, 0.1))
    w_min, h_min = int(img_w * f[0]), int(img_h * f[0])
    w_max, h_max = int(img_w * f[1]), int(img_h * f[1])
    x_translation_min, y_translation_min = int(img_w * f[2]), int(img_h * f[2])
    x_translation_max, y_translation_max = int(img_w * f[3]), int(img_h * f[3])
    tiles = []
    for _ in range(_max_tiles):
        x, y = randint(0, img_w), randint(0, img_h)
        w, h = randint(w_min, w_max), randint(h_min, h_max)
        if x + w >= img_w:
            w = img_w - x
        if y + h >= img_h:
            h = img_h - y
        x_t, y_t = randint(x_translation_min, x_translation_max), randint(y_translation_min, y_translation_max)
        if random() < 0.5:
            x_t, y_t = -x_t, -y_t
            if x + x_t < 0:
                x_t = -x
            if y + y_t < 0:
                y_t = -y
        else:
            if x + x_t + w >= img_w:
                x_t = img_w - w - x
            if y + y_t + h >= img_h:
                y_t = img_h - h - y
        tiles.append([x, y, w, h, x + x_t, y + y_t])
    new_image = image.copy()
    for x, y, w, h, x_new, y_new in tiles:
        new_image[x_new:x_new + w, y_new:y_new + h, :] = image[x:x + w, y:y + h, :]
    return new_image


def test_the_editing_input_shuffles_tiles_as_the_reference():
    from jaxgan.trainers.consingan import shuffle_grid, shuffle_grid_draws

    image = np.arange(37 * 53 * 3, dtype=np.float32).reshape(37, 53, 3)
    tile_counts, moved = set(), 0
    for i in range(200):
        d = {k: np.asarray(v) for k, v in shuffle_grid_draws(jax.random.key(i), 37, 53).items()}
        tiles = int(d["tiles"])
        tile_counts.add(tiles)
        # the draws in the reference's order: per tile x, y, w, h, x_t, y_t, then the direction
        calls = [tiles]
        for t in range(tiles):
            calls += [*d["corner"][t], *d["size"][t], *d["shift"][t], 0.25 if d["back"][t] else 0.75]
        want = reference_shuffle_grid(image, calls)
        np.testing.assert_array_equal(np.asarray(shuffle_grid(jax.numpy.asarray(image), d)), want, err_msg=str(i))
        moved += not np.array_equal(want, image)
    assert tile_counts == {1, 2, 3, 4, 5} and moved > 150
    # the draws stay in the reference's ranges: sizes and shifts by the number of tiles
    d = shuffle_grid_draws(jax.random.key(0), 37, 53)
    assert 1 <= int(d["tiles"]) <= 5 and bool(jax.numpy.all((d["corner"] >= 0) & (d["corner"] <= jax.numpy.array([37, 53]))))


@pytest.mark.slow
def test_editing_on_a_trained_editing_model_writes_its_outputs(editing_run, run, tmp_path):
    from PIL import Image

    from jaxgan import singan
    from jaxgan.data.single_image import read_image

    workdir, config, _, trainer, _ = editing_run
    image = read_image(config.data.image)
    edited = image.copy()
    edited[5:15, 10:25] = 255 - edited[5:15, 10:25]  # an edit: a patch inverted
    mask = np.zeros_like(image)
    mask[5:15, 10:25] = 255
    Image.fromarray(edited).save(tmp_path / "edited.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    paths = singan.consingan_edit(config, str(workdir), str(tmp_path / "edited.png"), str(tmp_path / "mask.png"))
    assert [p.rsplit("/", 3)[1:] for p in paths] == [["editing", "edited", f"{n}.png"] for n in
                                                      ("edited_input", "edited_wo_mask", "edited_w_mask")]
    h, w = trainer.shapes[-1]
    out, masked = (np.asarray(Image.open(p), np.float32) for p in paths[1:])
    assert out.shape == masked.shape == (h, w, 3)
    # Away from the dilated, blurred mask the training image is kept; the output differs inside it.
    soft = singan.dilate_mask(singan.read_as(trainer, str(tmp_path / "mask.png"), "--mask"), 20)[0]
    real = (np.asarray(trainer.finest(0))[0] + 1) * 127.5
    far = soft[..., 0] < 1e-3
    assert far.sum() > 0 and np.abs(masked - real)[far].max() <= 1
    assert np.abs(masked - out)[soft[..., 0] > 0.999].max() <= 1
    with pytest.raises(ValueError, match="editing runs on a ConSinGAN editing model"):
        singan.consingan_edit(run[1], str(run[0]), str(tmp_path / "edited.png"))
