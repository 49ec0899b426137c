"""A gettext ``.po`` translation catalogue as (source, translation) pairs, split by message.

The catalogue is the ``django_de`` data set (Django's twelve German ``django.po`` files,
joined): each entry's ``msgid`` is the English message and its ``msgstr`` the German
translation. The text is parsed
with :mod:`polib`; nothing of the package it came from is imported or run.

Kept: entries with a non-empty translation. Skipped: fuzzy (unreviewed) and obsolete
entries, plural entries (``msgid_plural``), the header, and entries whose ``msgid`` or
``msgstr`` spans more than one line. Placeholders such as ``%(name)s`` or ``{value}`` are kept
as they are. A ``msgid`` that occurs more than once (under different ``msgctxt`` contexts)
keeps its first translation only, so every pair has its own English side.
"""

from __future__ import annotations

import polib

from rnnkit.data.splits import SPLIT_NAMES, split_pairs

Pair = tuple[str, str]
__all__ = ["SPLIT_NAMES", "parse_po", "split_pairs"]  # the split lives in data/splits.py


def parse_po(text: str) -> list[Pair]:
    """``(msgid, msgstr)`` pairs of a ``.po`` text, in file order (see the module docstring).

    Args:
        text: the contents of a ``.po`` file (not a path).

    Returns:
        The pairs, one per distinct ``msgid``, first occurrence first.

    Raises:
        ValueError: if the text is not a readable ``.po`` catalogue, or yields no pairs.

    >>> parse_po('msgid "Save"\\nmsgstr "Sichern"\\n\\nmsgid "%(n)s left"\\nmsgstr ""\\n')
    [('Save', 'Sichern')]
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_po expects the .po text as str, got {type(text).__name__}")
    # A catalogue with an entry has at least two lines (msgid, msgstr). Without this check a
    # one-line string naming an existing file would be read as that file by polib.
    entries: list[polib.POEntry] = []
    if "\n" in text:
        try:
            entries = list(polib.pofile(text))
        except (OSError, ValueError) as error:
            raise ValueError(f"the .po text is not a readable gettext catalogue: {error}") \
                from error
    pairs: list[Pair] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.obsolete or entry.fuzzy or entry.msgid_plural or not entry.msgid:
            continue
        source, target = entry.msgid, entry.msgstr
        if not target.strip() or _multiline(source) or _multiline(target):
            continue
        if source in seen:
            continue
        seen.add(source)
        pairs.append((source, target))
    if not pairs:
        raise ValueError(f"the .po text ({len(text)} characters, {len(entries)} entries) yields "
                         "no translation pairs: no entry has a non-empty, single-line msgstr "
                         "that is neither fuzzy, obsolete nor plural")
    return pairs


def _multiline(message: str) -> bool:
    return "\n" in message or "\r" in message
