"""The CMU Pronouncing Dictionary as grapheme-to-phoneme pairs, split by word.

Each line of ``cmudict.dict`` is ``word PH ON EMES``, with ``word(2)``, ``word(3)`` for
alternative pronunciations and an optional ``# comment``. A word's pronunciations stay
together, and a word goes to one split only, so no test word was seen in training under
another pronunciation.
"""

from __future__ import annotations

import re

from rnnkit.data.splits import shuffled_parts

Pronunciations = dict[str, list[tuple[str, ...]]]
ALTERNATIVE = re.compile(r"^(?P<word>.+)\((?P<index>\d+)\)$")


def parse_cmudict(text: str) -> Pronunciations:
    """``{word: [pronunciation, ...]}`` in file order; phonemes keep their stress digits.

    >>> parse_cmudict("a AH0\\na(2) EY1\\naalen AE1 L AH0 N # place, german\\n")
    {'a': [('AH0',), ('EY1',)], 'aalen': [('AE1', 'L', 'AH0', 'N')]}
    """
    entries: Pronunciations = {}
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].split()
        if not content:
            continue
        if len(content) < 2:
            raise ValueError(f"cmudict line {number}: expected a word and its phonemes, "
                             f"got {line.strip()!r}")
        word, phonemes = content[0], tuple(content[1:])
        alternative = ALTERNATIVE.match(word)
        if alternative:
            word = alternative["word"]
        entries.setdefault(word, []).append(phonemes)
    return entries


def split_words(entries: Pronunciations, *, valid_fraction: float, test_fraction: float,
                seed: int) -> dict[str, Pronunciations]:
    """Whole words drawn (seeded, from the sorted word list) into train/valid/test.

    >>> parts = split_words({w: [("X",)] for w in "abcdefghij"}, valid_fraction=0.2,
    ...                     test_fraction=0.1, seed=0)
    >>> [len(parts[name]) for name in ("train", "valid", "test")]
    [7, 2, 1]
    """
    if valid_fraction < 0 or test_fraction < 0 or valid_fraction + test_fraction >= 1:
        raise ValueError(f"split_words expected fractions >= 0 that leave a training part, "
                         f"got valid {valid_fraction} and test {test_fraction}")
    parts = shuffled_parts(sorted(entries), valid_fraction, test_fraction, seed)
    return {name: {word: entries[word] for word in sorted(parts[name])}
            for name in ("valid", "test", "train")}
