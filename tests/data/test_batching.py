"""Parallel streams and BPTT windows: every target is the next token of its input."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.batching import get_window, iterate_windows, make_streams, num_windows


def test_streams_are_contiguous_pieces_of_the_text() -> None:
    ids = torch.arange(23)
    streams = make_streams(ids, 4)
    assert streams.shape == (4, 5)
    assert torch.equal(streams.flatten(), ids[:20])


@pytest.mark.parametrize("seq_len", [1, 3, 4, 9])
def test_windows_cover_each_stream_once_with_targets_one_ahead(seq_len: int) -> None:
    streams = make_streams(torch.arange(50), 5)  # 10 tokens per stream
    inputs = torch.cat([x for x, _ in iterate_windows(streams, seq_len)], dim=1)
    targets = torch.cat([y for _, y in iterate_windows(streams, seq_len)], dim=1)
    assert torch.equal(inputs, streams[:, :-1])
    assert torch.equal(targets, streams[:, 1:])
    assert num_windows(streams, seq_len) == -(-9 // seq_len)


def test_iterate_windows_starts_where_asked() -> None:
    streams = make_streams(torch.arange(40), 2)
    rest = list(iterate_windows(streams, 5, start=2))
    assert torch.equal(rest[0][0], get_window(streams, 2, 5)[0])
    assert len(rest) == num_windows(streams, 5) - 2


def test_bad_requests_are_named() -> None:
    with pytest.raises(ValueError, match="at least 2 tokens per stream"):
        make_streams(torch.arange(5), 4)
    with pytest.raises(ValueError, match="\\(tokens, features\\), got shape \\(2, 3, 1\\)"):
        make_streams(torch.zeros(2, 3, 1, dtype=torch.long), 1)
    with pytest.raises(IndexError, match="window index 4 is out of range for 3 windows"):
        get_window(make_streams(torch.arange(10), 1), 4, 3)


def test_per_token_features_are_cut_with_their_tokens() -> None:
    ids = torch.stack([torch.arange(12), 100 + torch.arange(12)], dim=1)  # (tokens, 2)
    streams = make_streams(ids, 3)
    assert streams.shape == (3, 4, 2)
    assert torch.equal(streams[..., 0], make_streams(torch.arange(12), 3))
    inputs, targets = get_window(streams, 0, 2)
    assert inputs.shape == targets.shape == (3, 2, 2)
    assert torch.equal(targets[..., 1] - 100, targets[..., 0])
