"""Helpers every scan kernel shares: buffers, active rows, gradients summed over time."""

from __future__ import annotations

import torch
from torch import Tensor

# The derivative of an activation from its output, as one fused operator each.
sigmoid_backward = torch.ops.aten.sigmoid_backward
tanh_backward = torch.ops.aten.tanh_backward


def active_rows(batch_sizes: list[int] | None, t: int, batch: int) -> int:
    """How many (sorted) sequences are still running at step ``t``."""
    return batch if batch_sizes is None else batch_sizes[t]


def buffer(like: Tensor, *shape: int, ragged: bool) -> Tensor:
    """A buffer for per-step values; zero-filled when some rows stay unwritten (ragged)."""
    return like.new_zeros(shape) if ragged else like.new_empty(shape)


def carry_inactive(states: Tensor, t: int, n: int) -> None:
    """Rows past ``n`` (finished sequences) keep their state from step ``t`` to ``t + 1``."""
    if n < states.shape[1]:
        states[t + 1, n:] = states[t, n:]


def recurrent_input(h: Tensor, mask: Tensor | None, n: int) -> Tensor:
    """``h`` of the ``n`` active rows as the recurrent product sees it (dropout applied)."""
    return h if mask is None else h * mask[:n]


def recurrent_inputs(hs: Tensor, mask: Tensor | None) -> Tensor:
    """``h`` of every step as the recurrent products saw it: (time + 1, batch, hidden)
    states -> (time, batch, hidden), recurrent dropout applied."""
    return recurrent_input(hs[:-1], mask, hs.shape[1])


def summed_outer(grads: Tensor, inputs: Tensor) -> Tensor:
    """``sum_t grads_t^T @ inputs_t`` as one matrix product.

    Shapes: grads (time, batch, out), inputs (time, batch, in) -> (out, in).
    """
    return grads.reshape(-1, grads.shape[-1]).t().mm(inputs.reshape(-1, inputs.shape[-1]))


def summed(values: Tensor) -> Tensor:
    """Sum over time and batch: (time, batch, size) -> (size,)."""
    return values.sum(dim=(0, 1))


def output_grad(grad_output: Tensor, dh: Tensor, t: int, n: int) -> Tensor:
    """The total gradient reaching ``h_t`` of the active rows: from the output and from t+1."""
    return dh[:n] + grad_output[t, :n]
