"""Seeded train/valid/test splits: :func:`shuffled_parts`, the cut every split by item
shares (pairs by source, words, sentences), and :func:`split_pairs`.

For pairs, every pair goes with its source, so a source that occurs twice (a catalogue
message in two contexts, a review snippet posted twice) is never in two splits.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, TypeVar

Pair = tuple[str, Any]
SPLIT_NAMES = ("train", "valid", "test")
Item = TypeVar("Item")


def shuffled_parts(items: Sequence[Item], valid_fraction: float, test_fraction: float,
                   seed: int, *, first: str = "valid") -> dict[str, list[Item]]:
    """``items`` shuffled with ``random.Random(seed)`` and cut: ``round(n * valid_fraction)``
    for validation and ``round(n * test_fraction)`` for test, taken from the front (the part
    named ``first`` first), and the rest for training. Each part is in shuffled order; the
    same items and seed give the same parts on every machine.

    >>> parts = shuffled_parts(list("abcdefghij"), 0.2, 0.1, seed=0)
    >>> [len(parts[name]) for name in SPLIT_NAMES]
    [7, 2, 1]
    """
    if first not in ("valid", "test"):
        raise ValueError(f"shuffled_parts expected first 'valid' or 'test', got {first!r}")
    order = list(items)
    random.Random(seed).shuffle(order)
    counts = {"valid": round(len(order) * valid_fraction),
              "test": round(len(order) * test_fraction)}
    second = "test" if first == "valid" else "valid"
    cut = counts[first] + counts[second]
    return {first: order[:counts[first]], second: order[counts[first]:cut],
            "train": order[cut:]}


def split_pairs(pairs: Sequence[Pair], valid_fraction: float = 0.1,
                test_fraction: float = 0.1, seed: int = 0) -> dict[str, list[Pair]]:
    """Split pairs into train/valid/test by their first element (a message, a text), with a
    fixed seed.

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
    chosen = shuffled_parts(sources, valid_fraction, test_fraction, seed)
    if not chosen["train"]:
        raise ValueError(f"split_pairs: {len(sources)} distinct sources with valid "
                         f"{valid_fraction} ({len(chosen['valid'])}) and test {test_fraction} "
                         f"({len(chosen['test'])}) leave no training pairs")
    split_of = {source: name for name in ("valid", "test") for source in chosen[name]}
    parts: dict[str, list[Pair]] = {name: [] for name in SPLIT_NAMES}
    for source, target in pairs:
        parts[split_of.get(source, "train")].append((source, target))
    return parts
