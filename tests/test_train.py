"""The trainer end to end: sharded == single-device step, exact resume across a
process restart, no recompilation, every config loads and its smoke variant
trains, sample mode, preemption."""

import contextlib
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import checkpoint, configs, parallel, train
from jaxgan.trainers import get_trainer
from jaxgan.trainers.biggan import build_models

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
# The BigGAN family's configs (the classic family's are trained in test_classic.py).
CONFIGS = sorted(p.name for p in (REPO / "configs").glob("*.py")
                 if configs.load(str(p)).trainer == "biggan")
# Configs that differ only in resolution: their :smoke runs (32x32) are the same run.
SAME_SMOKE_RUN = {"biggan_256.py": "biggan_128.py", "biggan_512.py": "biggan_128.py",
                  "biggan_deep_256.py": "biggan_deep_128.py", "biggan_deep_512.py": "biggan_deep_128.py"}
# StudioGAN's regularised BigGANs differ from its baseline in config.reg (and
# their step count): tests/test_biggan_regularizers.py trains their switches
# together in one smoke run (every switch's compile in one program).
REGULARISED = [f"studiogan_biggan_{r}_cifar10.py" for r in ("diffaug", "lecam", "diffaug_lecam", "cr", "icr")]
# StudioGAN's classifier-head GANs differ from its BigGAN in D's head and its
# loss weights (ReACGAN also in batch and learning rates):
# tests/test_biggan_heads.py trains ADC-GAN's smoke run and checks every
# head's D and G updates against the losses written out.
HEADS = [f"studiogan_{h}_cifar10.py" for h in ("acgan", "tacgan", "adcgan", "contragan", "reacgan")]
# Trained in their own tests: StudioGAN's LOGAN (unconditional), in tests/test_biggan_logan.py.
TRAINED_ELSEWHERE = {"studiogan_logan_cifar10.py": "tests/test_biggan_logan.py",
                     # U-Net GAN: the FFHQ smoke run trains there; CelebA's CutMix mode ('added')
                     # is checked there as a D update against the loss written out
                     "unetgan_ffhq.py": "tests/test_unetgan.py", "unetgan_celeba.py": "tests/test_unetgan.py"}


def load_config(name: str, variant: str = ""):
    return configs.load(f"{REPO / 'configs' / name}:{variant}")


def _leaves_close(a, b, atol):
    flat_a, tree_a = jax.tree_util.tree_flatten_with_path(jax.device_get(a))
    flat_b, tree_b = jax.tree_util.tree_flatten(jax.device_get(b))
    assert tree_a == tree_b
    for (path, x), y in zip(flat_a, flat_b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=atol,
                                   err_msg=jax.tree_util.keystr(path))


