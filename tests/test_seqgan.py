"""SeqGAN (jaxgan.models.seqgan, jaxgan.trainers.seqgan, jaxgan.data.sequences):
the reference's parameter counts, its networks and rewards against numpy
written from the reference's equations, the losses, and smoke runs through
the loop on the oracle (exact resume in each phase) and on a text file."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_pix2pix import restored_equal

from benchmarks import seqgan_oracle
from jaxgan import configs, train
from jaxgan.data import sequences
from jaxgan.models import seqgan as networks
from jaxgan.state import count_params
from jaxgan.trainers import get_trainer

REPO = Path(__file__).resolve().parents[1]


def load(name: str, variant: str = "", *overrides: str):
    return configs.load(f"{REPO / 'configs' / name}{':' + variant if variant else ''}", list(overrides))


def abstract_counts(module, seq_len=20):
    shapes = jax.eval_shape(module.init, jax.random.key(0), jnp.zeros((1, seq_len), jnp.int32))
    return jax.tree_util.tree_map(lambda a: int(np.prod(a.shape)), shapes["params"])


def test_parameter_counts_are_the_references():
    g = abstract_counts(networks.LSTMGenerator())
    # 5000 x 32 embeddings, 4 x (32 x 32 + 32 x 32 + 32) LSTM, 32 x 5000 + 5000 output
    assert g["g_embeddings"] == 160_000 and g["Wo"] + g["bo"] == 165_000
    assert sum(jax.tree_util.tree_leaves(g)) == 333_320
    d = abstract_counts(networks.Discriminator())
    convs = {f: d[f"conv-maxpool-{f}"]["W"] + d[f"conv-maxpool-{f}"]["b"] for f in networks.FILTER_SIZES}
    assert convs == {f: n * (64 * f + 1) for f, n in zip(networks.FILTER_SIZES, networks.NUM_FILTERS)}
    assert sum(convs.values()) == 801_720 and d["embedding_W"] == 320_000
    highway = sum(jax.tree_util.tree_leaves({k: d[k] for k in ("highway_lin_0", "highway_gate_0")}))
    assert highway == 2 * (1720 * 1720 + 1720) == 5_920_240
    assert d["output_W"] + d["output_b"] == 1720 * 2 + 2
    assert sum(jax.tree_util.tree_leaves(d)) == 7_045_402


def test_dry_run_prints_the_parameter_counts():
    run = subprocess.run([sys.executable, "benchmarks/train_step.py", "--config", "configs/seqgan_oracle.py",
                          "--dry-run"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["params"] == {"g": 333_320, "d": 7_045_402}


# ------------------------------------------------------------------ numpy
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def np_lstm_logits(p, tokens, start=0):
    """The reference's generator (generator.py) in numpy: teacher-forced logits."""
    p = {k: np.asarray(v, np.float64) for k, v in p.items()}
    b, t = tokens.shape
    h = c = np.zeros((b, p["Ui"].shape[0]))
    x = p["g_embeddings"][np.full(b, start)]
    out = []
    for i in range(t):
        gate = lambda g: x @ p[f"W{g}"] + h @ p[f"U{g}"] + p[f"b{g}"]
        c = sigmoid(gate("f")) * c + sigmoid(gate("i")) * np.tanh(gate("c"))
        h = sigmoid(gate("og")) * np.tanh(c)
        out.append(h @ p["Wo"] + p["bo"])
        x = p["g_embeddings"][tokens[:, i]]
    return np.stack(out, 1)


def np_discriminator_probs(p, tokens):
    """The reference's discriminator (discriminator.py) in numpy, dropout
    off: P(real) of each sequence."""
    emb = np.asarray(p["embedding_W"], np.float64)[tokens]  # [B, T, E]
    pooled = []
    for name in sorted((k for k in p if k.startswith("conv-maxpool-")), key=lambda k: int(k.rsplit("-", 1)[1])):
        w, b = np.asarray(p[name]["W"], np.float64)[:, :, 0], np.asarray(p[name]["b"], np.float64)
        f = w.shape[0]
        conv = np.stack([np.einsum("bfe,fen->bn", emb[:, i:i + f], w) for i in range(emb.shape[1] - f + 1)], 1)
        pooled.append(np.maximum(conv + b, 0).max(1))
    x = np.concatenate(pooled, -1)
    lin = lambda name: x @ np.asarray(p[name]["Matrix"], np.float64).T + np.asarray(p[name]["Bias"], np.float64)
    t = sigmoid(lin("highway_gate_0"))
    x = t * np.maximum(lin("highway_lin_0"), 0) + (1 - t) * x
    logits = x @ np.asarray(p["output_W"], np.float64) + np.asarray(p["output_b"], np.float64)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True))[:, 1]


