"""Token sequences for SeqGAN: batches {"tokens": int32 [B, seq_len]}.

Sources (`config.data.source`):
- 'oracle': the synthetic experiment's data. An oracle LSTM of the
  generator's shape (embedding `oracle_emb_dim`, hidden
  `oracle_hidden_dim`, vocabulary `vocab_size`, length `seq_len`) whose
  parameters are N(0, 1), drawn from `oracle_seed` (the paper's oracle; the
  reference loads one it drew before, this one is drawn here), and its
  `num_sequences` samples, the training set. Nothing is downloaded.
  `oracle(data_config)` gives the model and its parameters, which score the
  generator's samples (NLL-oracle).
- 'text': the lines of `text_file` (jaxgan.data.text.load_text: `level`,
  `seq_len`, `max_vocab`, `held_out_fraction`).
The sequences are shuffled every epoch and sharded over processes
(pipeline.EpochOrder); the state is the position in that walk, so a
resumed run reads what an uninterrupted one would.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.data.pipeline import EpochOrder

SEQUENCE_SOURCES = ("oracle", "text")
_ORACLE_CHUNK = 500  # sequences drawn per jitted call; fixed, so the draws do not depend on it


def oracle(data_config: Any):
    """(the oracle LSTMGenerator, its parameters {'params': ...}): N(0, 1)
    parameters drawn from data_config.oracle_seed."""
    from jaxgan.models.seqgan import LSTMGenerator

    model = LSTMGenerator(vocab_size=int(data_config.vocab_size), emb_dim=int(data_config.oracle_emb_dim),
                          hidden_dim=int(data_config.oracle_hidden_dim), seq_len=int(data_config.seq_len),
                          init_std=1.0)
    key = jax.random.fold_in(jax.random.key(int(data_config.oracle_seed)), 0)
    return model, model.init(key, jnp.zeros((1, model.seq_len), jnp.int32))


@functools.lru_cache(maxsize=4)
def _oracle_tokens(vocab_size: int, emb_dim: int, hidden_dim: int, seq_len: int, seed: int,
                   num: int) -> np.ndarray:
    from ml_collections import ConfigDict

    model, params = oracle(ConfigDict(dict(vocab_size=vocab_size, oracle_emb_dim=emb_dim,
                                           oracle_hidden_dim=hidden_dim, seq_len=seq_len, oracle_seed=seed)))
    draw = jax.jit(lambda key: model.apply(params, key, _ORACLE_CHUNK, method=model.generate))
    key = jax.random.fold_in(jax.random.key(seed), 1)
    chunks = [np.asarray(draw(jax.random.fold_in(key, i))) for i in range(-(-num // _ORACLE_CHUNK))]
    tokens = np.concatenate(chunks)[:num].astype(np.int32)
    tokens.flags.writeable = False
    return tokens


def oracle_tokens(data_config: Any) -> np.ndarray:
    """The oracle's `num_sequences` samples [N, seq_len] (the training set)."""
    d = data_config
    if int(d.num_sequences) < 1:
        raise ValueError(f"config.data.num_sequences must be >= 1, got {d.num_sequences}")
    return _oracle_tokens(int(d.vocab_size), int(d.oracle_emb_dim), int(d.oracle_hidden_dim), int(d.seq_len),
                          int(d.oracle_seed), int(d.num_sequences))


def load_text(data_config: Any):
    """jaxgan.data.text.load_text of config.data's fields (a TextData)."""
    from jaxgan.data import text

    d = data_config
    return text.load_text(d.text_file, level=d.level, seq_len=int(d.seq_len), max_vocab=int(d.max_vocab),
                          held_out_fraction=float(d.held_out_fraction))


class SequencePipeline:
    """Batches {"tokens": int32 [batch_size, T]} of `tokens`, reshuffled every
    epoch; implements the jaxgan.data.InputPipeline contract (no images)."""

    image_shape = None
    num_classes = None
    vocab = None  # a text file's jaxgan.data.text.Vocabulary

    def __init__(self, tokens: np.ndarray, *, batch_size: int, seed: int, process_index: int = 0,
                 process_count: int = 1):
        self.tokens = tokens
        self.seq_len = tokens.shape[1]
        self.batch_size = batch_size
        self.order = EpochOrder(len(tokens), seed=seed, process_index=process_index, process_count=process_count)
        self.position = 0

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        rows = [self.order[p][0] for p in range(self.position, self.position + self.batch_size)]
        self.position += self.batch_size
        return {"tokens": self.tokens[rows]}

    def get_state(self) -> dict[str, Any]:
        return {"position": self.position}

    def set_state(self, state: dict[str, Any]) -> None:
        self.position = int(state["position"])


def build(data_config: Any, *, batch_size: int, seed: int, process_index: int = 0,
          process_count: int = 1) -> SequencePipeline:
    """The source's pipeline; a text file's has its `vocab` (an oracle's None)."""
    text_data = load_text(data_config) if data_config.source == "text" else None
    tokens = text_data.train if text_data is not None else oracle_tokens(data_config)
    pipeline = SequencePipeline(tokens, batch_size=batch_size, seed=seed, process_index=process_index,
                                process_count=process_count)
    pipeline.vocab = text_data.vocab if text_data is not None else None
    return pipeline
