"""Metrics for sequence outputs: word and phoneme error rates, corpus BLEU and chrF.

For grapheme-to-phoneme conversion a word may have several correct pronunciations (the
CMU dictionary lists alternatives), so each hypothesis is scored against the closest of
its references:

- word error rate: the fraction of words whose hypothesis equals none of the references;
- phoneme error rate: the summed edit distance to the closest reference (the one with the
  fewest edits; the shorter on a tie) over the summed lengths of those references.

For translation, :func:`corpus_bleu` gives corpus-level BLEU and chrF from :mod:`sacrebleu`
(one reference per hypothesis).
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


def corpus_bleu(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus-level ``{"bleu": ..., "chrf": ...}`` (0 to 100) with :mod:`sacrebleu`'s defaults.

    BLEU: n-gram orders 1 to 4, the ``13a`` tokenizer, case-sensitive, ``exp`` smoothing;
    n-gram counts and lengths are summed over the corpus before the precisions and the brevity
    penalty are taken. chrF: character 1- to 6-grams, whitespace removed, beta 2.

    Args:
        hypotheses: one detokenized output sentence per item.
        references: the reference sentence of each item, aligned with ``hypotheses``.

    Raises:
        ValueError: if the lists differ in length or are empty.
        TypeError: if an item is not a ``str``.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"corpus_bleu got {len(hypotheses)} hypotheses and "
                         f"{len(references)} references; they must be aligned one to one")
    if not hypotheses:
        raise ValueError("corpus_bleu got 0 hypotheses and 0 references; it needs at least "
                         "one pair")
    for name, texts in (("hypotheses", hypotheses), ("references", references)):
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"corpus_bleu: {name}[{index}] is a {type(text).__name__}, "
                                "not a str (pass detokenized sentences)")
    from sacrebleu.metrics import BLEU, CHRF

    reference_streams = [list(references)]
    bleu = BLEU(tokenize="13a").corpus_score(list(hypotheses), reference_streams)
    chrf = CHRF().corpus_score(list(hypotheses), reference_streams)
    return {"bleu": float(bleu.score), "chrf": float(chrf.score)}