SMALL_G = dict(vocab_size=23, emb_dim=5, hidden_dim=6, seq_len=7)
SMALL_D = dict(vocab_size=23, seq_len=7, emb_dim=4, filter_sizes=(1, 2, 3, 7), num_filters=(3, 4, 2, 5))


def test_generator_logits_equal_the_references_equations():
    g = networks.LSTMGenerator(**SMALL_G)
    tokens = np.random.default_rng(0).integers(0, 23, (4, 7)).astype(np.int32)
    params = g.init(jax.random.key(1), tokens)["params"]
    np.testing.assert_allclose(np.asarray(g.apply({"params": params}, tokens)), np_lstm_logits(params, tokens),
                               rtol=1e-5, atol=1e-5)


def test_discriminator_equals_the_references_equations_and_drops_out_in_training():
    d = networks.Discriminator(**SMALL_D)
    tokens = np.random.default_rng(0).integers(0, 23, (5, 7)).astype(np.int32)
    params = d.init(jax.random.key(1), tokens)["params"]
    probs = jax.nn.softmax(d.apply({"params": params}, tokens))[:, 1]
    np.testing.assert_allclose(np.asarray(probs), np_discriminator_probs(params, tokens), rtol=1e-5, atol=1e-6)
    train_logits = d.apply({"params": params}, tokens, train=True, rngs={"dropout": jax.random.key(2)})
    assert not np.allclose(np.asarray(train_logits), np.asarray(d.apply({"params": params}, tokens)))
    with pytest.raises(ValueError, match="filter size 9 is longer than the sequences"):
        networks.Discriminator(**{**SMALL_D, "filter_sizes": (9,), "num_filters": (2,)}).init(
            jax.random.key(0), tokens)


def test_sampled_tokens_follow_the_softmax():
    logits = jnp.log(jnp.asarray([[0.1, 0.2, 0.3, 0.4], [0.7, 0.0, 0.3, 0.0]]))
    draws = np.asarray(networks.sample_tokens(jax.random.key(0), jnp.broadcast_to(logits, (40_000, 2, 4))))
    freq = np.stack([np.bincount(draws[:, r], minlength=4) / len(draws) for r in range(2)])
    np.testing.assert_allclose(freq, [[0.1, 0.2, 0.3, 0.4], [0.7, 0.0, 0.3, 0.0]], atol=0.01)
    assert freq[1, 1] == 0 and freq[1, 3] == 0  # impossible tokens never drawn


def greedy_generator():
    """A small G whose output layer is scaled so that sampling is argmax:
    every rollout is the greedy completion."""
    g = networks.LSTMGenerator(**SMALL_G)
    params = dict(g.init(jax.random.key(3), jnp.zeros((1, 7), jnp.int32))["params"])
    params["Wo"], params["bo"] = params["Wo"] * 1e4, params["bo"] * 1e4
    return g, params


def np_greedy_completion(params, tokens, given):
    out = tokens.copy()
    for i in range(given, tokens.shape[1]):
        out[:, i] = np_lstm_logits(params, out)[:, i].argmax(-1)
    return out


def test_rollouts_keep_each_prefix_and_continue_from_it():
    g, params = greedy_generator()
    tokens = np.random.default_rng(1).integers(0, 23, (3, 7)).astype(np.int32)
    rollouts = np.asarray(g.apply({"params": params}, jax.random.key(0), jnp.asarray(tokens), 2,
                                  method=g.rollouts))
    assert rollouts.shape == (2, 6, 3, 7)
    for given in range(1, 7):
        expected = np_greedy_completion(params, tokens, given)
        np.testing.assert_array_equal(rollouts[0, given - 1], expected)
        np.testing.assert_array_equal(rollouts[1, given - 1], expected)
    complete = g.apply({"params": params}, jax.random.key(5), jnp.asarray(tokens), 4, method=g.complete)
    np.testing.assert_array_equal(np.asarray(complete), np_greedy_completion(params, tokens, 4))


