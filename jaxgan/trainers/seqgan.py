"""Trainer of SeqGAN (`trainer = "seqgan"`): a recurrent generator of tokens
trained by policy gradient against a CNN discriminator, as the reference
(LantaoYu/SeqGAN, sequence_gan.py) runs it. Networks in
jaxgan.models.seqgan, data in jaxgan.data.sequences, defaults and the
phases' step counts in jaxgan.configs.seqgan.

Phases (each step one jitted program):
- 'mle': one epoch of maximum likelihood: for each batch, the mean
  cross-entropy of G's teacher-forced predictions, gradients clipped to a
  global norm of optim.grad_clip, Adam (its own state, as the reference's
  pretrain optimizer).
- 'd_pretrain': one D round: train.d_pretrain_negatives fresh G samples
  (the negatives), then train.d_pretrain_epochs passes, each a reshuffle of
  the negatives; every update
  takes batch/2 real sequences (from the input pipeline) and batch/2
  negatives; loss = mean softmax cross-entropy (class 1 real, 0 generated) +
  optim.d_l2 x the L2 of the output layer (tf.nn.l2_loss), dropout in train
  mode.
- 'adversarial': one G update, then train.adversarial_d_rounds D rounds
  (of train.d_epochs passes over train.d_negatives negatives).
  The G update: a batch of G samples x; rewards R [B, T]: for t < T, the
  mean over train.rollouts rollouts of D's P(real) of x[:t] completed by the
  rollout network, for t = T D's P(real) of x (D without dropout); loss
  -sum_{b,t} log G(x_bt | x_b,<t) R_bt (summed over the batch, as the
  reference), clipped gradients, Adam (the adversarial optimizer's own
  state). Then the rollout network moves toward G: rate x rollout + (1 -
  rate) x G for the LSTM and the output layer, G's embeddings copied (the
  reference's update_params).
Adam is optax's (TF1's, the reference's, adds epsilon 1e-8 before the bias
correction instead of after it: a difference far below float32 noise
here). Every draw comes from the step key (exact resume). Metrics: g_mle_loss;
d_loss, d_accuracy (train mode, averaged over the round's updates);
g_adv_loss, reward (its mean).

Evaluation: data.source 'oracle': nll_oracle, the oracle's mean negative
log-likelihood per token of eval.num_samples G samples (the reference's
target_loss; keeps best/); 'text': bleu2..4 of eval.num_samples samples
against the held-out lines (jaxgan.eval.bleu; keeps best/ by bleu4), and
the vocabulary is saved as <workdir>/vocab.json. Sample files:
samples/samples_<step>.txt, one sequence a line (decoded text, or token ids
for the oracle); `--mode sample` decodes with the run's vocab.json
(config.data.vocab_file), so the text file is no longer needed.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.data import sequences
from jaxgan.models import seqgan as networks
from jaxgan.state import count_params, step_key
from jaxgan.trainers import define_flag
from jaxgan.trainers.protocol import BestMetric, Phase

Array = jax.Array


@flax.struct.dataclass
class SeqGANState:
    """{step, rng} (the loop's), G, D and the rollout network as flax
    variable dicts, and three Adam states: G's maximum-likelihood and
    adversarial optimizers (separate, as the reference's) and D's."""

    step: jax.Array
    rng: jax.Array
    g: Any
    d: Any
    rollout: Any
    g_mle_opt: Any
    g_adv_opt: Any
    d_opt: Any


class SeqGANTrainer:
    grid_name = "samples"
    grid_columns = None

    def __init__(self, config: Any, mesh: Any = None):
        del mesh  # every array of a step is small; the loop shards the real batches
        self.config = config
        d, t = config.data, config.train
        if config.model.arch != "seqgan":
            raise ValueError(f"config.model.arch must be 'seqgan' for the seqgan trainer, got {config.model.arch!r}")
        if d.source not in sequences.SEQUENCE_SOURCES:
            raise ValueError(f"config.data.source must be one of {sequences.SEQUENCE_SOURCES} for SeqGAN, got "
                             f"{d.source!r}")
        if t.batch_size < 2 or t.batch_size % 2:
            raise ValueError(f"config.train.batch_size must be even (each D update takes half real, half "
                             f"generated sequences), got {t.batch_size}")
        for field in ("mle_epochs", "d_pretrain_rounds", "num_steps", "adversarial_d_rounds"):
            if int(t[field]) < 0:
                raise ValueError(f"config.train.{field} must be >= 0, got {t[field]}")
        for field in ("d_epochs", "rollouts", "d_negatives", "d_pretrain_epochs", "d_pretrain_negatives"):
            if int(t[field]) < 1:
                raise ValueError(f"config.train.{field} must be >= 1, got {t[field]}")
        if not 0.0 <= float(t.rollout_update_rate) <= 1.0:
            raise ValueError(f"config.train.rollout_update_rate must be in [0, 1], got {t.rollout_update_rate}")
        self.vocab = None
        if d.source == "text":
            from jaxgan.data import text

            self.vocab = text.Vocabulary.load(d.vocab_file) if d.vocab_file else self.text_data.vocab
            self.vocab_size = self.vocab.size
        else:
            self.vocab_size = int(d.vocab_size)
        self.seq_len = int(d.seq_len)
        # (passes, batches of negatives) of a D round in the phases 'd_pretrain' and 'adversarial'
        self.pretrain_round = (int(t.d_pretrain_epochs), max(1, int(t.d_pretrain_negatives) // int(t.batch_size)))
        self.adversarial_round = (int(t.d_epochs), max(1, int(t.d_negatives) // int(t.batch_size)))
        self.G = networks.LSTMGenerator(vocab_size=self.vocab_size, seq_len=self.seq_len, **config.model.g)
        self.D = networks.Discriminator(vocab_size=self.vocab_size, seq_len=self.seq_len, **config.model.d)
        o = config.optim
        self.g_tx = optax.chain(optax.clip_by_global_norm(o.grad_clip), optax.adam(o.g_lr))
        self.d_tx = optax.adam(o.d_lr)
        self.best_metric = BestMetric("nll_oracle") if d.source == "oracle" else BestMetric("bleu4", True)
        self._oracle = None

    @functools.cached_property
    def text_data(self):
        """The text file's sequences and vocabulary (data.source 'text'); read
        when first needed, so that sampling with a saved vocabulary
        (data.vocab_file) does not need the file."""
        return sequences.load_text(self.config.data)

    @property
    def epoch_batches(self) -> int:
        """Batches of an MLE epoch: floor(training sequences / batch)."""
        d, batch = self.config.data, int(self.config.train.batch_size)
        num_train = len(self.text_data.train) if d.source == "text" else int(d.num_sequences)
        if num_train < batch:
            raise ValueError(f"the training data has {num_train} sequences, fewer than config.train.batch_size "
                             f"({batch})")
        return num_train // batch

    # ------------------------------------------------------------ protocol
    def phases(self) -> list[Phase]:
        t = self.config.train
        pretrain_batches = self.pretrain_round[0] * self.pretrain_round[1]
        adversarial_batches = int(t.adversarial_d_rounds) * self.adversarial_round[0] * self.adversarial_round[1]
        return [Phase("mle", int(t.mle_epochs), self.mle_step, ("tokens",), self.epoch_batches),
                Phase("d_pretrain", int(t.d_pretrain_rounds), self.d_pretrain_step, ("tokens",), pretrain_batches),
                Phase("adversarial", int(t.num_steps), self.adversarial_step,
                      ("tokens",) if adversarial_batches else (), max(adversarial_batches, 1))]

    def check_data(self, data: Any) -> None:
        if getattr(data, "seq_len", None) != self.seq_len:
            raise ValueError(f"config.data.source {self.config.data.source!r} gives no sequences of length "
                             f"{self.seq_len} (config.data.seq_len)")
        if self.vocab is not None and data.vocab != self.vocab:
            raise ValueError(f"config.data.vocab_file {self.config.data.vocab_file} is not the vocabulary of "
                             f"config.data.text_file {self.config.data.text_file}")

    def param_counts(self, state: SeqGANState) -> dict[str, int]:
        return {"g": count_params(state.g["params"]), "d": count_params(state.d["params"])}

    def init_state(self, key: Array) -> SeqGANState:
        kg, kd, kr = jax.random.split(key, 3)
        tokens = jnp.zeros((1, self.seq_len), jnp.int32)
        g = dict(self.G.init(kg, tokens))
        d = dict(self.D.init(kd, tokens))
        return SeqGANState(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(kr), g=g, d=d, rollout=g,
                           g_mle_opt=self.g_tx.init(g["params"]), g_adv_opt=self.g_tx.init(g["params"]),
                           d_opt=self.d_tx.init(d["params"]))

    # --------------------------------------------------------------- steps
    def generate(self, g: Any, key: Array, num: int) -> Array:
        """`num` sequences [num, T] sampled from G (variables `g`)."""
        return self.G.apply(g, key, num, method=self.G.generate)

    def log_probs(self, g: Any, tokens: Array) -> Array:
        """log G(token_t | tokens_<t) [B, T]."""
        return networks.sequence_log_probs(self.G.apply(g, tokens), tokens)

    def mle_step(self, state: SeqGANState, batch: dict[str, Array]) -> tuple[SeqGANState, dict[str, Array]]:
        """batch: {'tokens': [epoch_batches, B, T]}: one epoch of MLE."""

        def update(carry, tokens):
            params, opt = carry
            loss, grads = jax.value_and_grad(lambda p: -jnp.mean(self.log_probs({"params": p}, tokens)))(params)
            updates, opt = self.g_tx.update(grads, opt, params)
            return (optax.apply_updates(params, updates), opt), loss

        (params, opt), losses = jax.lax.scan(update, (state.g["params"], state.g_mle_opt), batch["tokens"])
        g = {"params": params}
        return (state.replace(step=state.step + 1, g=g, rollout=g, g_mle_opt=opt),
                {"g_mle_loss": jnp.mean(losses)})

    def d_loss(self, d_params: Any, tokens: Array, labels: Array, key: Array) -> tuple[Array, Array]:
        logits = self.D.apply({"params": d_params}, tokens, train=True, rngs={"dropout": key})
        loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
        accuracy = jnp.mean(jnp.argmax(logits, -1) == labels)
        return loss + self.config.optim.d_l2 * networks.l2_loss(d_params), accuracy

    def d_rounds(self, d_params: Any, d_opt: Any, g: Any, real: Array, key: Array, epochs: int, n_neg: int):
        """D rounds (module docstring), each `epochs` passes over `n_neg`
        batches of negatives, on the real batches `real` [rounds x epochs x
        n_neg, B, T]: (d_params, d_opt, metrics)."""
        batch, half = real.shape[1], real.shape[1] // 2
        real = real.reshape(-1, epochs, 2 * n_neg, half, self.seq_len)
        labels = jnp.concatenate([jnp.ones((half,), jnp.int32), jnp.zeros((half,), jnp.int32)])

        def update(carry, xs):
            params, opt = carry
            tokens, k = xs
            (loss, accuracy), grads = jax.value_and_grad(self.d_loss, has_aux=True)(params, tokens, labels, k)
            updates, opt = self.d_tx.update(grads, opt, params)
            return (optax.apply_updates(params, updates), opt), (loss, accuracy)

        def one_round(carry, xs):
            real_round, k = xs
            k_neg, k_epochs = jax.random.split(k)
            negatives = jax.lax.map(lambda kb: self.generate(g, kb, batch), jax.random.split(k_neg, n_neg))
            negatives = negatives.reshape(n_neg * batch, self.seq_len)

            def epoch(carry, xs):
                real_epoch, ke = xs
                k_perm, k_drop = jax.random.split(ke)
                fake = negatives[jax.random.permutation(k_perm, n_neg * batch)].reshape(2 * n_neg, half, -1)
                tokens = jnp.concatenate([real_epoch, fake], axis=1)
                return jax.lax.scan(update, carry, (tokens, jax.random.split(k_drop, 2 * n_neg)))

            return jax.lax.scan(epoch, carry, (real_round, jax.random.split(k_epochs, epochs)))

        rounds = real.shape[0]
        (d_params, d_opt), (loss, accuracy) = jax.lax.scan(one_round, (d_params, d_opt),
                                                           (real, jax.random.split(key, rounds)))
        return d_params, d_opt, {"d_loss": jnp.mean(loss), "d_accuracy": jnp.mean(accuracy)}

    def d_pretrain_step(self, state: SeqGANState, batch: dict[str, Array]) -> tuple[SeqGANState, dict[str, Array]]:
        """batch: {'tokens': [d_pretrain_epochs x negative batches, B, T]}: one D round."""
        d_params, d_opt, metrics = self.d_rounds(state.d["params"], state.d_opt, state.g, batch["tokens"],
                                                 step_key(state), *self.pretrain_round)
        return state.replace(step=state.step + 1, d={"params": d_params}, d_opt=d_opt), metrics

    def real_probability(self, d_params: Any, tokens: Array) -> Array:
        """D's P(real) [...] of sequences [..., T] (no dropout)."""
        flat = tokens.reshape(-1, self.seq_len)
        return jax.nn.softmax(self.D.apply({"params": d_params}, flat), axis=-1)[:, 1].reshape(tokens.shape[:-1])

    def rewards(self, rollout: Any, d_params: Any, tokens: Array, key: Array) -> Array:
        """[B, T]: the reference's get_reward (module docstring)."""
        completions = self.G.apply(rollout, key, tokens, int(self.config.train.rollouts),
                                   method=self.G.rollouts)  # [R, T - 1, B, T]
        partial = jnp.mean(jax.lax.map(lambda c: self.real_probability(d_params, c), completions), axis=0)
        return jnp.concatenate([partial, self.real_probability(d_params, tokens)[None]], axis=0).T

    def adversarial_step(self, state: SeqGANState,
                         batch: dict[str, Array]) -> tuple[SeqGANState, dict[str, Array]]:
        """batch: {'tokens': [adversarial_d_rounds x d_epochs x negative batches, B, T]}
        (none without D rounds)."""
        key = step_key(state)
        k_sample, k_rollout, k_d = jax.random.split(key, 3)
        n = int(self.config.train.batch_size)
        samples = self.generate(state.g, k_sample, n)
        rewards = jax.lax.stop_gradient(self.rewards(state.rollout, state.d["params"], samples, k_rollout))

        def g_loss(params):
            return -jnp.sum(self.log_probs({"params": params}, samples) * rewards)

        loss, grads = jax.value_and_grad(g_loss)(state.g["params"])
        updates, g_adv_opt = self.g_tx.update(grads, state.g_adv_opt, state.g["params"])
        g = {"params": optax.apply_updates(state.g["params"], updates)}
        rollout = self.follow(state.rollout, g)
        metrics = {"g_adv_loss": loss, "reward": jnp.mean(rewards)}
        d_params, d_opt = state.d["params"], state.d_opt
        if "tokens" in batch:
            d_params, d_opt, d_metrics = self.d_rounds(d_params, d_opt, g, batch["tokens"], k_d,
                                                       *self.adversarial_round)
            metrics.update(d_metrics)
        state = state.replace(step=state.step + 1, g=g, rollout=rollout, g_adv_opt=g_adv_opt,
                              d={"params": d_params}, d_opt=d_opt)
        return state, metrics

    def follow(self, rollout: Any, g: Any) -> Any:
        """The rollout network after a G update: the reference's update_params."""
        rate = float(self.config.train.rollout_update_rate)
        mixed = jax.tree_util.tree_map(lambda r, p: rate * r + (1.0 - rate) * p, rollout["params"], g["params"])
        mixed["g_embeddings"] = g["params"]["g_embeddings"]
        return {"params": mixed}

    # ------------------------------------------------------- samples, eval
    def grid_inputs(self, key: Array, num: int) -> Array:
        return jax.random.key_data(jax.random.split(key, num))  # one key a row: the count is the shape

    def sample_grid(self, state: SeqGANState, inputs: Array) -> Array:
        """[N, T] token sequences of G."""
        return self.generate(state.g, jax.random.wrap_key_data(inputs[0]), inputs.shape[0])

    def grid_text(self, tokens: np.ndarray) -> str:
        return "".join(line + "\n" for line in self.decode(tokens))

    def decode(self, tokens: np.ndarray) -> list[str]:
        """Text lines of sequences [N, T]: words or characters up to the first
        <eos> for text data, the token ids for the oracle's."""
        if self.vocab is not None:
            from jaxgan.data import text

            return text.decode_all(self.vocab, np.asarray(tokens))
        return [" ".join(map(str, row)) for row in np.asarray(tokens).tolist()]

    def samples(self, state: SeqGANState, key: Array, num: int, batch_size: int) -> np.ndarray:
        """`num` G samples [num, T] (numpy), drawn `batch_size` at a time."""
        draw = jax.jit(self.generate, static_argnums=2)
        parts = [np.asarray(draw(state.g, jax.random.fold_in(key, i), batch_size))
                 for i in range(-(-num // batch_size))]
        return np.concatenate(parts)[:num]

    def oracle_nll(self, tokens: np.ndarray, batch_size: int) -> float:
        """The oracle's mean negative log-likelihood per token of `tokens`."""
        if self._oracle is None:
            model, params = sequences.oracle(self.config.data)
            self._oracle = jax.jit(lambda t: -jnp.sum(networks.sequence_log_probs(model.apply(params, t), t)))
        total = sum(float(self._oracle(tokens[i:i + batch_size])) for i in range(0, len(tokens), batch_size))
        return total / tokens.size

    def evaluator(self, workdir: str, mesh: Any):
        """state -> {'nll_oracle'} or {'bleu2', 'bleu3', 'bleu4'} (module docstring)."""
        e = self.config.eval
        if self.vocab is not None and jax.process_index() == 0:
            from etils import epath

            epath.Path(workdir).mkdir(parents=True, exist_ok=True)
            self.vocab.save(epath.Path(workdir) / "vocab.json")

        def evaluate(state: SeqGANState) -> dict[str, float]:
            key = jax.random.fold_in(jax.random.key(self.config.seed), 2)  # the same draws at every evaluation
            tokens = self.samples(state, key, int(e.num_samples), int(e.batch_size))
            if self.vocab is None:
                return {"nll_oracle": self.oracle_nll(tokens, int(e.batch_size))}
            from jaxgan.eval.bleu import bleu_scores

            references = [line.split() if self.vocab.level == "word" else list(line)
                          for line in self.decode(self.text_data.held_out)]
            hypotheses = [line.split() if self.vocab.level == "word" else list(line)
                          for line in self.decode(tokens)]
            if not any(references):
                logging.warning("no held-out lines (config.data.held_out_fraction): no BLEU")
                return {}
            return bleu_scores(hypotheses, [r for r in references if r])

        return evaluate

    # ------------------------------------------------------- --mode sample
    @classmethod
    def define_sample_flags(cls) -> None:
        define_flag("integer", "num_samples", None, "--mode sample: images (default config.samples.num for the "
                    "grid, config.eval.num_samples for png / npz).")
        define_flag("integer", "batch_size", None, "--mode sample: images per forward pass (default "
                    "config.eval.batch_size).")
        define_flag("integer", "seed", None, "--mode sample: seed of the generator's inputs (default config.seed: "
                    "those of the training grids).")
        define_flag("integer", "step", None, "--mode sample: checkpoint step (default the latest).")

    @classmethod
    def sample_options(cls, flag_values: Any) -> dict[str, Any]:
        return dict(num=flag_values.num_samples, batch_size=flag_values.batch_size, seed=flag_values.seed,
                    step=flag_values.step)

    @classmethod
    def write_samples(cls, config: Any, workdir: str, num: int | None = None, *, batch_size: int | None = None,
                      seed: int | None = None, step: int | None = None) -> str:
        """`--mode sample`: `num` (default config.eval.num_samples) sequences
        of the checkpoint as samples/samples_<step>.txt, one a line (text
        decoded with the run's vocab.json)."""
        from etils import epath

        from jaxgan import train

        vocab_file = epath.Path(workdir) / "vocab.json"
        if config.data.source == "text" and not config.data.vocab_file and vocab_file.exists():
            config = config.copy_and_resolve_references()
            with config.unlocked():
                config.data.vocab_file = str(vocab_file)
        trainer, _, state = train.restore_latest(config, workdir, step)
        key = jax.random.fold_in(jax.random.key(config.seed if seed is None else seed), 3)
        tokens = trainer.samples(state, key, int(num or config.eval.num_samples),
                                 int(batch_size or config.eval.batch_size))
        path = epath.Path(workdir) / "samples" / f"samples_{int(state.step):08d}.txt"
        if jax.process_index() == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(trainer.grid_text(tokens))
        return str(path)
