"""Symbol tables and padded, bucketed batches of sequence pairs."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.pairs import BOS_ID, EOS_ID, PAD_ID, SymbolTable, bucketed_batches, pad_batch


def test_specials_come_first_and_symbols_round_trip() -> None:
    table = SymbolTable.build([["K", "AE1", "T"], ["D", "AO1", "G"]])
    assert table.symbols[:3] == ["<pad>", "<s>", "</s>"]
    ids = table.encode(["D", "AO1", "G"], "phonemes")
    assert min(ids) >= 3 and table.decode(ids) == ["D", "AO1", "G"]
    assert SymbolTable.from_dict(table.to_dict()).symbols == table.symbols


def test_unknown_symbols_and_empty_input_are_named() -> None:
    table = SymbolTable.build(["abc"])
    with pytest.raises(ValueError, match="unknown symbol 'z' at position 1 of word 'az'"):
        table.encode("az", "word")
    with pytest.raises(ValueError, match="unknown symbol '<s>' at position 0"):
        table.encode(["<s>"], "word")  # specials are not input symbols
    with pytest.raises(ValueError, match="empty line 4: there is nothing to convert"):
        table.encode("", "line 4")


def test_pad_batch_shapes_and_contents() -> None:
    batch = pad_batch([([5, 6, 7], [3]), ([8], [4, 5, 6])])
    assert batch.source.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID]]
    assert batch.source_lengths.tolist() == [3, 1]
    assert batch.target_input.tolist() == [[BOS_ID, 3, PAD_ID, PAD_ID], [BOS_ID, 4, 5, 6]]
    assert batch.target_output.tolist() == [[3, EOS_ID, PAD_ID, PAD_ID], [4, 5, 6, EOS_ID]]


def test_buckets_group_similar_lengths_and_keep_every_pair() -> None:
    pairs = [([3] * (1 + i % 7), [4] * (1 + i % 3)) for i in range(50)]
    batches = bucketed_batches(pairs, batch_size=8, seed=0)
    assert sum(b.source.shape[0] for b in batches) == 50
    padding = sum(int((b.source == PAD_ID).sum()) for b in batches)
    unsorted = sum(int((pad_batch(pairs[i:i + 8]).source == PAD_ID).sum())
                   for i in range(0, 50, 8))
    assert padding < unsorted / 4
    again = bucketed_batches(pairs, batch_size=8, seed=0)
    assert all(torch.equal(a.source, b.source) for a, b in zip(batches, again, strict=True))
