"""Figures of classification and tagging runs, from scikit-learn and seqeval.

- :func:`classification_figures`: accuracy and macro-F1 (the unweighted mean of each
  class's F1, so a rare class counts as much as a common one) of class predictions.
- :func:`tagging_figures`: token accuracy over the real tokens (padding never enters:
  the inputs are per-sentence lists), and for BIO tags the entity-level precision, recall
  and F1 of seqeval (an entity counts only when its type and both ends are right).
- :func:`confusion_counts`: the confusion matrix, rows true classes and columns predicted.
"""

from __future__ import annotations

from collections.abc import Sequence

# At import, not inside the functions: importing sklearn.metrics draws from Python's
# generator, and a first import in the middle of a run would shift the draws of a
# resumed run against a straight one.
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

__all__ = ["classification_figures", "confusion_counts", "is_bio", "tagging_figures"]


def classification_figures(true: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    """``accuracy`` and ``macro_f1`` of class ids (classes absent from both count for
    nothing).

    >>> classification_figures([0, 0, 1, 1], [0, 1, 1, 1])
    {'accuracy': 0.75, 'macro_f1': 0.7333333333333334}
    """

    _check_same_length(true, predicted, "classes")
    return {"accuracy": float(accuracy_score(true, predicted)),
            "macro_f1": float(f1_score(true, predicted, average="macro", zero_division=0))}


def confusion_counts(true: Sequence[int], predicted: Sequence[int],
                     num_classes: int) -> list[list[int]]:
    """``counts[i][j]``: examples of class ``i`` predicted as ``j``.

    >>> confusion_counts([0, 0, 1], [0, 1, 1], 2)
    [[1, 1], [0, 1]]
    """

    _check_same_length(true, predicted, "classes")
    return confusion_matrix(true, predicted, labels=list(range(num_classes))).tolist()


def is_bio(tags: Sequence[str]) -> bool:
    """Whether every tag is ``O`` or starts with ``B-`` or ``I-`` (entity tags)."""
    return any(tag != "O" for tag in tags) and all(
        tag == "O" or tag[:2] in ("B-", "I-") for tag in tags)


def tagging_figures(true: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
                    entities: bool) -> dict[str, float]:
    """``token_accuracy`` of tag sequences, and with ``entities`` (BIO tags) seqeval's
    ``entity_precision``, ``entity_recall`` and ``entity_f1`` (CoNLL scoring).

    >>> figures = tagging_figures([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]], True)
    >>> round(figures["token_accuracy"], 3), figures["entity_f1"]
    (0.667, 0.0)
    """
    _check_same_length(true, predicted, "sentences")
    right = total = 0
    for number, (gold, guess) in enumerate(zip(true, predicted, strict=True), 1):
        if len(gold) != len(guess):
            raise ValueError(f"sentence {number}: {len(gold)} true tags but {len(guess)} "
                             "predicted")
        right += sum(a == b for a, b in zip(gold, guess, strict=True))
        total += len(gold)
    if total == 0:
        raise ValueError("no tokens to score")
    figures = {"token_accuracy": right / total}
    if entities:
        from seqeval.metrics import f1_score, precision_score, recall_score

        gold_lists, guess_lists = [list(s) for s in true], [list(s) for s in predicted]
        figures |= {
            "entity_precision": float(precision_score(gold_lists, guess_lists,
                                                      zero_division=0)),
            "entity_recall": float(recall_score(gold_lists, guess_lists, zero_division=0)),
            "entity_f1": float(f1_score(gold_lists, guess_lists, zero_division=0))}
    return figures


def _check_same_length(true: Sequence, predicted: Sequence, what: str) -> None:
    if len(true) != len(predicted):
        raise ValueError(f"{len(true)} true {what} but {len(predicted)} predicted")
    if not true:
        raise ValueError(f"no {what} to score")
