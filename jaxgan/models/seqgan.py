"""SeqGAN's networks (Yu et al. 2017), as the reference code builds them
(LantaoYu/SeqGAN: generator.py, rollout.py, discriminator.py, target_lstm.py).

- `LSTMGenerator`: token embeddings, one LSTM cell without peepholes (the
  reference's hand-written unit: input, forget and output gates and the
  candidate memory, each x W + h U + b), logits h Wo + bo over the
  vocabulary; every parameter N(0, init_std) (0.1; the oracle's 1.0).
  Position 0 reads the start token (0); position t > 0 reads token t - 1.
  Parameters carry the reference's variable names (g_embeddings, Wi, Ui,
  bi, ..., Wo, bo). With the reference's sizes (vocabulary 5000, embedding
  and hidden 32): 160,000 + 4 x 2,080 + 165,000 = 333,320.
- `Discriminator`: the text CNN: embeddings (64) of the tokens, for each
  filter size f one VALID convolution over f consecutive embeddings with
  num_filters[f] filters, ReLU and a max over time; the pooled features
  concatenated, one highway layer (gate bias 0 as the reference calls it),
  dropout, and two logits (0: generated, 1: real). Parameter names follow
  the reference's scopes.

The generator's programs are lax.scans over positions, so sampling, the
teacher-forced logits and the whole Monte Carlo rollout (every prefix
length of a batch, several rollouts) are each one jitted program.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array

# The reference's discriminator (sequence_gan.py).
FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)
GATES = ("i", "f", "og", "c")  # the LSTM's Wi/Ui/bi, Wf/..., Wog/..., Wc/... (og: the output gate)


class LSTMGenerator(nn.Module):
    vocab_size: int = 5000
    emb_dim: int = 32
    hidden_dim: int = 32
    seq_len: int = 20
    start_token: int = 0
    init_std: float = 0.1

    def setup(self):
        init = nn.initializers.normal(self.init_std)
        e, h = self.emb_dim, self.hidden_dim
        self.g_embeddings = self.param("g_embeddings", init, (self.vocab_size, e))
        self.gates = {g: (self.param(f"W{g}", init, (e, h)), self.param(f"U{g}", init, (h, h)),
                          self.param(f"b{g}", init, (h,))) for g in GATES}
        self.Wo = self.param("Wo", init, (h, self.vocab_size))
        self.bo = self.param("bo", init, (self.vocab_size,))

    def __call__(self, tokens: Array) -> Array:
        """Teacher-forced logits [B, T, V] of `tokens` [B, T]."""
        return self.logits(tokens)

    def cell(self, x: Array, carry: tuple[Array, Array]) -> tuple[Array, Array]:
        """(h, c) after reading the embeddings x [..., E]."""
        h_prev, c_prev = carry

        def gate(g):
            w, u, b = self.gates[g]
            return x @ w + h_prev @ u + b

        i, f, o = jax.nn.sigmoid(gate("i")), jax.nn.sigmoid(gate("f")), jax.nn.sigmoid(gate("og"))
        c = f * c_prev + i * jnp.tanh(gate("c"))
        return o * jnp.tanh(c), c

    def output(self, h: Array) -> Array:
        return h @ self.Wo + self.bo

    def zero_carry(self, shape: tuple[int, ...]) -> tuple[Array, Array]:
        zeros = jnp.zeros((*shape, self.hidden_dim), jnp.float32)
        return zeros, zeros

    def inputs(self, tokens: Array) -> Array:
        """The tokens each position reads: the start token, then tokens[..., :-1]."""
        start = jnp.full((*tokens.shape[:-1], 1), self.start_token, tokens.dtype)
        return jnp.concatenate([start, tokens[..., :-1]], axis=-1)

    def logits(self, tokens: Array) -> Array:
        def body(carry, x):
            carry = self.cell(self.g_embeddings[x], carry)
            return carry, self.output(carry[0])

        _, logits = jax.lax.scan(body, self.zero_carry(tokens.shape[:1]), self.inputs(tokens).T)
        return jnp.swapaxes(logits, 0, 1)

    def generate(self, key: Array, batch: int) -> Array:
        """`batch` sequences [batch, T] sampled token by token."""
        return self.complete(key, jnp.zeros((batch, self.seq_len), jnp.int32), jnp.zeros((), jnp.int32))

    def complete(self, key: Array, tokens: Array, given: Array) -> Array:
        """Sequences whose first `given` tokens are `tokens`' and the rest
        sampled (the reference's rollout for given_num = `given`, which
        broadcasts against tokens.shape[:-1])."""
        given = jnp.broadcast_to(given, tokens.shape[:-1])

        def body(carry, xs):
            carry_in, previous = carry
            position, step_key, forced = xs
            carry_out = self.cell(self.g_embeddings[previous], carry_in)
            sampled = sample_tokens(step_key, self.output(carry_out[0])).astype(tokens.dtype)
            token = jnp.where(position < given, forced, sampled)
            return (carry_out, token), token

        start = jnp.full(tokens.shape[:-1], self.start_token, tokens.dtype)
        xs = (jnp.arange(self.seq_len), jax.random.split(key, self.seq_len), jnp.moveaxis(tokens, -1, 0))
        _, out = jax.lax.scan(body, (self.zero_carry(tokens.shape[:-1]), start), xs)
        return jnp.moveaxis(out, 0, -1)

    def rollouts(self, key: Array, tokens: Array, num_rollouts: int) -> Array:
        """[num_rollouts, T - 1, B, T]: for every rollout and every prefix
        length g = 1..T-1 of `tokens` [B, T], the first g tokens completed by
        sampling (`complete` for every g at once). Position p samples only
        the rows with g <= p (a static slice: the positions are unrolled),
        so the output layer runs T (T - 1) / 2 times per sequence instead of
        (T - 1) T. The rollouts run one after another (lax.map): one
        rollout's logits, [(T - 1) B, V] at most, are the largest array."""
        rows, n = self.seq_len - 1, tokens.shape[0]

        def rollout(key):
            keys = jax.random.split(key, self.seq_len)
            carry = self.zero_carry((rows, n))
            previous = jnp.full((rows, n), self.start_token, tokens.dtype)
            out = []
            for p in range(self.seq_len):
                carry = self.cell(self.g_embeddings[previous], carry)
                token = jnp.broadcast_to(tokens[:, p], (rows, n))
                if p:  # rows 0..p-1 (g = 1..p) sample position p; the others are given it
                    sampled = sample_tokens(keys[p], self.output(carry[0][:p])).astype(tokens.dtype)
                    token = jnp.concatenate([sampled, token[p:]])
                out.append(token)
                previous = token
            return jnp.stack(out, axis=-1)

        return jax.lax.map(rollout, jax.random.split(key, num_rollouts))


