"""Edit distance, word and phoneme error rates, BLEU and chrF: hand-computed cases."""

from __future__ import annotations

import math

import pytest

from rnnkit.metrics.sequences import (
    closest_reference,
    corpus_bleu,
    edit_distance,
    error_rates,
)


@pytest.mark.parametrize(("hypothesis", "reference", "distance"), [
    ("", "", 0), ("abc", "", 3), ("", "abc", 3), ("abc", "abc", 0),
    ("abc", "abd", 1),  # one substitution
    ("abc", "ab", 1),  # one deletion
    ("ab", "acb", 1),  # one insertion
    ("kitten", "sitting", 3),  # k->s, e->i, +g
    ("flaw", "lawn", 2),  # -f, +n
    (["HH", "AH0", "L", "OW1"], ["HH", "EH0", "L", "OW1"], 1),
])
def test_edit_distance(hypothesis, reference, distance: int) -> None:
    assert edit_distance(hypothesis, reference) == distance
    assert edit_distance(reference, hypothesis) == distance  # symmetric


def test_closest_reference_prefers_fewer_edits_then_the_shorter() -> None:
    assert closest_reference("ab", ["abcd", "xb"]) == (1, 2)
    assert closest_reference("ab", ["a", "abc"]) == (1, 1)
    with pytest.raises(ValueError, match="at least one reference"):
        closest_reference("ab", [])


def test_error_rates_by_hand() -> None:
    hypotheses = [["R", "EH1", "D"], ["R", "IY1", "D"], ["T", "UW1"], ["K", "AE1", "T", "S"]]
    references = [
        [["R", "EH1", "D"]],  # right
        [["R", "EH1", "D"], ["R", "IY1", "D"]],  # right: the second pronunciation
        [["T", "UW1", "Z"]],  # 1 edit of 3
        [["K", "AE1", "T"]],  # 1 edit of 3
    ]
    rates = error_rates(hypotheses, references)
    assert rates["word_error_rate"] == 2 / 4
    # Edits 0 + 0 + 1 + 1 over reference lengths 3 + 3 + 3 + 3.
    assert rates["phoneme_error_rate"] == 2 / 12


def test_error_rates_check_their_inputs() -> None:
    with pytest.raises(ValueError, match="2 hypotheses and 1 reference lists"):
        error_rates([["A"], ["B"]], [[["A"]]])
    with pytest.raises(ValueError, match="at least one hypothesis"):
        error_rates([], [])


def test_corpus_bleu_of_a_perfect_match_is_100() -> None:
    sentences = ["Bitte eine gültige E-Mail-Adresse eingeben.", "Sichern und weiter bearbeiten"]
    scores = corpus_bleu(sentences, list(sentences))
    assert scores == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0)}


def test_corpus_bleu_by_hand() -> None:
    # Lowercase words without punctuation: the 13a tokenizer only splits on spaces here.
    hypotheses = ["the cat sat on the mat", "hello world"]
    references = ["the cat sat on the red mat", "hello world"]
    # Sentence 1, 6 hypothesis words against 7 reference words:
    #   1-grams 6/6 (both "the" clipped by the reference's two), 2-grams 4/5 ("the mat" misses),
    #   3-grams 3/4 ("on the mat" misses), 4-grams 2/3 ("sat on the mat" misses).
    # Sentence 2: 1-grams 2/2, 2-grams 1/1, no 3- or 4-grams.
    # Corpus level sums the counts: 8/8, 5/6, 3/4, 2/3; lengths 8 against 9.
    precisions = [8 / 8, 5 / 6, 3 / 4, 2 / 3]
    brevity_penalty = math.exp(1 - 9 / 8)
    bleu = 100 * brevity_penalty * math.exp(sum(math.log(p) for p in precisions) / 4)
    assert bleu == pytest.approx(70.90, abs=0.01)
    scores = corpus_bleu(hypotheses, references)
    assert scores["bleu"] == pytest.approx(bleu, rel=1e-9)
    assert 0 < scores["chrf"] < 100


def test_corpus_chrf_by_hand() -> None:
    # chrF (orders 1-6, beta 2): every hypothesis n-gram of "abcdef" is in "abcdefg", so each
    # precision is 1; the recalls are (7 - n) / (8 - n) for n = 1..6. Precision and recall are
    # averaged over the orders, then combined as F_beta = (1 + b^2) P R / (b^2 P + R).
    recall = sum((7 - n) / (8 - n) for n in range(1, 7)) / 6
    precision = 1.0
    chrf = 100 * 5 * precision * recall / (4 * precision + recall)
    assert chrf == pytest.approx(77.57, abs=0.01)
    assert corpus_bleu(["abcdef"], ["abcdefg"])["chrf"] == pytest.approx(chrf, rel=1e-9)


def test_corpus_bleu_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="2 hypotheses and 1 references"):
        corpus_bleu(["a b", "c d"], ["a b"])
    with pytest.raises(ValueError, match="0 hypotheses and 0 references"):
        corpus_bleu([], [])
    with pytest.raises(TypeError, match=r"hypotheses\[1\] is a list"):
        corpus_bleu(["a", ["b"]], ["a", "b"])
