"""Run one cell over time in one direction, with optional per-sequence lengths."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from rnnkit.cells.base import State
from rnnkit.layers.sequences import step_mask

StepFunction = Callable[[Tensor, State, Mapping[str, Tensor]], State]


def run_over_time(
    step: StepFunction,
    input_projection: Tensor,
    state: State,
    weights: Mapping[str, Tensor],
    lengths: Tensor | None = None,
) -> tuple[Tensor, State]:
    """Apply ``step`` at every time step and collect the outputs.

    Shapes:
        input_projection: (time, batch, gates * hidden), ``W_ih x + b_ih`` for every step
        state:            tuple of (batch, size) tensors, the output ``h`` first
        lengths:          (batch,) on the input's device, or None when all run full length
        output:           (time, batch, output_size), zero past each sequence's end

    With ``lengths``, a sequence's state stops changing after its last real step, so the
    returned state is the one at that step.
    """
    outputs = []
    mask = None if lengths is None else step_mask(lengths, input_projection.shape[0])
    for t in range(input_projection.shape[0]):
        new_state = step(input_projection[t], state, weights)
        if mask is None:
            state = new_state
            outputs.append(new_state[0])
        else:
            active = mask[t]  # (batch, 1)
            state = tuple(torch.where(active, n, o) for n, o in zip(new_state, state, strict=True))
            outputs.append(torch.where(active, new_state[0], 0.0))
    return torch.stack(outputs), state
