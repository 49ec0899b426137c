"""Edit-distance metrics for sequence outputs: word and phoneme error rates.

For grapheme-to-phoneme conversion a word may have several correct pronunciations (the
CMU dictionary lists alternatives), so each hypothesis is scored against the closest of
its references:

- word error rate: the fraction of words whose hypothesis equals none of the references;
- phoneme error rate: the summed edit distance to the closest reference (the one with the
  fewest edits; the shorter on a tie) over the summed lengths of those references.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

Tokens = Sequence[Hashable]


def edit_distance(hypothesis: Tokens, reference: Tokens) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions.

    >>> edit_distance("kitten", "sitting")
    3
    >>> edit_distance(["K", "AE1", "T"], ["K", "AE1", "T", "S"])
    1
    """
    previous = list(range(len(reference) + 1))
    for i, token in enumerate(hypothesis, start=1):
        current = [i]
        for j, wanted in enumerate(reference, start=1):
            current.append(min(previous[j] + 1,  # delete token
                               current[j - 1] + 1,  # insert wanted
                               previous[j - 1] + (token != wanted)))  # substitute or keep
        previous = current
    return previous[-1]


def closest_reference(hypothesis: Tokens, references: Sequence[Tokens]) -> tuple[int, int]:
    """(edits, reference length) of the closest reference; the shorter one on a tie."""
    if not references:
        raise ValueError("closest_reference needs at least one reference")
    return min((edit_distance(hypothesis, reference), len(reference))
               for reference in references)


def error_rates(hypotheses: Sequence[Tokens],
                references: Sequence[Sequence[Tokens]]) -> dict[str, float]:
    """``{"word_error_rate": ..., "phoneme_error_rate": ...}`` over aligned lists.

    >>> error_rates([["K", "AE1", "T"], ["D", "AO1"]],
    ...             [[["K", "AE1", "T"]], [["D", "AO1", "G"], ["D", "AA1", "G"]]])
    {'word_error_rate': 0.5, 'phoneme_error_rate': 0.16666666666666666}
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"error_rates got {len(hypotheses)} hypotheses and "
                         f"{len(references)} reference lists")
    if not hypotheses:
        raise ValueError("error_rates needs at least one hypothesis")
    wrong_words, edits, length = 0, 0, 0
    for hypothesis, options in zip(hypotheses, references, strict=True):
        word_edits, reference_length = closest_reference(hypothesis, options)
        wrong_words += word_edits > 0
        edits += word_edits
        length += reference_length
    return {"word_error_rate": wrong_words / len(hypotheses),
            "phoneme_error_rate": edits / max(length, 1)}