def test_sharded_step_equals_single_device_step():
    # Same global batch on 1 device and sharded over 8: cross-replica BN and
    # gradient averaging make losses and updated state agree.
    config = load_config("biggan_128.py", "smoke")
    with config.unlocked():
        config.train.batch_size = 16
        config.train.num_d_steps = 2
        config.train.grad_accum_steps = 2
        config.ema.start_step = 0
        # Adam's first step with b1 = 0 is ~lr * sign(gradient): a gradient
        # element that is ~0 flips sign with the reduction order and moves by
        # 2 lr between the two runs. A large eps makes the step continuous in
        # the gradient, so the comparison tests the sharding, not that sign.
        config.optim.g.eps = config.optim.d.eps = 0.1
        # ReLU's gradient jumps at 0: when rounding moves one pre-activation
        # across 0, a gradient changes by that unit's whole share (~1e-3 of G's
        # gradient here, for 4 of 40 init seeds; layers.ACTIVATIONS). SiLU's
        # gradient is Lipschitz, so the two runs differ by rounding alone
        # (median over G's leaves <= 6e-7 relative for all 40 seeds).
        config.model.g.activation = config.model.d.activation = "silu"
    one = parallel.make_mesh(jax.devices()[:1])
    eight = parallel.make_mesh()
    trainer = get_trainer(config, one)
    state, _ = train.create_state(trainer, config, one)
    rng = np.random.default_rng(0)
    batch = {"image": rng.uniform(-1, 1, (2, 16, 32, 32, 3)).astype(np.float32),
             "label": rng.integers(0, 10, (2, 16)).astype(np.int32)}
    single_state, single_metrics = jax.jit(trainer.train_step)(state, jax.device_put(batch, one.devices[0]))
    # The 8-device trainer shards the z and classes it draws over the mesh.
    sharded_step = jax.jit(get_trainer(config, eight).train_step)
    sharded_state, sharded_metrics = sharded_step(jax.device_put(state, parallel.replicated(eight)),
                                                  parallel.global_batch(batch, eight, leading=1))
    assert len(sharded_state.g["params"]["linear"]["kernel"].sharding.device_set) == 8
    _leaves_close(single_metrics, sharded_metrics, atol=1e-5)
    # Every G block conv bias feeds a BatchNorm, which removes any constant
    # shift: its true gradient is 0 and the computed one is rounding noise
    # (~1e-6) whose sign depends on the reduction order, which Adam with b1 = 0
    # turns into a step of ~lr. Those biases are compared through their
    # gradients (Adam's mu = the gradient when b1 = 0); everything else as is.
    def split(state):
        state = jax.device_get(state)
        g_params = {k: dict(v) for k, v in state.g["params"].items()}
        noise = {k: {c: p.pop("bias") for c, p in v.items() if c.startswith("conv")}
                 for k, v in g_params.items() if k.startswith("block")}
        return state.replace(g={**state.g, "params": g_params}), noise

    single_rest, single_noise = split(single_state)
    sharded_rest, sharded_noise = split(sharded_state)
    _leaves_close(single_rest, sharded_rest, atol=1e-5)
    _leaves_close(single_state.g_opt[0].mu, sharded_state.g_opt[0].mu, atol=1e-5)
    assert jax.tree_util.tree_structure(single_noise) == jax.tree_util.tree_structure(sharded_noise)
    # The step changed the state (the comparison is not of two untouched copies).
    before = jax.device_get(state.g["params"]["linear"]["kernel"])
    assert np.abs(before - jax.device_get(single_state.g["params"]["linear"]["kernel"])).max() > 1e-6
    assert int(single_state.step) == 1


def _abstract_step_inputs(trainer, batch_size, state_sharding=None, batch_sharding=None):
    """A step's (state, batch) as ShapeDtypeStructs, for compile-only checks (one D step, 32x32)."""
    abstract = jax.eval_shape(trainer.init_state, jax.random.key(0))
    state = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=state_sharding),
                                   abstract)
    batch = {"image": jax.ShapeDtypeStruct((1, batch_size, 32, 32, 3), jnp.float32, sharding=batch_sharding),
             "label": jax.ShapeDtypeStruct((1, batch_size), jnp.int32, sharding=batch_sharding)}
    return state, batch


def _temp_bytes(fn, *args):
    return jax.jit(fn).lower(*args).compile().memory_analysis().temp_size_in_bytes


def test_sharded_step_splits_the_generator_batch_over_devices():
    # Values alone cannot show it: a step whose G batch is replicated computes
    # the same numbers, on every device. Per-device temporaries can: the G
    # update's activations and gradients shrink when z and classes are sharded.
    config = load_config("biggan_128.py", "smoke")
    with config.unlocked():
        config.train.batch_size = 64
    eight = parallel.make_mesh()
    shardings = parallel.replicated(eight), parallel.batch_sharding(eight, leading=1)

    def temp_bytes(trainer):
        return _temp_bytes(trainer.train_step, *_abstract_step_inputs(trainer, 64, *shardings))

    sharded, unsharded = temp_bytes(get_trainer(config, eight)), temp_bytes(get_trainer(config))
    assert sharded < 0.5 * unsharded, (sharded, unsharded)