def sample_tokens(key: Array, logits: Array) -> Array:
    """One token per row of `logits` [..., V], drawn from its softmax by
    inverting the cumulative distribution at one uniform number (the
    reference's tf.multinomial; jax.random.categorical's Gumbel trick draws
    V numbers per token, 4x the time on a CPU at V = 5000)."""
    probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
    cdf = jnp.cumsum(probs, axis=-1)
    u = jax.random.uniform(key, (*logits.shape[:-1], 1)) * cdf[..., -1:]
    return jnp.minimum(jnp.sum(cdf < u, axis=-1), logits.shape[-1] - 1)


def sequence_log_probs(logits: Array, tokens: Array) -> Array:
    """log p(token_t | tokens_<t) [B, T] from teacher-forced logits."""
    log_p = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    return jnp.take_along_axis(log_p, tokens[..., None], axis=-1)[..., 0]


def _glorot_uniform(key, shape, dtype=jnp.float32):
    """tf.get_variable's default initializer, which the reference's highway
    `linear` gets for its Matrix [out, in] and its Bias [out] alike."""
    fan_in, fan_out = (shape[1], shape[0]) if len(shape) == 2 else (shape[0], shape[0])
    limit = jnp.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, shape, dtype, -limit, limit)


def _uniform_pm1(key, shape, dtype=jnp.float32):
    """The reference's embedding init, tf.random_uniform(-1, 1)."""
    return jax.random.uniform(key, shape, dtype, -1.0, 1.0)


class _Linear(nn.Module):
    """The reference's `linear`: x Matrix^T + Bias, Matrix [out, in]."""

    size: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        matrix = self.param("Matrix", _glorot_uniform, (self.size, x.shape[-1]))
        return x @ matrix.T + self.param("Bias", _glorot_uniform, (self.size,))


class _ConvMaxPool(nn.Module):
    """One filter size: conv over `filter_size` embeddings, ReLU, max over time."""

    filter_size: int
    num_filters: int

    @nn.compact
    def __call__(self, embedded: Array) -> Array:
        emb = embedded.shape[-1]
        w = self.param("W", nn.initializers.truncated_normal(0.1), (self.filter_size, emb, 1, self.num_filters))
        b = self.param("b", nn.initializers.constant(0.1), (self.num_filters,))
        # The VALID convolution as one matrix product of the unfolded windows
        # [B, T - f + 1, f E]: XLA:CPU runs a convolution's gradients inside a
        # loop (the D updates' scan) an order of magnitude slower than this.
        f, positions = self.filter_size, embedded.shape[1] - self.filter_size + 1
        windows = jnp.concatenate([embedded[:, i:i + positions] for i in range(f)], axis=-1)
        conv = windows @ w.reshape(f * emb, self.num_filters)
        return jnp.max(jax.nn.relu(conv + b), axis=1)


class Discriminator(nn.Module):
    vocab_size: int = 5000
    seq_len: int = 20
    emb_dim: int = 64
    filter_sizes: Sequence[int] = FILTER_SIZES
    num_filters: Sequence[int] = NUM_FILTERS
    dropout_keep: float = 0.75

    @nn.compact
    def __call__(self, tokens: Array, train: bool = False) -> Array:
        """Logits [B, 2] (0: generated, 1: real) of `tokens` [B, T];
        `train` applies dropout (the 'dropout' rng)."""
        if max(self.filter_sizes) > self.seq_len:
            raise ValueError(f"discriminator filter size {max(self.filter_sizes)} is longer than the sequences "
                             f"({self.seq_len}); shorten config.model.d.filter_sizes")
        table = self.param("embedding_W", _uniform_pm1, (self.vocab_size, self.emb_dim))
        embedded = table[tokens]
        pooled = jnp.concatenate([_ConvMaxPool(f, n, name=f"conv-maxpool-{f}")(embedded)
                                  for f, n in zip(self.filter_sizes, self.num_filters)], axis=-1)
        size = pooled.shape[-1]
        g = jax.nn.relu(_Linear(size, name="highway_lin_0")(pooled))
        t = jax.nn.sigmoid(_Linear(size, name="highway_gate_0")(pooled))
        features = t * g + (1.0 - t) * pooled
        features = nn.Dropout(1.0 - self.dropout_keep, deterministic=not train)(features)
        w = self.param("output_W", nn.initializers.truncated_normal(0.1), (size, 2))
        b = self.param("output_b", nn.initializers.constant(0.1), (2,))
        return features @ w + b


def l2_loss(d_params: dict) -> Array:
    """The reference's L2 term: tf.nn.l2_loss of the output layer's W and b."""
    return 0.5 * (jnp.sum(d_params["output_W"] ** 2) + jnp.sum(d_params["output_b"] ** 2))
