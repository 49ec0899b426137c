"""Lay a token sequence out as parallel streams and cut them into BPTT windows.

The text is cut into ``batch`` equal, contiguous pieces, one per row (the layout of
pytorch/examples ``word_language_model`` and Zaremba et al.): row ``b`` of window ``k+1``
continues exactly where row ``b`` of window ``k`` stopped, which is what lets the trainer
carry the hidden state from one window to the next.

Shapes:
    ids:     (tokens,)
    streams: (batch, tokens // batch)
    window:  inputs (batch, time), targets (batch, time), targets one step ahead

Ids may carry per-token features (a conditional model's condition ids):
``(tokens, features)`` gives streams ``(batch, tokens // batch, features)`` and windows
``(batch, time, features)``, cut the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

from torch import Tensor

from rnnkit.validation import check_positive_int


def make_streams(ids: Tensor, batch_size: int) -> Tensor:
    """Cut token ids into ``batch_size`` contiguous rows, dropping the remainder.

    >>> import torch
    >>> make_streams(torch.arange(10), 3)
    tensor([[0, 1, 2],
            [3, 4, 5],
            [6, 7, 8]])
    """
    check_positive_int("make_streams", "batch_size", batch_size)
    if ids.dim() not in (1, 2):
        raise ValueError(f"make_streams expected token ids of shape (tokens,) or (tokens, "
                         f"features), got shape {tuple(ids.shape)}")
    tokens = ids.shape[0]
    length = tokens // batch_size
    if length < 2:
        raise ValueError(
            f"make_streams needs at least 2 tokens per stream, but {tokens} tokens in "
            f"{batch_size} streams give {length}; use a longer text or a smaller batch size"
        )
    return ids[: length * batch_size].view(batch_size, length, *ids.shape[1:])


def num_windows(streams: Tensor, seq_len: int) -> int:
    """How many windows of up to ``seq_len`` steps cover the streams (the last may be shorter).

    >>> import torch
    >>> num_windows(torch.zeros(2, 11), 4)  # 10 input positions: 4 + 4 + 2
    3
    """
    check_positive_int("num_windows", "seq_len", seq_len)
    return -(-(streams.shape[1] - 1) // seq_len)


def get_window(streams: Tensor, index: int, seq_len: int) -> tuple[Tensor, Tensor]:
    """Window ``index``: inputs (batch, time) and the targets one step ahead (batch, time).

    >>> import torch
    >>> inputs, targets = get_window(torch.arange(10).view(1, 10), 2, 4)
    >>> inputs.tolist(), targets.tolist()
    ([[8]], [[9]])
    """
    total = num_windows(streams, seq_len)
    if not 0 <= index < total:
        raise IndexError(f"window index {index} is out of range for {total} windows")
    start = index * seq_len
    stop = min(start + seq_len, streams.shape[1] - 1)
    return streams[:, start:stop], streams[:, start + 1 : stop + 1]


def iterate_windows(streams: Tensor, seq_len: int, start: int = 0) -> Iterator[
        tuple[Tensor, Tensor]]:
    """Every window from ``start`` on, in order (see :func:`get_window`)."""
    for index in range(start, num_windows(streams, seq_len)):
        yield get_window(streams, index, seq_len)
