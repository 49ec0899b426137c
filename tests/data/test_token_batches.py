"""Word tokens, the token and label tables, and padded batches for the example tasks."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.token_batches import (
    IGNORE_INDEX,
    PAD_ID,
    UNKNOWN_ID,
    LabelTable,
    TokenTable,
    bucketed_examples,
    evaluation_batches,
    pad_examples,
    word_tokens,
)


def test_word_tokens_keep_inner_apostrophes_and_split_punctuation() -> None:
    assert word_tokens("Don't miss it -- 10/10!") == ["don't", "miss", "it", "-", "-", "10",
                                                      "/", "10", "!"]
    assert word_tokens("New York", lowercase=False) == ["New", "York"]


def test_token_table_counts_only_what_it_is_given_and_maps_the_rest_to_unknown() -> None:
    table = TokenTable.build([["b", "a", "b"], ["a", "c", "b"]], min_count=2)
    assert table.tokens == ["<pad>", "<unk>", "b", "a"]
    assert table.encode(["a", "c", "never"]) == [3, UNKNOWN_ID, UNKNOWN_ID]
    assert TokenTable.from_dict(table.to_dict()).tokens == table.tokens
    assert len(TokenTable.build([["x", "y", "z"]], max_size=4)) == 4
    with pytest.raises(ValueError, match="min_count"):
        TokenTable.build([["a"]], min_count=0)


def test_a_label_unseen_in_training_is_named_with_where_it_came_from() -> None:
    labels = LabelTable.build(["pos", "neg", "pos"])
    assert labels.encode(["pos", "neg"], "here") == [1, 0]
    with pytest.raises(ValueError, match=r"row 7: label 'meh' was not seen in training "
                                         r"\(known labels: 'neg', 'pos'\)"):
        labels.encode(["pos", "meh"], "row 7")
    assert LabelTable.from_dict(labels.to_dict()).names == ["neg", "pos"]


def test_padding_fills_tokens_with_pad_and_tags_with_the_ignored_index() -> None:
    batch = pad_examples([([5, 6, 7], [1, 0, 2]), ([8], [3])])
    assert batch.tokens.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]]
    assert batch.lengths.tolist() == [3, 1]
    assert batch.targets.tolist() == [[1, 0, 2], [3, IGNORE_INDEX, IGNORE_INDEX]]
    classes = pad_examples([([5, 6], 1), ([7], 0)])
    assert classes.targets.tolist() == [1, 0] and len(classes) == 2
    with pytest.raises(ValueError, match="example 0 of the batch has 2 tokens but 1 tags"):
        pad_examples([([5, 6], [1])])
    with pytest.raises(ValueError, match="example 1 of the batch has no tokens"):
        pad_examples([([5], 1), ([], 0)])


def test_buckets_hold_every_example_once_in_similar_lengths_and_change_with_the_seed() -> None:
    examples = [([3] * (1 + i % 9), i) for i in range(100)]
    batches = bucketed_examples(examples, batch_size=10, seed=4)
    seen = sorted(t for batch in batches for t in batch.targets.tolist())
    assert seen == list(range(100))
    padding = sum(int((batch.tokens == PAD_ID).sum()) for batch in batches)
    assert padding <= 10 * len(batches)  # at most one length step inside a bucket
    other = bucketed_examples(examples, batch_size=10, seed=5)
    assert [b.targets.tolist() for b in other] != [b.targets.tolist() for b in batches]


def test_evaluation_batches_say_which_example_each_row_is() -> None:
    examples = [([3] * n, n) for n in (4, 1, 3, 2)]
    rows = {}
    for indices, batch in evaluation_batches(examples, batch_size=3):
        for index, target, length in zip(indices, batch.targets, batch.lengths, strict=True):
            rows[index] = (int(target), int(length))
    assert rows == {0: (4, 4), 1: (1, 1), 2: (3, 3), 3: (2, 2)}
    assert isinstance(batch.tokens, torch.Tensor)
