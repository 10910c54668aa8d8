"""CycleGAN (jaxgan.trainers.cyclegan) and its unpaired data
(jaxgan.data.thick_digits, jaxgan.data.unaligned): one training step equals
the reference's optimize_parameters (models/cycle_gan_model.py, written here
in torch with the networks of test_models_pix2pix.py) in losses and updated
weights, with and without CSGAN's cycle-synthesized loss; the image pool
equals a pure-python re-implementation of the reference's query on the same
draws; a smoke run through the loop that logs the reference's loss names,
evaluates held-out L1 into best/ and resumes bit for bit with full pools;
the quickstart's split is unpaired; the unaligned folders' draws and errors;
the reference's parameter counts."""

import itertools
import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from PIL import Image
from test_models_pix2pix import TorchNLayerDiscriminator, TorchResnetGenerator
from test_pix2pix import restore, restored_equal, train_on_one_device
from torch_parity import randomize, state_dict

from jaxgan import configs, train
from jaxgan.data import build_input, edges2digits, thick_digits
from jaxgan.models import pix2pix as networks
from jaxgan.trainers import get_trainer
from jaxgan.trainers.cyclegan import ImagePool, pool_draws, pool_key, query_pool

REPO = Path(__file__).resolve().parents[1]


def load(name: str, variant: str = "", *overrides: str):
    return configs.load(f"{REPO / 'configs' / name}:{variant}", list(overrides))


# --------------------------------------------------------------------------
# The image pool


def python_query(stored: list, pool_size: int, images, draws) -> list:
    """The reference's ImagePool.query (util/image_pool.py) on a list of
    images, with its random.uniform / random.randint replaced by `draws`
    [(p, slot)] per image; `stored` is updated in place."""
    if pool_size == 0:
        return list(images)
    out = []
    for image, (p, slot) in zip(images, draws):
        if len(stored) < pool_size:
            stored.append(image)
            out.append(image)
        elif p > 0.5:
            out.append(stored[slot])
            stored[slot] = image
        else:
            out.append(image)
    return out


def draws_of(key, n, pool_size):
    return [(float(p), int(slot)) for p, slot in (pool_draws(key, i, pool_size) for i in range(n))]


def test_the_pool_equals_the_references_query_on_the_same_draws():
    pool_size, batch = 3, 4
    query = jax.jit(query_pool)
    pool = ImagePool(jnp.zeros((pool_size, 2, 2, 1)), jnp.zeros((), jnp.int32))
    stored, seen = [], set()
    for q in range(6):
        # Image k is filled with k: what comes back says which image it is.
        values = np.arange(q * batch, (q + 1) * batch, dtype=np.float32) + 1
        images = np.broadcast_to(values[:, None, None, None], (batch, 2, 2, 1))
        key = jax.random.fold_in(jax.random.key(7), q)
        pool, out = query(pool, images, key)
        want = python_query(stored, pool_size, list(values), draws_of(key, batch, pool_size))
        got = np.asarray(out)[:, 0, 0, 0]
        np.testing.assert_array_equal(got, want)
        assert int(pool.count) == len(stored)
        np.testing.assert_array_equal(np.asarray(pool.images)[:len(stored), 0, 0, 0], stored)
        if q:  # the pool is full: each image comes back itself or swapped for a stored one
            seen |= {"new" if g == v else "stored" for g, v in zip(got, values)}
    assert seen == {"new", "stored"}  # both branches were taken
    empty = ImagePool(jnp.zeros((0, 2, 2, 1)), jnp.zeros((), jnp.int32))
    same, out = query_pool(empty, jnp.ones((2, 2, 2, 1)), jax.random.key(0))
    assert same is empty and out.shape == (2, 2, 2, 1)


# --------------------------------------------------------------------------
# One step against the reference in torch

