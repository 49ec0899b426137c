"""Padding, lengths and masks for variable-length batches in time-major layout."""

from __future__ import annotations

import torch
from torch import Tensor


def step_mask(lengths: Tensor, time: int) -> Tensor:
    """Boolean mask (time, batch, 1), True where step t is inside sequence b."""
    steps = torch.arange(time, device=lengths.device).unsqueeze(1)  # (time, 1)
    return (steps < lengths.unsqueeze(0)).unsqueeze(2)


def reverse_padded(sequence: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence within its own length; padding stays where it is.

    ``sequence`` is (time, batch, features) and ``lengths`` (batch,) on its device. The map
    is its own inverse, so the same call turns a reversed output back.
    """
    if lengths is None:
        return sequence.flip(0)
    time = sequence.shape[0]
    steps = torch.arange(time, device=sequence.device).unsqueeze(1)  # (time, 1)
    mirrored = lengths.unsqueeze(0) - 1 - steps  # (time, batch)
    index = torch.where(steps < lengths.unsqueeze(0), mirrored, steps.expand_as(mirrored))
    return sequence.gather(0, index.unsqueeze(2).expand_as(sequence))


def sorted_batch_sizes(sorted_lengths: Tensor, time: int) -> list[int]:
    """Sequences still running at each step, for lengths sorted longest first.

    Example:
        >>> sorted_batch_sizes(torch.tensor([3, 3, 1]), 3)
        [3, 2, 2]
    """
    steps = torch.arange(time, device=sorted_lengths.device).unsqueeze(1)  # (time, 1)
    return (sorted_lengths.unsqueeze(0) > steps).sum(dim=1).tolist()
