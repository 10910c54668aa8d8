"""The sequence GANs' text data (jaxgan.data.text: vocabulary, encoding,
chunking, the held-out split, the config errors) and their BLEU
(jaxgan.eval.bleu), checked against nltk's sentence_bleu, the reference
implementation Texygen calls."""

import json
import random

import numpy as np
import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from jaxgan.data import text
from jaxgan.data.text import Vocabulary, decode_all, load_text
from jaxgan.eval.bleu import bleu, bleu_scores


def write_lines(tmp_path, lines, name="corpus.txt"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


# ------------------------------------------------------------------ vocabulary


def test_vocabulary_specials_then_descending_frequency_ties_lexicographic():
    lines = ["b a c a", "c b a", "d <unk>", "e"]
    v = Vocabulary.from_lines(lines, "word")
    # a 3, then b and c 2 (tie: lexicographic), then d and e 1; the file's literal <unk> is the special token.
    assert v.tokens == ("<eos>", "<unk>", "a", "b", "c", "d", "e") and v.size == 7 and v.level == "word"
    assert Vocabulary.from_lines(reversed(lines), "word") == v  # the order of the lines does not matter
    capped = Vocabulary.from_lines(lines, "word", max_size=4)  # max_size counts the two specials
    assert capped.tokens == ("<eos>", "<unk>", "a", "b")
    assert capped.encode("d a zz <unk> b") == [1, 2, 1, 1, 3]
    chars = Vocabulary.from_lines(["abca", "b a"], "char")
    assert chars.tokens == ("<eos>", "<unk>", "a", "b", " ", "c")  # a 3, b 2, then " " < "c" at 1


def test_encode_decode_round_trip_word_and_char():
    words = Vocabulary.from_lines(["the cat sat", "the dog"], "word")
    ids = words.encode("the  dog\tsat\n")
    assert ids == [words.tokens.index(w) for w in ("the", "dog", "sat")] and 0 not in ids
    assert words.decode(ids) == "the dog sat"  # words joined by one space
    assert words.decode(ids + [0] + ids) == "the dog sat"  # decoding stops at the first <eos>
    assert words.decode(np.array(ids + [0, 0], np.int32)) == "the dog sat"
    assert words.decode(words.encode("a cat")) == "<unk> cat"
    chars = Vocabulary.from_lines(["ab ba", "c"], "char")
    assert chars.encode("ab c\n") == [chars.tokens.index(c) for c in "ab c"]  # the space is a token, the newline not
    assert chars.decode(chars.encode("ab c\n") + [0, 2]) == "ab c"
    assert decode_all(chars, np.array([chars.encode("abc") + [0], chars.encode("c b a")[:4]])) == ["abc", "c b "]


def test_vocabulary_save_load_round_trip(tmp_path):
    v = Vocabulary.from_lines(["héllo wörld", "wörld"], "word")
    v.save(tmp_path / "vocab.json")
    assert json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8")) == {
        "level": "word", "tokens": ["<eos>", "<unk>", "wörld", "héllo"]}
    assert Vocabulary.load(str(tmp_path / "vocab.json")) == v
    c = Vocabulary.from_lines(["x yz"], "char")
    c.save(str(tmp_path / "chars.json"))
    loaded = Vocabulary.load(tmp_path / "chars.json")
    assert loaded == c and loaded.level == "char" and loaded.decode(loaded.encode("zy x")) == "zy x"


# ------------------------------------------------------------------ load_text


def test_load_text_chunks_long_sentences_and_pads_with_eos(tmp_path):
    path = write_lines(tmp_path, ["a b c d e f g", "", "  b c a  ", "a b"])
    data = load_text(path, seq_len=3, held_out_fraction=0)
    v = data.vocab
    assert v.tokens == ("<eos>", "<unk>", "a", "b", "c", "d", "e", "f", "g")
    assert data.train.dtype == np.int32 and data.held_out.shape == (0, 3) and data.held_out.dtype == np.int32
    # 7 tokens: two full chunks and a padded one; exactly seq_len: no <eos>; shorter: padded; the blank line skipped.
    np.testing.assert_array_equal(data.train, [[2, 3, 4], [5, 6, 7], [8, 0, 0], [3, 4, 2], [2, 3, 0]])
    assert decode_all(v, data.train) == ["a b c", "d e f", "g", "b c a", "a b"]
    chars = load_text(path, level="char", seq_len=4, held_out_fraction=0)
    assert decode_all(chars.vocab, chars.train) == ["a b ", "c d ", "e f ", "g", "b c ", "a", "a b"]