# Adam with eps 1 moves each weight by about lr * gradient, so equal updates mean equal gradients
# (tests/test_pix2pixhd.py); RGB 32x32 with width-4 networks (Gs of 6 ResNet blocks, which compile faster than
# 9 of the same blocks), batch 2, pools of 2 holding one image.
PARITY = ("--config.optim.eps=1.0", "--config.optim.lr=0.1", "--config.model.g.netG=resnet_6blocks",
          "--config.model.g.ngf=4", "--config.model.d.ndf=4", "--config.train.pool_size=2")


def torch_reference_step(nets, real_a, real_b, pooled, lr, eps, lambda_cs):
    """The reference's optimize_parameters (lsgan, lambda_A = lambda_B = 10,
    lambda_identity 0.5) plus, with lambda_cs, CSGAN's cycle-synthesized
    losses as jaxgan computes them; `pooled(name, fakes)` stands for the
    reference's pool queries. Returns the losses by the reference's names."""
    g_a, g_b, d_a, d_b = nets
    real_a, real_b = (torch.from_numpy(x.transpose(0, 3, 1, 2).copy()) for x in (real_a, real_b))
    opt_g = torch.optim.Adam(itertools.chain(g_a.parameters(), g_b.parameters()), lr=lr, betas=(0.5, 0.999), eps=eps)
    opt_d = torch.optim.Adam(itertools.chain(d_a.parameters(), d_b.parameters()), lr=lr, betas=(0.5, 0.999), eps=eps)
    mse = lambda pred, target: torch.mean((pred - target) ** 2)
    l1 = lambda x, y: torch.mean(torch.abs(x - y))
    # forward
    fake_b = g_a(real_a)
    rec_a = g_b(fake_b)
    fake_a = g_b(real_b)
    rec_b = g_a(fake_a)
    # G_A and G_B, with the Ds frozen
    for p in itertools.chain(d_a.parameters(), d_b.parameters()):
        p.requires_grad_(False)
    opt_g.zero_grad()
    losses = {"idt_A": l1(g_a(real_b), real_b) * 10 * 0.5, "idt_B": l1(g_b(real_a), real_a) * 10 * 0.5,
              "G_A": mse(d_a(fake_b), 1.0), "G_B": mse(d_b(fake_a), 1.0),
              "cycle_A": l1(rec_a, real_a) * 10, "cycle_B": l1(rec_b, real_b) * 10}
    if lambda_cs:
        losses["cycle_synth_A"] = l1(fake_a, rec_a) * lambda_cs
        losses["cycle_synth_B"] = l1(fake_b, rec_b) * lambda_cs
    sum(losses.values()).backward()
    opt_g.step()
    # D_A and D_B
    for p in itertools.chain(d_a.parameters(), d_b.parameters()):
        p.requires_grad_(True)
    opt_d.zero_grad()
    for name, d, real, fake, pool in (("D_A", d_a, real_b, fake_b, "fake_b_pool"),
                                      ("D_B", d_b, real_a, fake_a, "fake_a_pool")):
        fake = pooled(pool, fake.detach())
        losses[name] = (mse(d(real), 1.0) + mse(d(fake.detach()), 0.0)) * 0.5
        losses[name].backward()
    opt_d.step()
    return {k: v.item() for k, v in losses.items()}


def _assert_params_equal(flax_variables, torch_module, atol):
    want = dict(jax.tree_util.tree_flatten_with_path(
        networks.params_from_torch_state_dict(state_dict(torch_module))["params"])[0])
    got = dict(jax.tree_util.tree_flatten_with_path(flax_variables["params"])[0])
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_allclose(np.asarray(got[k]), want[k], atol=atol, rtol=0, err_msg=str(k))


