"""The engine's autograd function: a whole layer-direction's recurrence as one graph node.

torch's autograd, run over a Python loop of cell steps, records every step's operators and
differentiates them one by one; the weight gradient alone becomes ``time`` small matrix
products. The scan instead hands the loop to a *kernel* (see :class:`ScanKernel`) that
runs the forward keeping only what the backward needs, and a hand-written backward that
walks time in reverse for the state gradients and then computes each weight gradient for
all steps as one matrix product. haste and cuDNN are organized the same way.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

Tensors = tuple[Tensor, ...]


class ScanKernel(Protocol):
    """One cell's forward and backward over time, for sorted variable-length batches.

    Shapes (time-major; the batch sorted by length, longest first):
        xproj:        (time, batch, gates * hidden), the input projection and the biases
                      that sit outside the recurrence, for every step
        state:        tuple of (batch, size), the output ``h`` first
        params:       the recurrent parameters the kernel needs (``weight_hh`` first)
        mask:         (batch, hidden) recurrent-dropout mask multiplying ``h`` before the
                      recurrent product, or None
        batch_sizes:  active rows per step (non-increasing), or None when all run full length
        output:       (time, batch, hidden); rows past a sequence's end are not read
    """

    state_count: int

    def forward(
        self, xproj: Tensor, state: Tensors, params: Tensors, mask: Tensor | None,
        batch_sizes: list[int] | None,
    ) -> tuple[Tensor, Tensors, Tensors]:
        """Return ``(output, final_state, saved)``."""
        ...

    def backward(
        self, grad_output: Tensor, grad_state: Tensors, saved: Tensors, params: Tensors,
        mask: Tensor | None, batch_sizes: list[int] | None,
    ) -> tuple[Tensor, Tensors, Tensors]:
        """Return ``(grad_xproj, grad_state, grad_params)``."""
        ...


class _Scan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kernel, mask, batch_sizes, xproj, *tensors):
        count = kernel.state_count
        state, params = tensors[:count], tensors[count:]
        output, final, saved = kernel.forward(xproj, state, params, mask, batch_sizes)
        ctx.kernel, ctx.batch_sizes, ctx.saved_count = kernel, batch_sizes, len(saved)
        ctx.mask = mask  # not differentiated: a constant of this forward
        ctx.save_for_backward(*saved, *params)
        ctx.state_like = [(s.shape, s.dtype, s.device) for s in final]
        return (output, *final)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output, *grad_final):
        tensors = ctx.saved_tensors
        saved, params = tensors[: ctx.saved_count], tensors[ctx.saved_count :]
        grad_state = tuple(
            torch.zeros(shape, dtype=dtype, device=device) if g is None else g
            for g, (shape, dtype, device) in zip(grad_final, ctx.state_like, strict=True)
        )
        if grad_output is None:
            grad_output = torch.zeros_like(saved[0][1:])
        d_xproj, d_state, d_params = ctx.kernel.backward(
            grad_output, grad_state, saved, params, ctx.mask, ctx.batch_sizes
        )
        return (None, None, None, d_xproj, *d_state, *d_params)


def scan(
    kernel: ScanKernel,
    xproj: Tensor,
    state: Tensors,
    params: Tensors,
    mask: Tensor | None = None,
    batch_sizes: list[int] | None = None,
) -> tuple[Tensor, Tensors]:
    """Run ``kernel`` over time as one autograd node; returns ``(output, final_state)``.

    Shapes as in :class:`ScanKernel`; the caller sorts the batch by length. The output is
    zero past each sequence's end, and the final state is each sequence's last real one.
    """
    output, *final = _Scan.apply(kernel, mask, batch_sizes, xproj, *state, *params)
    if batch_sizes is not None:
        output = output * _active_mask(batch_sizes, output)
    return output, tuple(final)


def _active_mask(batch_sizes: list[int], like: Tensor) -> Tensor:
    """(time, batch, 1), 1 where row b is still running at step t."""
    sizes = torch.tensor(batch_sizes, device=like.device).unsqueeze(1)  # (time, 1)
    rows = torch.arange(like.shape[1], device=like.device).unsqueeze(0)  # (1, batch)
    return (rows < sizes).unsqueeze(2).to(like.dtype)
