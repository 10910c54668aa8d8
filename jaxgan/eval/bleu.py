"""BLEU of generated sentences against a reference set, as Texygen and the
SeqGAN literature compute it (the "BLEU-2/3/4" of their tables).

Each generated sentence (hypothesis) is scored with nltk's
`sentence_bleu(references, hypothesis, weights=(1/n,)*n,
smoothing_function=SmoothingFunction().method1)` against ALL the reference
sentences (usually the held-out text) at once, and the scores are averaged over
the hypotheses. There is no per-hypothesis reference: an n-gram matches if any
reference sentence holds it, clipped to the largest count any one reference
has. So a hypothesis that copies a reference of at least n tokens scores 1;
score against held-out text, not the training text, to keep copying from
looking good.

nltk rebuilds every reference's n-gram counts for every hypothesis: with
10,000 of each that is 10^8 Counters. This computes the same numbers (the same
floating-point operations per hypothesis) from tables built once: for each
n-gram order, the largest count of every n-gram over the references, and the
sorted reference lengths for the brevity penalty's closest reference length.
nltk's edge cases, kept (nltk.translate.bleu_score, 3.10):
- no unigram of the hypothesis in any reference (an empty hypothesis
  included): the score is 0, whatever the higher orders;
- an order with no match, or with no n-gram because the hypothesis is shorter
  than n: its precision is 0.1 / max(1, number of the hypothesis's n-grams)
  (method1's epsilon);
- the closest reference length is the one nearest the hypothesis's length,
  the shorter on a tie; the brevity penalty is 1 for a longer hypothesis,
  exp(1 - r / c) otherwise.
Tokens are any hashable values (words, characters, token ids).
"""

from __future__ import annotations

import bisect
import collections
import math
from collections.abc import Hashable, Sequence

EPSILON = 0.1  # SmoothingFunction().method1's default: the count given an order with no match


def _ngrams(tokens: tuple[Hashable, ...], n: int):
    return zip(*(tokens[i:] for i in range(n)))


def _reference_tables(references: Sequence[Sequence[Hashable]],
                      max_n: int) -> tuple[list[dict[tuple, int]], list[int]]:
    """(for n = 1..max_n, the largest count of each n-gram in any one
    reference; the sorted reference lengths)."""
    max_counts: list[dict[tuple, int]] = [{} for _ in range(max_n)]
    lengths = []
    for ref in references:
        ref = tuple(ref)
        lengths.append(len(ref))
        for n, table in enumerate(max_counts, start=1):
            for gram, count in collections.Counter(_ngrams(ref, n)).items():
                if count > table.get(gram, 0):
                    table[gram] = count
    return max_counts, sorted(lengths)


def _closest_length(sorted_lengths: list[int], hyp_len: int) -> int:
    # The nearest is the shortest reference not shorter than the hypothesis or
    # the longest shorter one; on a tie nltk takes the shorter.
    i = bisect.bisect_left(sorted_lengths, hyp_len)
    return min(sorted_lengths[max(i - 1, 0):i + 1], key=lambda r: (abs(r - hyp_len), r))


def _sentence_bleu(hypothesis: Sequence[Hashable], max_counts: list[dict[tuple, int]], sorted_lengths: list[int],
                   orders: Sequence[int]) -> list[float]:
    """nltk's smoothed sentence_bleu of one hypothesis, for each order in orders."""
    hyp = tuple(hypothesis)
    log_p = []
    for n in range(1, max(orders) + 1):
        table = max_counts[n - 1]
        matches = sum(min(count, table.get(gram, 0)) for gram, count in collections.Counter(_ngrams(hyp, n)).items())
        if n == 1 and matches == 0:
            return [0.0] * len(orders)
        total = max(1, len(hyp) - n + 1)  # nltk's denominator: the n-gram count, at least 1
        log_p.append(math.log(matches / total if matches else EPSILON / total))
    r = _closest_length(sorted_lengths, len(hyp))
    bp = 1.0 if len(hyp) > r else math.exp(1 - r / len(hyp))  # len(hyp) > 0: a unigram matched
    return [bp * math.exp(math.fsum(1 / n * lp for lp in log_p[:n])) for n in orders]


def _average_bleu(hypotheses: Sequence[Sequence[Hashable]], references: Sequence[Sequence[Hashable]],
                  orders: Sequence[int]) -> list[float]:
    if not orders or min(orders) < 1:
        raise ValueError(f"BLEU orders must be at least 1, got {tuple(orders)}")
    if not hypotheses or not references:
        raise ValueError(f"BLEU needs hypotheses and references, got {len(hypotheses)} and {len(references)}")
    max_counts, sorted_lengths = _reference_tables(references, max(orders))
    scores = [_sentence_bleu(h, max_counts, sorted_lengths, orders) for h in hypotheses]
    return [math.fsum(column) / len(scores) for column in zip(*scores)]


def bleu(hypotheses: Sequence[Sequence[Hashable]], references: Sequence[Sequence[Hashable]], max_n: int) -> float:
    """BLEU-max_n: each hypothesis's smoothed sentence BLEU against all the
    references, averaged over the hypotheses (module docstring)."""
    return _average_bleu(hypotheses, references, (max_n,))[0]


def bleu_scores(hypotheses: Sequence[Sequence[Hashable]], references: Sequence[Sequence[Hashable]],
                orders: Sequence[int] = (2, 3, 4)) -> dict[str, float]:
    """{'bleu2': ..., 'bleu3': ..., 'bleu4': ...} (`bleu` of each order),
    counting the n-grams once for all the orders."""
    return {f"bleu{n}": s for n, s in zip(orders, _average_bleu(hypotheses, references, tuple(orders)))}