@pytest.mark.parity
@pytest.mark.parametrize("lambda_cs", [0.0, 30.0], ids=["CycleGAN", "CSGAN"])
def test_a_step_equals_the_references_losses_and_updates(lambda_cs):
    config = load("cyclegan_horse2zebra.py", "smoke", *PARITY, f"--config.loss.lambda_cs={lambda_cs}")
    trainer = get_trainer(config)
    nets = (randomize(TorchResnetGenerator(3, 3, 4, "instance", False, 6), 1),
            randomize(TorchResnetGenerator(3, 3, 4, "instance", False, 6), 2),
            randomize(TorchNLayerDiscriminator(3, 4, 3, "instance"), 3),
            randomize(TorchNLayerDiscriminator(3, 4, 3, "instance"), 4))
    # The state of the trainer's structure around the torch weights (without compiling the init, 13 s on a CPU).
    abstract = jax.eval_shape(trainer.init_state, jax.random.key(0))
    converted = {name: networks.params_from_torch_state_dict(state_dict(net), like=getattr(abstract, name))
                 for name, net in zip(("g_a", "g_b", "d_a", "d_b"), nets)}
    opt = lambda *names: trainer.tx.init({n: converted[n]["params"] for n in names})
    rng = np.random.default_rng(0)
    # Pools holding one earlier fake each: the batch's first fake fills the second slot, the second is drawn on.
    stored = {name: [np.tanh(rng.standard_normal((32, 32, 3))).astype(np.float32)]
              for name in ("fake_a_pool", "fake_b_pool")}
    pools = {name: ImagePool(jnp.asarray(np.stack([s[0], np.zeros_like(s[0])])), jnp.ones((), jnp.int32))
             for name, s in stored.items()}
    state = abstract.replace(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(jax.random.key(0)), **converted,
                             g_opt=opt("g_a", "g_b"), d_opt=opt("d_a", "d_b"), **pools)
    real_a, real_b = (np.tanh(rng.standard_normal((2, 32, 32, 3))).astype(np.float32) for _ in range(2))

    def pooled(name, fakes):
        images = list(fakes.numpy().transpose(0, 2, 3, 1))
        out = python_query(stored[name], 2, images, draws_of(pool_key(state, name), len(images), 2))
        return torch.from_numpy(np.stack(out).transpose(0, 3, 1, 2).copy())

    new, metrics = jax.jit(trainer.train_step)(state, {"input": real_a[None], "image": real_b[None]})
    want = torch_reference_step(nets, real_a, real_b, pooled, 0.1, 1.0, lambda_cs)
    assert set(want) | {"lr"} == set(metrics)
    for name, value in want.items():
        assert float(metrics[name]) == pytest.approx(value, rel=2e-4, abs=1e-6), name
    for name, net in zip(("g_a", "g_b", "d_a", "d_b"), nets):
        _assert_params_equal(getattr(new, name), net, atol=1e-5)
    for name in ("fake_a_pool", "fake_b_pool"):
        pool = getattr(new, name)
        assert int(pool.count) == 2
        np.testing.assert_allclose(np.asarray(pool.images), np.stack(stored[name]), atol=1e-5, rtol=0)
    moved = jax.tree_util.tree_map(lambda a, b: float(jnp.max(jnp.abs(a - b))), new.g_a["params"],
                                   state.g_a["params"])
    assert max(jax.tree_util.tree_leaves(moved)) > 1e-3  # the updates are big enough for the comparison to matter


def test_the_references_parameter_counts():
    config = load("cyclegan_horse2zebra.py")
    trainer = get_trainer(config)
    counts = trainer.param_counts(jax.eval_shape(trainer.init_state, jax.random.key(0)))
    assert counts == {"g_a": 11_378_179, "g_b": 11_378_179, "d_a": 2_764_737, "d_b": 2_764_737}
    assert (config.loss.gan_mode, config.train.pool_size, config.train.batch_size) == ("lsgan", 50, 1)
    assert (config.data.image_size, config.data.load_size, config.optim.epoch_steps) == (256, 286, 1334)


def test_bad_settings_are_refused_naming_the_field():
    with pytest.raises(ValueError, match="lambda_identity > 0 .*input_channels == channels"):
        get_trainer(load("cyclegan_horse2zebra.py", "", "--config.data.input_channels=1"))
    with pytest.raises(ValueError, match="config.train.pool_size must be >= 0"):
        get_trainer(load("cyclegan_horse2zebra.py", "", "--config.train.pool_size=-1"))
    trainer = get_trainer(load("cyclegan_thick_digits.py"))
    with pytest.raises(ValueError, match="gives no domain-A images"):
        trainer.check_data(type("Data", (), {"image_shape": (32, 32, 1)})())