def test_step_needs_the_memory_of_its_larger_update_not_of_both():
    # With one D step and no accumulation the D and G updates are no longer
    # loops, and XLA may start the G update's forward pass before the D
    # update's backward pass, holding both passes' activations at once (here
    # 74.8 MiB instead of 43.0; BigGAN-deep 256 at batch 8 on the CPU: 15.2
    # GiB instead of 9.2). The trainer makes the G update wait for the D update.
    config = load_config("biggan_128.py", "smoke")
    with config.unlocked():
        config.train.batch_size = 16
        config.train.num_d_steps = config.train.grad_accum_steps = 1
    trainer = get_trainer(config)
    state, batch = _abstract_step_inputs(trainer, 16)
    step = _temp_bytes(trainer.train_step, state, batch)
    d_update = _temp_bytes(lambda s, b: trainer._d_update(s, b["image"][0], b["label"][0], s.key()), state, batch)
    g_update = _temp_bytes(lambda s: trainer._g_update(s, s.key()), state)
    assert step <= 1.05 * max(d_update, g_update), (step, d_update, g_update)


def _restore(workdir, config, step):
    trainer = get_trainer(config)
    mesh = parallel.make_mesh()
    _, abstract = train.create_state(trainer, config, mesh)
    ckpt = checkpoint.Checkpointer(str(workdir))
    state, data_state = ckpt.restore(abstract, step)
    ckpt.close()
    return state, data_state


def _main(*args, **kw):
    return subprocess.run([sys.executable, "-m", "jaxgan.main", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, **kw)


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """4 steps of biggan_128:smoke in this process."""
    config = load_config("biggan_128.py", "smoke")
    workdir = tmp_path_factory.mktemp("straight")
    summary = train.train_and_evaluate(config, str(workdir))
    return config, workdir, summary


def test_training_writes_logs_samples_and_checkpoints_without_recompiling(straight_run):
    config, workdir, summary = straight_run
    assert summary["step"] == 4
    assert summary["step_traces"] == 1  # the step was traced (and compiled) once for 4 steps
    lines = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines] == [1, 2, 3, 4]
    assert {"d_loss_real", "d_loss_fake", "g_loss", "ortho_reg"} <= set(lines[-1])
    assert "images_per_s" in lines[-1] and all(np.isfinite(v) for l in lines for v in l.values())
    assert sorted(p.name for p in (workdir / "samples").glob("*.png")) == [
        "samples_ema_00000002.png", "samples_ema_00000004.png"]
    assert list((workdir / "tensorboard").glob("events.out.tfevents.*"))
    assert json.loads((workdir / "config.json").read_text())["model"]["arch"] == "biggan"
    assert sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()) == [2, 4]


