"""Padding, lengths and masks for variable-length batches in time-major layout."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.validation import check_input, check_lengths, shape_text


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


def time_major_input(owner: str, input: object, lengths: object, *, input_size: int,
                     batch_first: bool, reference: Tensor
                     ) -> tuple[Tensor, Tensor | None, bool]:
    """A layer's ``input`` checked (a tensor with ``input_size`` features, in
    ``reference``'s dtype and device, at least one step) and made time-major
    (time, batch, features), a batch of one if it came unbatched; ``lengths`` checked, or
    None when every row runs the whole time; and whether the input was batched."""
    input = check_input(owner, input, features=input_size, batched_dims=3,
                        dtype=reference.dtype, device=reference.device)
    batched = input.dim() == 3
    if not batched:
        if lengths is not None:
            raise ValueError(f"{owner} expected batched 3-D input when lengths is given, "
                             f"got shape {shape_text(input)}")
        input = input.unsqueeze(1)  # (time, 1, features)
    elif batch_first:
        input = input.transpose(0, 1)  # (time, batch, features)
    time, batch = input.shape[0], input.shape[1]
    if time == 0:
        raise ValueError(f"{owner} expected at least one time step, got an empty time axis")
    if lengths is not None:
        lengths = check_lengths(owner, lengths, batch=batch, time=time)
        if bool((lengths == time).all()):
            lengths = None
    return input, lengths, batched