def small_trainer(*overrides):
    config = load("seqgan_oracle.py", "smoke", "--config.data.vocab_size=23", "--config.data.seq_len=7",
                  "--config.model.g.emb_dim=5", "--config.model.g.hidden_dim=6", "--config.model.d.emb_dim=4",
                  "--config.data.oracle_emb_dim=5", "--config.data.oracle_hidden_dim=6",
                  "--config.model.d.filter_sizes=(1, 2, 3, 7)", "--config.model.d.num_filters=(3, 4, 2, 5)",
                  *overrides)
    return get_trainer(config), config


def test_rewards_are_the_discriminators_scores_of_the_rollouts_and_of_the_sequence():
    trainer, _ = small_trainer()
    _, g_params = greedy_generator()
    tokens = np.random.default_rng(2).integers(0, 23, (4, 7)).astype(np.int32)
    d_params = trainer.D.init(jax.random.key(4), jnp.asarray(tokens))["params"]
    rewards = np.asarray(trainer.rewards({"params": g_params}, d_params, jnp.asarray(tokens), jax.random.key(0)))
    expected = [np_discriminator_probs(d_params, np_greedy_completion(g_params, tokens, t)) for t in range(1, 8)]
    np.testing.assert_allclose(rewards, np.stack(expected, 1), rtol=1e-4, atol=1e-6)


def test_losses_equal_direct_computations():
    trainer, config = small_trainer()
    state = trainer.init_state(jax.random.key(0))
    tokens = np.random.default_rng(3).integers(0, 23, (6, 7)).astype(np.int32)
    logits = np_lstm_logits(state.g["params"], tokens)
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_p, tokens[..., None], -1)[..., 0]
    np.testing.assert_allclose(np.asarray(trainer.log_probs(state.g, jnp.asarray(tokens))), picked, rtol=1e-5,
                               atol=1e-5)
    # D: mean softmax cross-entropy + d_l2 * (|W|^2 + |b|^2) / 2 of the output layer, dropout off when keep = 1
    trainer_nodrop, _ = small_trainer("--config.model.d.dropout_keep=1.0")
    labels = np.array([1, 1, 1, 0, 0, 0], np.int32)
    loss, accuracy = trainer_nodrop.d_loss(state.d["params"], jnp.asarray(tokens), jnp.asarray(labels),
                                           jax.random.key(0))
    p_real = np_discriminator_probs(state.d["params"], tokens)
    ce = -np.mean(np.where(labels == 1, np.log(p_real), np.log(1 - p_real)))
    l2 = 0.5 * sum(float(np.sum(np.asarray(state.d["params"][k], np.float64) ** 2)) for k in ("output_W", "output_b"))
    assert float(loss) == pytest.approx(ce + config.optim.d_l2 * l2, rel=1e-5)
    assert float(accuracy) == pytest.approx(np.mean((p_real > 0.5) == (labels == 1)))


def test_the_rollout_network_follows_g_at_the_update_rate():
    trainer, _ = small_trainer("--config.train.rollout_update_rate=0.8")
    a = trainer.init_state(jax.random.key(0)).g
    b = trainer.init_state(jax.random.key(1)).g
    mixed = trainer.follow(a, b)["params"]
    np.testing.assert_allclose(np.asarray(mixed["Wi"]), 0.8 * np.asarray(a["params"]["Wi"]) + 0.2 * np.asarray(
        b["params"]["Wi"]), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(mixed["g_embeddings"]), np.asarray(b["params"]["g_embeddings"]))
    reference, _ = small_trainer("--config.train.rollout_update_rate=0.0")
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(
        jax.tree_util.tree_leaves(reference.follow(a, b)), jax.tree_util.tree_leaves(b)))