def test_resume_after_process_exit_is_exact(straight_run, tmp_path):
    config, straight_dir, _ = straight_run
    workdir = tmp_path / "run"
    common = ["--config", "configs/biggan_128.py:smoke", "--workdir", str(workdir)]
    # As a user runs it: no JAX_COMPILATION_CACHE_DIR, so jaxgan.main keeps
    # compiled programs in $JAXGAN_CACHE/xla and the second process reuses them.
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["JAXGAN_CACHE"] = str(tmp_path / "cache")
    first = _main(*common, "--config.train.num_steps=2", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    cached = sorted(p.name for p in (tmp_path / "cache" / "xla").iterdir())
    assert any("init_state" in name for name in cached) and any("step_fn" in name for name in cached), cached
    second = _main(*common, env=env)  # picks up at step 2, runs to 4
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed from step 2" in second.stderr
    straight, straight_data = _restore(straight_dir, config, 4)
    resumed, resumed_data = _restore(workdir, config, 4)
    assert straight_data == resumed_data == {"process_count": 1, "processes": [{"step": 4}]}
    # params, BN/SN state, both optimizers, EMA, step and rng: all equal.
    _leaves_close(straight, resumed, atol=0)


def test_sample_mode_writes_a_grid(straight_run):
    config, workdir, _ = straight_run
    path = train.sample(config, str(workdir), num=6)
    assert Path(path).name == "sample_00000004.png" and Path(path).stat().st_size > 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_saves_a_checkpoint_and_exits_cleanly(sig, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "jaxgan.main", "--config", "configs/biggan_128.py:smoke",
                             "--workdir", str(tmp_path), "--config.train.num_steps=100000",
                             "--config.ckpt.every_steps=100000", "--config.samples.every_steps=0"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 600
    for line in proc.stdout:  # wait until training is under way
        if line.startswith("step 2/"):
            break
        assert time.time() < deadline
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    steps = [int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit()]
    assert len(steps) == 1 and 2 <= steps[0] < 100000, out[-3000:]


@pytest.mark.parametrize("name", CONFIGS)
def test_config_builds_full_size_and_smoke_variant_trains(name, tmp_path):
    config = load_config(name)
    for field in ("seed", "dtype", "train.num_steps", "train.batch_size", "train.num_d_steps", "optim.g", "optim.d",
                  "data", "eval", "ckpt.every_steps", "log.every_steps"):
        node = config
        for part in field.split("."):
            node = node[part]
    g, d = build_models(config)
    n = config.data.num_classes
    y = jnp.zeros((2,), jnp.int32) if n else None
    g_vars = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((2, g.z_dim)), y)
    res = config.model.resolution
    d_vars = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((2, res, res, 3)), y)
    if n:
        classes = d_vars["params"]["embed" if d.cond_head == "projection" else "linear2"]
        classes = classes["embedding"].shape[0] if "embedding" in classes else classes["kernel"].shape[1]
        if d.cond_head in ("2c", "d2dce"):  # the head embeds; the proxies have the classes
            classes = d_vars["params"]["embedding"]["embedding"].shape[0]
        assert classes == n * (2 if d.aux_head == "adc" else 1)
    else:  # unconditional: no class embedding anywhere
        assert "embed" not in d_vars["params"] and "shared" not in g_vars["params"]
    assert g_vars["params"]["shared" if g.shared_dim else "linear"]

    smoke = load_config(name, "smoke")
    if name in TRAINED_ELSEWHERE:
        return
    if name in SAME_SMOKE_RUN:  # shrunk to the same run as another config: trained there
        assert smoke.to_dict() == load_config(SAME_SMOKE_RUN[name], "smoke").to_dict()
        return
    if name in REGULARISED:
        baseline = load_config("studiogan_biggan_cifar10.py", "smoke").to_dict()
        assert {k: v for k, v in smoke.to_dict().items() if k not in ("reg", "train")} == \
            {k: v for k, v in baseline.items() if k not in ("reg", "train")}
        assert smoke.reg.to_dict() != baseline["reg"]
        return
    if name in HEADS:
        baseline = load_config("studiogan_biggan_cifar10.py", "smoke").to_dict()
        differ = ("cond_loss", "train", "optim", "model")
        assert {k: v for k, v in smoke.to_dict().items() if k not in differ} == \
            {k: v for k, v in baseline.items() if k not in differ}
        assert {k: v for k, v in smoke.model.to_dict().items() if k != "d"} == \
            {k: v for k, v in baseline["model"].items() if k != "d"}
        assert smoke.model.d.cond_head != "projection"
        return
    with smoke.unlocked():
        smoke.train.num_steps = 2
        if name == "sagan_128.py":  # one config trains in bf16 (fp32 params, statistics and losses)
            smoke.dtype = "bfloat16"
    summary = train.train_and_evaluate(smoke, str(tmp_path))
    assert summary["step"] == 2 and summary["step_traces"] == 1
    assert all(np.isfinite(v) for v in summary["metrics"].values())
    assert (tmp_path / "samples" / "samples_ema_00000002.png").exists()
    state, _ = _restore(tmp_path, smoke, 2)
    assert all(x.dtype == jnp.float32 for x in jax.tree_util.tree_leaves((state.g, state.d, state.g_ema)))
    if name == "quickstart.py":  # its quality benchmark runs on the checkpoint (1 classifier epoch)
        quality = _quickstart_quality(["--workdir", str(tmp_path), "--config", f"{REPO}/configs/quickstart.py:smoke",
                                       "--epochs", "1", "--num-samples", "20"])
        assert quality["step"] == 2 and quality["num_samples"] == 20
        assert 0.5 < quality["classifier_accuracy"] <= 1 and 0 <= quality["class_accuracy"] <= 1
        assert quality["frechet_distance"] > quality["real_frechet_distance"] > 0