def test_load_text_holds_out_every_kth_sentence_and_builds_the_vocabulary_from_training(tmp_path):
    lines = [f"w{i} common" for i in range(10)]
    path = write_lines(tmp_path, lines[:5] + ["", "   "] + lines[5:])  # blank lines are not sentences
    data = load_text(path, seq_len=4, held_out_fraction=0.25)  # k = 4: the 4th and 8th sentences
    held = [lines[3], lines[7]]
    assert decode_all(data.vocab, data.held_out) == ["<unk> common"] * 2  # their own words are not in the vocabulary
    assert decode_all(data.vocab, data.train) == [line for line in lines if line not in held]
    assert data.vocab.tokens[2] == "common" and not {"w3", "w7"} & set(data.vocab.tokens)
    assert len(data.vocab.tokens) == 2 + 1 + 8
    # Both parts span the file (its start and its end are not the split).
    assert load_text(path, seq_len=4, held_out_fraction=0.1).held_out.shape == (1, 4)  # k = 10: the 10th
    again = load_text(path, seq_len=4, held_out_fraction=0.25)
    assert again.vocab == data.vocab and np.array_equal(again.train, data.train)  # deterministic
    capped = load_text(path, seq_len=4, held_out_fraction=0.25, max_vocab=3)
    assert capped.vocab.tokens == ("<eos>", "<unk>", "common")
    assert decode_all(capped.vocab, capped.train)[0] == "<unk> common"


def test_load_text_errors_name_the_config_field(tmp_path):
    path = write_lines(tmp_path, ["a b", "c"])
    with pytest.raises(FileNotFoundError, match=r"config\.data\.text_file.*missing\.txt"):
        load_text(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match=r"config\.data\.level.*'token'"):
        load_text(path, level="token")
    with pytest.raises(ValueError, match=r"config\.data\.seq_len"):
        load_text(path, seq_len=0)
    with pytest.raises(ValueError, match=r"config\.data\.max_vocab"):
        load_text(path, max_vocab=1)
    with pytest.raises(ValueError, match=r"config\.data\.held_out_fraction"):
        load_text(path, held_out_fraction=1.0)
    empty = write_lines(tmp_path, ["", "  "], name="blank.txt")
    with pytest.raises(ValueError, match=r"blank\.txt.*no training sentences"):
        load_text(empty)
    with pytest.raises(ValueError, match=r"corpus\.txt.*no training sentences"):
        load_text(path, held_out_fraction=0.9)  # k = 1: every sentence held out
    with pytest.raises(ValueError, match=r"config\.data\.level"):
        Vocabulary(tokens=("<eos>", "<unk>"), level="byte")
    with pytest.raises(ValueError, match="starts with"):
        Vocabulary(tokens=("<unk>", "<eos>", "a"), level="word")
    assert text.SPECIALS == ("<eos>", "<unk>")


# ------------------------------------------------------------------ BLEU


def nltk_bleu(hypotheses, references, n):
    smooth = SmoothingFunction().method1
    scores = [sentence_bleu(references, h, weights=(1 / n,) * n, smoothing_function=smooth) for h in hypotheses]
    return sum(scores) / len(scores)


@pytest.mark.parametrize("seed", range(4))
def test_bleu_equals_nltk_sentence_bleu_averaged(seed):
    rng = random.Random(seed)
    alphabet = list(range(5)) if seed % 2 else list("abcdef")  # few tokens: many repeated n-grams
    sample = lambda lo, hi: [rng.choice(alphabet) for _ in range(rng.randint(lo, hi))]
    references = [sample(1, 9) for _ in range(12)]
    hypotheses = [sample(1, 10) for _ in range(15)]
    hypotheses += [
        sample(2, 3),  # shorter than 4: no 4-grams at all
        ["zz", "yy", "zz"],  # no match: 0
        [],  # empty: 0
        references[0][:1] + ["zz"] * 6,  # one unigram match, no higher order
        references[1] * 3,  # repeats: the counts are clipped
    ]
    for n in (1, 2, 3, 4, 5):
        assert bleu(hypotheses, references, n) == pytest.approx(nltk_bleu(hypotheses, references, n), rel=1e-9)
    scores = bleu_scores(hypotheses, references)
    assert list(scores) == ["bleu2", "bleu3", "bleu4"]
    for n in (2, 3, 4):
        assert scores[f"bleu{n}"] == pytest.approx(nltk_bleu(hypotheses, references, n), rel=1e-9)
    assert bleu([["zz", "yy", "zz"]], references, 4) == 0.0


def test_bleu_brevity_penalty_closest_reference_length_ties_take_the_shorter():
    references = [list("abcdef"), list("ab")]  # lengths 6 and 2, both 2 away from 4
    for hyp in (list("abcd"), list("abc"), list("a"), list("abcdefgh")):
        for n in (1, 2, 4):
            assert bleu([hyp], references, n) == pytest.approx(nltk_bleu([hyp], references, n), rel=1e-9)
    assert bleu([list("abcd")], references, 1) == 1.0  # 4 > 2: no penalty (the tie took the shorter)


def test_bleu_of_a_reference_is_one_and_bad_arguments_raise():
    references = [["the", "cat", "sat", "on", "the", "mat"], ["a", "dog", "ran"], ["the", "dog", "sat", "down"]]
    assert bleu([references[0]], references, 4) == 1.0
    assert bleu_scores([references[2], references[0]], references) == {"bleu2": 1.0, "bleu3": 1.0, "bleu4": 1.0}
    with pytest.raises(ValueError, match="hypotheses and references"):
        bleu([], references, 4)
    with pytest.raises(ValueError, match="at least 1"):
        bleu([references[0]], references, 0)
