"""Reading the CMU dictionary and splitting it by word."""

from __future__ import annotations

import pytest

from rnnkit.data.cmudict import parse_cmudict, split_words

SAMPLE = """'bout B AW1 T
a AH0
a(2) EY1
aalen AE1 L AH0 N # place, german
read R EH1 D
read(2) R IY1 D

zoo Z UW1
"""


def test_alternatives_join_their_word_and_comments_are_dropped() -> None:
    entries = parse_cmudict(SAMPLE)
    assert entries["a"] == [("AH0",), ("EY1",)]
    assert entries["read"] == [("R", "EH1", "D"), ("R", "IY1", "D")]
    assert entries["aalen"] == [("AE1", "L", "AH0", "N")]
    assert list(entries) == ["'bout", "a", "aalen", "read", "zoo"]


def test_a_line_without_phonemes_names_its_number() -> None:
    with pytest.raises(ValueError, match="cmudict line 3: expected a word and its phonemes"):
        parse_cmudict("a AH0\nb B IY1\nc\n")


def test_split_keeps_words_whole_and_is_seeded() -> None:
    entries = parse_cmudict(SAMPLE) | {f"w{i}": [("W",), ("V",)] for i in range(95)}
    parts = split_words(entries, valid_fraction=0.1, test_fraction=0.1, seed=3)
    assert [len(parts[name]) for name in ("train", "valid", "test")] == [80, 10, 10]
    words = [set(parts[name]) for name in ("train", "valid", "test")]
    assert not (words[0] & words[1] or words[0] & words[2] or words[1] & words[2])
    assert set().union(*words) == set(entries)
    for part in parts.values():  # alternatives travel with their word
        for word, pronunciations in part.items():
            assert pronunciations == entries[word]
    assert split_words(entries, valid_fraction=0.1, test_fraction=0.1, seed=3) == parts
    assert split_words(entries, valid_fraction=0.1, test_fraction=0.1, seed=4) != parts
    with pytest.raises(ValueError, match="leave a training part"):
        split_words(entries, valid_fraction=0.5, test_fraction=0.5, seed=0)