def _quickstart_quality(argv):
    spec = importlib.util.spec_from_file_location("quickstart_quality", REPO / "benchmarks" / "quickstart_quality.py")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its flax dataclasses resolve their (string) annotations in sys.modules.
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        module.main(argv)
    return json.loads(out.getvalue().strip().splitlines()[-1])


def _random_inception_params():
    """Random FID Inception weights drawn in numpy as flax's initializers draw
    them (He-normal convolutions, LeCun-normal logits, identity BatchNorm): its
    init would run the whole network, eagerly or compiled (25-50 s on 2 cores)."""
    from jaxgan.eval import inception

    shapes = jax.eval_shape(inception.FIDInceptionV3().init, jax.random.key(0), jnp.zeros((1, 75, 75, 3)))["params"]
    rng = np.random.default_rng(0)

    def draw(path, leaf):
        name = path[-1].key
        if name in ("scale", "var"):
            return np.ones(leaf.shape, np.float32)
        if name in ("bias", "mean", "fc_bias"):
            return np.zeros(leaf.shape, np.float32)
        assert name in ("kernel", "fc_kernel"), jax.tree_util.keystr(path)
        gain = 2.0 if name == "kernel" else 1.0
        return (rng.standard_normal(leaf.shape) * np.sqrt(gain / np.prod(leaf.shape[:-1]))).astype(np.float32)

    return jax.tree_util.tree_map_with_path(draw, shapes)


def test_in_training_evaluation_keeps_the_best_checkpoint_and_eval_mode(tmp_path, monkeypatch):
    # Random Inception weights (real ones cannot be downloaded here): this checks
    # the plumbing, not FID values; tests/test_eval_* check the metric itself.
    from jaxgan.eval import weights

    monkeypatch.setenv("JAXGAN_CACHE", str(tmp_path / "cache"))
    weights.save_npz(_random_inception_params(), "random", tmp_path / "inception.npz")
    config = load_config("biggan_128.py", "smoke")
    with config.unlocked():
        config.train.num_steps = 2
        config.eval.every_steps = 2
        config.eval.num_samples = 16
        config.eval.batch_size = 8
        config.eval.inception_weights = str(tmp_path / "inception.npz")
    workdir = tmp_path / "run"
    train.train_and_evaluate(config, str(workdir))
    lines = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines()]
    scores = [l for l in lines if "eval/fid" in l]
    assert len(scores) == 1 and scores[0]["step"] == 2 and scores[0]["eval/num_images"] == 16
    assert np.isfinite(scores[0]["eval/fid"]) and "eval/kid_mean" in scores[0]
    assert [p.name for p in (workdir / "best").iterdir() if p.name.isdigit()] == ["2"]
    assert list(workdir.glob("fid_stats_*.npz"))  # the data's statistics, cached
    again = train.evaluate(config, str(workdir))
    assert again["step"] == 2 and again["fid"] == pytest.approx(scores[0]["eval/fid"], rel=1e-5)