# --------------------------------------------------------------------------
# A smoke run through the loop

# The quickstart's smoke variant (4 steps of batch 4, pools of 2) on the real thick_digits data.
SMOKE = ("cyclegan_thick_digits.py", "smoke", "--config.data.source=thick_digits")


def smoke():
    return load(*SMOKE)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The 4-step smoke run, and the same run resumed from its step-2
    checkpoint (mid-decay, both pools full): (config, straight workdir, its
    output, resumed workdir)."""
    root = tmp_path_factory.mktemp("cyclegan")
    args = (f"{REPO / 'configs' / SMOKE[0]}:{SMOKE[1]}", *SMOKE[2:])
    output = train_on_one_device(root / "straight", args)
    shutil.copytree(root / "straight" / "checkpoints" / "2", root / "resumed" / "checkpoints" / "2")
    assert "done: step 4" in train_on_one_device(root / "resumed", args)
    return smoke(), root / "straight", output, root / "resumed"


@pytest.mark.slow
def test_smoke_run_logs_the_references_losses_evaluates_l1_and_draws_the_cycle(run):
    config, workdir, output, _ = run
    assert "done: step 4" in output
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    steps = [line for line in lines if "G_A" in line]
    assert [line["step"] for line in steps] == [1, 2, 3, 4]
    names = {"D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B", "lr"}
    assert all(names <= set(line) and not any(k.startswith("cycle_synth") for k in line) for line in steps)
    assert [line["lr"] for line in steps] == pytest.approx([2e-4, 2e-4, 2e-4 * 2 / 3, 2e-4 / 3])
    evals = [line for line in lines if "eval/l1" in line]
    assert [line["step"] for line in evals] == [2, 4]
    assert all(0 < line[f"eval/{k}"] < 2 for line in evals for k in ("l1", "cycle_l1", "l1_BtoA", "cycle_l1_B"))
    # 4 held-out digits as (real_A, fake_B, rec_A, real_B, fake_A, rec_B): 2 rows of 12 32x32 tiles, 2-pixel borders.
    grid = np.asarray(Image.open(workdir / "samples" / "translations_00000004.png"))
    assert grid.shape[:2] == (2 + 2 * 34, 2 + 12 * 34)
    assert restore(workdir, config, "best")[0] is not None
    assert restore(workdir, config)[1]["processes"] == [{"version": 1, "source": "thick_digits", "next_position": 16,
                                                         "seed": 0, "process_index": 0, "process_count": 1,
                                                         "examples_per_epoch": 2250}]


@pytest.mark.slow
def test_resume_with_full_pools_is_exact(run):
    config, straight_dir, _, resumed_dir = run
    straight = restored_equal(config, straight_dir, resumed_dir)
    for pool in (straight.fake_a_pool, straight.fake_b_pool):
        assert int(pool.count) == 2 and np.abs(np.asarray(pool.images)).min(axis=(1, 2, 3)).max() > 0


@pytest.mark.slow
def test_sample_mode_writes_a_grid_and_npz_of_translations(run):
    config, workdir, _, _ = run
    assert Path(train.sample(config, str(workdir), 4)).name == "translation_00000004.png"
    npz = np.load(train.sample(config, str(workdir), 5, sample_format="npz", step=2))
    assert npz["x"].shape == (5, 32, 32, 1) and npz["x"].dtype == np.uint8


# --------------------------------------------------------------------------
# Data


def test_thick_digits_trains_unpaired_and_holds_out_the_500_test_digits():
    split = thick_digits.split_indices()
    e2d = edges2digits.split_indices()
    a, b = split["train_a"], split["train_b"]
    assert len(a) == len(b) == 2250 and not set(a) & set(b)
    assert sorted({*a, *b}) == e2d["train"].tolist()
    np.testing.assert_array_equal(split["test"], e2d["test"])
    data = load("cyclegan_thick_digits.py").data
    held = thick_digits.held_out(data, "test")
    thin, thick = thick_digits.all_digits()
    np.testing.assert_array_equal(held["input"][..., 0], thin[e2d["test"]])
    np.testing.assert_array_equal(held["image"][..., 0], thick[e2d["test"]])
    assert float(np.abs(held["input"] - held["image"]).mean()) == pytest.approx(0.1997, abs=1e-4)
    # Training batches: every A is a thin digit of the A half, every B a thickened digit of the B half.
    index = lambda images, idx: {images[i].tobytes(): i for i in idx}
    thin_a, thick_b = index(thin, a), index(thick, b)
    pipe = build_input(data, batch_size=32, seed=0)
    seen_b = []
    for _ in range(3):
        batch = next(pipe)
        assert all(x[..., 0].tobytes() in thin_a for x in batch["input"])
        seen_b += [thick_b[x[..., 0].tobytes()] for x in batch["image"]]
    assert len(set(seen_b)) > 80  # a random B per A


def _unaligned(root, split="train", counts=(3, 2)):
    rng = np.random.default_rng(0)
    images = {}
    for domain, n in zip("AB", counts):
        (root / f"{split}{domain}").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            images[domain, i] = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
            Image.fromarray(images[domain, i]).save(root / f"{split}{domain}" / f"{i}.png")
    return images


def _unaligned_data(folder, **fields):
    c = load("cyclegan_horse2zebra.py", "", f"--config.data.folder={folder}").data
    with c.unlocked():
        c.update({"image_size": 8, "load_size": 12, "num_workers": 0, **fields})
    return c


def test_unaligned_draws_a_random_b_and_its_own_crop_and_flip(tmp_path):
    images = _unaligned(tmp_path)
    data = build_input(_unaligned_data(tmp_path), batch_size=3, seed=0)
    assert data.examples_per_epoch == 3 and data.input_shape == data.image_shape == (8, 8, 3)
    scaled = {k: v.astype(np.float32) * np.float32(2 / 255) - 1 for k, v in images.items()}
    crops = {np.ascontiguousarray((s[:, ::-1] if f else s)[y:y + 8, x:x + 8]).tobytes(): (k, y, x, f)
             for k, s in scaled.items() for y in range(5) for x in range(5) for f in (0, 1)}
    pairs = []
    for _ in range(10):
        batch = next(data)
        pairs += [(crops[a.tobytes()], crops[b.tobytes()]) for a, b in zip(batch["input"], batch["image"])]
    assert {a[0][0] for a, _ in pairs} == {"A"} and {b[0][0] for _, b in pairs} == {"B"}
    assert {b[0] for _, b in pairs} == {("B", 0), ("B", 1)}  # B drawn from all of trainB
    assert any(a[1:] != b[1:] for a, b in pairs)  # A and B are cropped and flipped independently
    assert {a[3] for a, _ in pairs} == {0, 1}
    # The stream is a function of the position: a pipeline set to the same position continues identically.
    again = build_input(_unaligned_data(tmp_path), batch_size=3, seed=0)
    again.set_state(data.get_state())
    np.testing.assert_array_equal(next(again)["image"], next(data)["image"])


def test_unaligned_folders_missing_or_empty_are_named_in_one_line(tmp_path):
    _unaligned(tmp_path, counts=(2, 0))
    with pytest.raises(FileNotFoundError, match=r"no image files under .*trainB ") as e:
        build_input(_unaligned_data(tmp_path), batch_size=1, seed=0)
    assert "\n" not in str(e.value)
    with pytest.raises(FileNotFoundError, match=r"valA \(config.data.folder/<config.data.split>A\) is not a "
                                                r"directory") as e:
        build_input(_unaligned_data(tmp_path, split="val"), batch_size=1, seed=0)
    assert "\n" not in str(e.value)
