"""Classification and tagging figures against values worked out by hand."""

from __future__ import annotations

import pytest

from rnnkit.metrics.labels import (
    classification_figures,
    confusion_counts,
    is_bio,
    tagging_figures,
)


def test_accuracy_and_macro_f1_by_hand() -> None:
    true = [0, 0, 0, 1, 1, 2]
    predicted = [0, 0, 1, 1, 2, 2]
    # class 0: P 2/2, R 2/3 -> F1 0.8; class 1: P 1/2, R 1/2 -> 0.5; class 2: P 1/2, R 1 -> 2/3
    figures = classification_figures(true, predicted)
    assert figures["accuracy"] == pytest.approx(4 / 6)
    assert figures["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert confusion_counts(true, predicted, 4) == [[2, 1, 0, 0], [0, 1, 1, 0],
                                                     [0, 0, 1, 0], [0, 0, 0, 0]]


def test_entity_f1_counts_an_entity_only_when_its_type_and_both_ends_are_right() -> None:
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG"]]
    predicted = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-ORG", "O"]]
    # true entities: PER(0-1), LOC(3), ORG(1-2); predicted: PER(0-1), ORG(3), ORG(1)
    # right: PER only -> precision 1/3, recall 1/3, F1 1/3
    figures = tagging_figures(true, predicted, entities=True)
    assert figures["token_accuracy"] == pytest.approx(5 / 7)
    assert figures["entity_precision"] == pytest.approx(1 / 3)
    assert figures["entity_recall"] == pytest.approx(1 / 3)
    assert figures["entity_f1"] == pytest.approx(1 / 3)
    assert set(tagging_figures(true, predicted, entities=False)) == {"token_accuracy"}


def test_bio_detection_and_mismatched_inputs() -> None:
    assert is_bio(["O", "B-PER", "I-PER"]) and not is_bio(["NN", "VB"]) and not is_bio(["O"])
    with pytest.raises(ValueError, match="sentence 2: 2 true tags but 1 predicted"):
        tagging_figures([["A"], ["A", "B"]], [["A"], ["A"]], entities=False)
    with pytest.raises(ValueError, match="3 true classes but 2 predicted"):
        classification_figures([0, 1, 1], [0, 1])
