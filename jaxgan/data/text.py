"""A user's own text file as fixed-length token sequences, the data of the
sequence GANs over discrete tokens (SeqGAN and its family).

The file (`config.data.text_file`, a local or `gs://` path) holds one sentence
per line; blank lines are skipped and each line is stripped. Tokens are the
line's whitespace-separated words (`config.data.level = 'word'`) or its
characters, spaces included (`'char'`).

Vocabulary (`Vocabulary`): index 0 is "<eos>", which pads sequences shorter
than the sequence length, is the generator's start token and ends decoding;
index 1 is "<unk>", every token outside the vocabulary; then the training
lines' tokens by descending frequency, ties broken lexicographically, so the
same file and settings always give the same vocabulary (a literal "<eos>" or
"<unk>" in the file is that special token, as in the Penn Treebank's text).
`config.data.max_vocab` caps its size, the two special tokens included (0: no
cap); the rarer tokens become "<unk>".

Sequences (`load_text`): int32 [N, seq_len]. A sentence of at most seq_len
tokens is one row padded with 0; a longer one is cut into consecutive chunks of
seq_len tokens, the last padded with 0, so no token of the file is dropped.

Split: the held-out sentences (the reference set of BLEU and the likelihood
evaluations) are every k-th sentence, k = round(1 / held_out_fraction), so both
parts cover the whole file rather than its two ends (a file sorted by topic or
date would otherwise give a held-out set unlike the training one);
held_out_fraction 0 holds none out. The vocabulary is built from the training
sentences only: held-out tokens it lacks are "<unk>", as they are to the model.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
from collections.abc import Iterable, Sequence

import numpy as np
from etils import epath

EOS, UNK = "<eos>", "<unk>"
SPECIALS = (EOS, UNK)
LEVELS = ("word", "char")


def _tokenize(line: str, level: str) -> list[str]:
    return line.split() if level == "word" else list(line.rstrip("\r\n"))


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Tokens by index: "<eos>", "<unk>", then the corpus's tokens by
    descending frequency (`from_lines`)."""

    tokens: tuple[str, ...]
    level: str

    def __post_init__(self):
        object.__setattr__(self, "tokens", tuple(self.tokens))  # hashable and immutable, whatever sequence came in
        if self.level not in LEVELS:
            raise ValueError(f"config.data.level must be one of {LEVELS}, got {self.level!r}")
        if tuple(self.tokens[:2]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}, got {tuple(self.tokens[:2])}")
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("a vocabulary holds each token once")

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    @property
    def size(self) -> int:
        return len(self.tokens)

    def encode(self, line: str) -> list[int]:
        """The line's token indices: its words (`str.split`) or its characters
        (without the line's newline); tokens outside the vocabulary are 1."""
        index = self._index
        return [index.get(t, 1) for t in _tokenize(line, self.level)]

    def decode(self, ids: Iterable[int]) -> str:
        """The tokens up to the first 0 ("<eos>"), words joined by one space,
        characters by nothing."""
        out = []
        for i in ids:
            if i == 0:
                break
            out.append(self.tokens[i])
        return (" " if self.level == "word" else "").join(out)

    def save(self, path: str | epath.PathLike) -> None:
        epath.Path(path).write_text(json.dumps({"level": self.level, "tokens": list(self.tokens)}, ensure_ascii=False),
                                     encoding="utf-8")

    @classmethod
    def load(cls, path: str | epath.PathLike) -> Vocabulary:
        d = json.loads(epath.Path(path).read_text(encoding="utf-8"))
        return cls(tokens=tuple(d["tokens"]), level=d["level"])

    @classmethod
    def from_lines(cls, lines: Iterable[str], level: str, max_size: int = 0) -> Vocabulary:
        """The vocabulary of the lines' tokens; max_size counts the two special
        tokens (0: no limit)."""
        if level not in LEVELS:
            raise ValueError(f"config.data.level must be one of {LEVELS}, got {level!r}")
        if max_size != 0 and max_size < len(SPECIALS):
            raise ValueError(f"a vocabulary's max_size must be 0 (no limit) or at least {len(SPECIALS)} (the special "
                             f"tokens {SPECIALS}), got {max_size}")
        counts = collections.Counter(t for line in lines for t in _tokenize(line, level))
        for s in SPECIALS:
            counts.pop(s, None)
        ranked = sorted(counts, key=lambda t: (-counts[t], t))
        if max_size:
            ranked = ranked[:max_size - len(SPECIALS)]
        return cls(tokens=SPECIALS + tuple(ranked), level=level)


@dataclasses.dataclass(frozen=True, eq=False)
class TextData:
    """`load_text`'s sequences, int32 [N, seq_len] and [M, seq_len], and the
    vocabulary of the training ones."""

    train: np.ndarray
    held_out: np.ndarray
    vocab: Vocabulary


def _sequences(vocab: Vocabulary, lines: Sequence[str], seq_len: int) -> np.ndarray:
    rows = []
    for line in lines:
        ids = vocab.encode(line)
        for start in range(0, len(ids), seq_len):
            chunk = ids[start:start + seq_len]
            rows.append(chunk + [0] * (seq_len - len(chunk)))
    return np.asarray(rows, np.int32).reshape(len(rows), seq_len)


def load_text(path: str | epath.PathLike, *, level: str = "word", seq_len: int = 20, max_vocab: int = 0,
              held_out_fraction: float = 0.1) -> TextData:
    """The file's sentences as token sequences, split and encoded as the module
    docstring says."""
    if level not in LEVELS:
        raise ValueError(f"config.data.level must be one of {LEVELS}, got {level!r}")
    if seq_len < 1:
        raise ValueError(f"config.data.seq_len must be at least 1, got {seq_len}")
    if max_vocab != 0 and max_vocab < len(SPECIALS):
        raise ValueError(f"config.data.max_vocab must be 0 (no limit) or at least {len(SPECIALS)} (the special tokens "
                         f"{SPECIALS}), got {max_vocab}")
    if not 0 <= held_out_fraction < 1:
        raise ValueError(f"config.data.held_out_fraction must be in [0, 1), got {held_out_fraction}")
    file = epath.Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"config.data.text_file {str(path)!r} is not a file (a text file, one sentence a line)")
    sentences = [s for s in (line.strip() for line in file.read_text(encoding="utf-8").splitlines()) if s]
    k = round(1 / held_out_fraction) if held_out_fraction else 0
    held = [s for i, s in enumerate(sentences) if k and (i + 1) % k == 0]
    train = [s for i, s in enumerate(sentences) if not (k and (i + 1) % k == 0)]
    if not train:
        raise ValueError(f"{path} (config.data.text_file) has no training sentences: {len(sentences)} non-empty "
                         f"lines, {len(held)} of them held out (config.data.held_out_fraction {held_out_fraction})")
    vocab = Vocabulary.from_lines(train, level, max_vocab)
    return TextData(train=_sequences(vocab, train, seq_len), held_out=_sequences(vocab, held, seq_len), vocab=vocab)


def decode_all(vocab: Vocabulary, tokens: np.ndarray) -> list[str]:
    """The sentences of int [N, T] token sequences (`Vocabulary.decode`)."""
    return [vocab.decode(row) for row in np.asarray(tokens).tolist()]
