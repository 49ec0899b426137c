"""The most-frequent-tag baseline of sequence tagging, and accuracy on known and unknown words.

Each word seen in training gets the tag it had most often there; a word never seen gets the
most frequent tag of the whole training part. On English part-of-speech data this scores
about 90-93% of tokens: the figure a recurrent tagger has to beat, and most of what it
gains is on the words the baseline has never seen, which is why the accuracy is also
reported on known and unknown words apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MostFrequentTag", "known_unknown_accuracy"]


@dataclass
class MostFrequentTag:
    """Each training word's most frequent tag (ties: the tag seen first), else ``default``.

    Example:
        >>> baseline = MostFrequentTag.fit([[("the", "DT"), ("run", "NN")],
        ...                                 [("run", "VB"), ("run", "VB"), ("the", "DT")]])
        >>> baseline.predict(["the", "run", "walk"]), baseline.default
        (['DT', 'VB', 'DT'], 'DT')
    """

    lexicon: dict[str, str]
    default: str

    @classmethod
    def fit(cls, sentences: Iterable[Sequence[tuple[str, str]]]) -> MostFrequentTag:
        """Count the ``(word, tag)`` pairs of the training sentences (words as given: a
        caller that lowercases does so first)."""
        by_word: dict[str, Counter[str]] = {}
        overall: Counter[str] = Counter()
        for sentence in sentences:
            for word, tag in sentence:
                by_word.setdefault(word, Counter())[tag] += 1
                overall[tag] += 1
        if not overall:
            raise ValueError("MostFrequentTag.fit got no tagged tokens")
        lexicon = {word: counts.most_common(1)[0][0] for word, counts in by_word.items()}
        return cls(lexicon, overall.most_common(1)[0][0])

    def knows(self, word: str) -> bool:
        """Whether ``word`` was seen in training."""
        return word in self.lexicon

    def predict(self, words: Sequence[str]) -> list[str]:
        """One tag per word."""
        return [self.lexicon.get(word, self.default) for word in words]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, for a checkpoint's vocabulary file."""
        return {"lexicon": self.lexicon, "default": self.default}

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> MostFrequentTag:
        """Inverse of :meth:`to_dict`."""
        return cls(dict(document["lexicon"]), document["default"])


def known_unknown_accuracy(true: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
                           known: Sequence[Sequence[bool]]) -> dict[str, float | int | None]:
    """Token accuracy on the tokens ``known`` marks and on the others, and how many there
    are of each (an accuracy is ``None`` when there are no such tokens).

    >>> known_unknown_accuracy([["DT", "NN"]], [["DT", "VB"]], [[True, False]])
    {'known_accuracy': 1.0, 'unknown_accuracy': 0.0, 'known_tokens': 1, 'unknown_tokens': 1}
    """
    right = {True: 0, False: 0}
    total = {True: 0, False: 0}
    for gold, guess, seen in zip(true, predicted, known, strict=True):
        for a, b, is_known in zip(gold, guess, seen, strict=True):
            right[is_known] += a == b
            total[is_known] += 1
    return {"known_accuracy": right[True] / total[True] if total[True] else None,
            "unknown_accuracy": right[False] / total[False] if total[False] else None,
            "known_tokens": total[True], "unknown_tokens": total[False]}
