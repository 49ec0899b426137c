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

import random
from collections.abc import Sequence

import polib

Pair = tuple[str, str]
SPLIT_NAMES = ("train", "valid", "test")


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


def split_pairs(pairs: Sequence[Pair], valid_fraction: float = 0.1,
                test_fraction: float = 0.1, seed: int = 0) -> dict[str, list[Pair]]:
    """Split pairs into train/valid/test by message, with a fixed seed.

    The distinct sources (``msgid``) are sorted, shuffled with ``random.Random(seed)`` and cut
    into ``round(n * valid_fraction)`` valid, ``round(n * test_fraction)`` test and the rest
    train sources; every pair goes with its source, so no source is in two splits. Within a
    split the pairs keep their input order. The result depends only on the pairs and the seed.

    Args:
        pairs: ``(source, target)`` pairs, e.g. from :func:`parse_po`.
        valid_fraction: share of the sources for validation, ``>= 0``.
        test_fraction: share of the sources for testing, ``>= 0``.
        seed: the shuffle's seed.

    Returns:
        ``{"train": [...], "valid": [...], "test": [...]}``.

    Raises:
        ValueError: for no pairs, fractions that leave no training part, or a split that
            would leave no training pairs.

    >>> parts = split_pairs([(str(i), "x") for i in range(10)], 0.2, 0.1, seed=0)
    >>> [len(parts[name]) for name in ("train", "valid", "test")]
    [7, 2, 1]
    """
    if valid_fraction < 0 or test_fraction < 0 or valid_fraction + test_fraction >= 1:
        raise ValueError(f"split_pairs expected fractions >= 0 that leave a training part, "
                         f"got valid {valid_fraction} and test {test_fraction}")
    if not pairs:
        raise ValueError("split_pairs got no pairs to split")
    sources = sorted({source for source, _ in pairs})
    random.Random(seed).shuffle(sources)
    valid_count = round(len(sources) * valid_fraction)
    test_count = round(len(sources) * test_fraction)
    if valid_count + test_count >= len(sources):
        raise ValueError(f"split_pairs: {len(sources)} distinct sources with valid "
                         f"{valid_fraction} ({valid_count}) and test {test_fraction} "
                         f"({test_count}) leave no training pairs")
    split_of = {source: "valid" for source in sources[:valid_count]}
    split_of.update({source: "test"
                     for source in sources[valid_count:valid_count + test_count]})
    parts: dict[str, list[Pair]] = {name: [] for name in SPLIT_NAMES}
    for source, target in pairs:
        parts[split_of.get(source, "train")].append((source, target))
    return parts
