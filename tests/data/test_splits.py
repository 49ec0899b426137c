"""The seeded splits follow their documented procedure exactly, checked against that
procedure written out with ``random.Random``: the split a seed gives must not drift, or a
run's test part changes under it (a resumed or re-evaluated run would score other data)."""

from __future__ import annotations

import random

import pytest

from rnnkit.data.cmudict import split_words
from rnnkit.data.splits import shuffled_parts, split_pairs
from rnnkit.data.tag_examples import split_sentences


def reference_cut(items: list, valid: float, test: float, seed: int,
                  test_first: bool) -> dict[str, list]:
    """The docstrings' procedure: shuffle with random.Random(seed), the held-out parts from
    the front, the rest trains."""
    order = list(items)
    random.Random(seed).shuffle(order)
    valid_count, test_count = round(len(order) * valid), round(len(order) * test)
    if test_first:
        return {"test": order[:test_count], "valid": order[test_count:test_count + valid_count],
                "train": order[test_count + valid_count:]}
    return {"valid": order[:valid_count], "test": order[valid_count:valid_count + test_count],
            "train": order[valid_count + test_count:]}


@pytest.mark.parametrize("seed", [0, 7])
def test_words_are_cut_valid_first_from_the_sorted_shuffled_list(seed: int) -> None:
    entries = {word: [("X",)] for word in ("delta", "alpha", "echo", "bravo", "golf", "foxtrot",
                                           "charlie", "hotel", "india", "juliet", "kilo")}
    parts = split_words(entries, valid_fraction=0.2, test_fraction=0.3, seed=seed)
    expected = reference_cut(sorted(entries), 0.2, 0.3, seed, test_first=False)
    assert {name: sorted(part) for name, part in parts.items()} == {
        name: sorted(part) for name, part in expected.items()}


@pytest.mark.parametrize("seed", [0, 7])
def test_sentences_are_cut_test_first_and_keep_their_order(seed: int) -> None:
    sentences = [[(f"w{index}", "T")] for index in range(13)]
    parts = split_sentences(sentences, 0.2, 0.3, seed)
    expected = reference_cut(list(range(13)), 0.2, 0.3, seed, test_first=True)
    assert parts == {name: [sentences[i] for i in sorted(part)]
                     for name, part in expected.items()}


@pytest.mark.parametrize("seed", [0, 7])
def test_pairs_go_with_their_source_cut_valid_first(seed: int) -> None:
    pairs = [(f"s{index % 9}", index) for index in range(20)]  # sources repeat
    parts = split_pairs(pairs, valid_fraction=0.25, test_fraction=0.2, seed=seed)
    expected = reference_cut(sorted({source for source, _ in pairs}), 0.25, 0.2, seed,
                             test_first=False)
    part_of = {source: name for name, sources in expected.items() for source in sources}
    assert parts == {name: [pair for pair in pairs if part_of[pair[0]] == name]
                     for name in ("train", "valid", "test")}


def test_shuffled_parts_refuses_an_unknown_first_part() -> None:
    with pytest.raises(ValueError, match="first 'valid' or 'test', got 'train'"):
        shuffled_parts([1, 2, 3], 0.3, 0.3, seed=0, first="train")
