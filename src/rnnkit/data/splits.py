"""Seeded train/valid/test splits of (source, target) pairs, by source.

Every pair goes with its source, so a source that occurs twice (a catalogue message in two
contexts, a review snippet posted twice) is never in two splits.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

Pair = tuple[str, Any]
SPLIT_NAMES = ("train", "valid", "test")


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
