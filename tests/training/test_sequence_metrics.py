"""Edit distance, word and phoneme error rates against hand-computed cases."""

from __future__ import annotations

import pytest

from rnnkit.training.sequence_metrics import closest_reference, edit_distance, error_rates


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