def test_nll_oracle_is_the_oracles_mean_negative_log_likelihood():
    trainer, config = small_trainer()
    tokens = sequences.oracle_tokens(config.data)[:10]
    model, params = sequences.oracle(config.data)
    assert model.init_std == 1.0 and count_params(params["params"]) == count_params(
        trainer.init_state(jax.random.key(0)).g["params"])  # an LSTM of G's shape
    logits = np_lstm_logits(params["params"], tokens)
    log_p = logits - np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1, keepdims=True)) - logits.max(
        -1, keepdims=True)
    expected = -np.take_along_axis(log_p, tokens[..., None], -1).mean()
    assert trainer.oracle_nll(tokens, 4) == pytest.approx(expected, rel=1e-5)
    # the training data are the oracle's samples: it finds them far likelier than uniform random tokens
    uniform = np.random.default_rng(0).integers(0, 23, (256, 7)).astype(np.int32)
    assert trainer.oracle_nll(sequences.oracle_tokens(config.data), 64) < trainer.oracle_nll(uniform, 64) - 0.5


def test_oracle_data_are_fixed_by_the_seed():
    _, config = small_trainer()
    a = sequences.oracle_tokens(config.data)
    assert a.shape == (256, 7) and a.dtype == np.int32
    with config.unlocked():
        config.data.oracle_seed = 1
    assert not np.array_equal(a, sequences.oracle_tokens(config.data))
    with config.unlocked():
        config.data.oracle_seed = 0
    np.testing.assert_array_equal(a, sequences.oracle_tokens(config.data))


@pytest.mark.parametrize("override, message", [
    ("--config.train.batch_size=15", "config.train.batch_size must be even"),
    ("--config.train.d_epochs=0", "config.train.d_epochs must be >= 1"),
    ("--config.train.rollout_update_rate=1.5", r"config.train.rollout_update_rate must be in \[0, 1\]"),
    ("--config.data.source=mnist5k", "config.data.source must be one of"),
    ("--config.data.num_sequences=8", "fewer than config.train.batch_size"),
])
def test_bad_settings_are_one_line_errors_naming_the_field(override, message):
    with pytest.raises(ValueError, match=message):
        small_trainer(override)[0].phases()


# ------------------------------------------------------------- smoke runs
SMOKE_OVERRIDES = ("--config.train.d_pretrain_rounds=2", "--config.ckpt.every_steps=1", "--config.ckpt.max_to_keep=9")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The smoke run (MLE steps 1-2, D pretraining 3-4, adversarial 5-6) and
    the same run resumed from a checkpoint inside each phase (1, 3, 5):
    (config, straight workdir, summary, {step: resumed workdir})."""
    root = tmp_path_factory.mktemp("seqgan")
    config = load("seqgan_oracle.py", "smoke", *SMOKE_OVERRIDES)
    # The straight run is benchmarks/seqgan_oracle.py's: its table of the smoke oracle.
    table = seqgan_oracle.main(["--config", f"{REPO / 'configs' / 'seqgan_oracle.py'}:smoke",
                                "--workdir", str(root / "straight"), *SMOKE_OVERRIDES])
    summary = {"step": table["curve"][-1][0], "table": table}
    resumed = {}
    for step in (1, 3, 5):
        resumed[step] = root / f"resumed_{step}"
        shutil.copytree(root / "straight" / "checkpoints" / str(step), resumed[step] / "checkpoints" / str(step))
        assert train.train_and_evaluate(load("seqgan_oracle.py", "smoke", *SMOKE_OVERRIDES),
                                        str(resumed[step]))["step"] == 6
    return config, root / "straight", summary, resumed


@pytest.mark.slow
def test_smoke_run_goes_through_the_three_phases_and_logs_nll_oracle(run):
    config, workdir, summary, _ = run
    assert summary["step"] == 6
    lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    keys = {line["step"]: set(line) for line in lines if "eval/nll_oracle" not in line}
    assert all("g_mle_loss" in keys[s] for s in (1, 2))
    assert all({"d_loss", "d_accuracy"} <= keys[s] and "g_mle_loss" not in keys[s] for s in (3, 4))
    assert all({"g_adv_loss", "reward", "d_loss"} <= keys[s] for s in (5, 6))
    evals = [line for line in lines if "eval/nll_oracle" in line]
    assert [line["step"] for line in evals] == [2, 4, 6] and all(0 < line["eval/nll_oracle"] < 20 for line in evals)
    sample_file = workdir / "samples" / "samples_00000006.txt"
    rows = [list(map(int, line.split())) for line in sample_file.read_text().splitlines()]
    assert len(rows) == config.samples.num
    assert {len(r) for r in rows} == {config.data.seq_len} and max(max(r) for r in rows) < config.data.vocab_size


@pytest.mark.slow
def test_the_oracle_benchmark_reads_random_mle_and_seqgan_off_the_run(run):
    config, workdir, summary, _ = run
    table = summary["table"]
    curve = dict(table["curve"])
    assert sorted(curve) == [2, 4, 6]
    assert table["nll_oracle"]["mle"] == curve[2] and table["nll_oracle"]["seqgan"] == curve[6]
    assert table["seqgan_below_mle"] == pytest.approx(curve[2] - curve[6], abs=1e-3)
    # random: the untrained G, scored before training (MLE on the oracle's data lowers it)
    assert table["nll_oracle"]["random"] > table["nll_oracle"]["mle"]
    assert table["settings"]["d_pretrain_rounds"] == 2 and table["settings"]["d_negatives"] == 32
    with pytest.raises(SystemExit):  # an evaluation interval that misses the MLE phase's end is a usage error
        seqgan_oracle.main(["--config", f"{REPO / 'configs' / 'seqgan_oracle.py'}:smoke", "--workdir",
                            str(workdir.parent / "other"), "--config.eval.every_steps=4"])


@pytest.mark.slow
@pytest.mark.parametrize("phase_step", [1, 3, 5], ids=["mle", "d_pretrain", "adversarial"])
def test_resume_is_exact_in_each_phase(run, phase_step):
    config, straight, _, resumed = run
    restored_equal(config, straight, resumed[phase_step])


@pytest.mark.slow
def test_sample_mode_writes_sequences(run):
    config, workdir, _, _ = run
    path = Path(train.sample(config, str(workdir), 5, batch_size=4, seed=1, step=4))
    assert path.name == "samples_00000004.txt"
    assert [len(line.split()) for line in path.read_text().splitlines()] == [config.data.seq_len] * 5


WORDS = {"det": ["the", "a"], "noun": ["cat", "dog", "bird", "fox"], "verb": ["sees", "likes", "chases"],
         "adj": ["small", "red", "quick"]}


def write_text_file(path: Path, lines: int = 300) -> set[str]:
    rng = np.random.default_rng(0)
    pick = lambda kind: WORDS[kind][rng.integers(len(WORDS[kind]))]
    text = [" ".join([pick("det"), pick("adj"), pick("noun"), pick("verb"), pick("det"), pick("noun")])
            for _ in range(lines)]
    path.write_text("\n".join(text) + "\n")
    return {w for ws in WORDS.values() for w in ws}


@pytest.mark.slow
def test_training_on_a_text_file_samples_its_vocabulary(tmp_path):
    words = write_text_file(tmp_path / "corpus.txt")
    overrides = ["--config.data.text_file=" + str(tmp_path / "corpus.txt"), "--config.eval.num_samples=64"]
    config = load("seqgan_text.py", "smoke", *overrides)
    with config.unlocked():
        config.data.source = "text"  # smoke trains on the oracle; this run reads the file
    summary = train.train_and_evaluate(config, str(tmp_path / "run"))
    assert summary["step"] == 5
    vocab = json.loads((tmp_path / "run" / "vocab.json").read_text())
    assert set(vocab["tokens"]) == words | {"<eos>", "<unk>"}
    evals = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
             if "eval/bleu2" in line]
    assert evals and all(0 <= e["eval/bleu4"] <= e["eval/bleu3"] <= e["eval/bleu2"] <= 1 for e in evals)
    (tmp_path / "corpus.txt").unlink()  # --mode sample decodes with the run's vocab.json
    path = Path(train.sample(config, str(tmp_path / "run"), 20))
    lines = path.read_text().splitlines()
    assert len(lines) == 20 and all(set(line.split()) <= words | {"<unk>"} for line in lines)  # decoding stops at <eos>
    assert sum(len(line.split()) for line in lines) > 0
