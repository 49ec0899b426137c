"""The Elman RNN scan kernel in torch operators, tanh or ReLU (any device)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from rnnkit.engine.common import (
    active_rows,
    buffer,
    carry_inactive,
    output_grad,
    recurrent_input,
    recurrent_inputs,
    summed_outer,
    tanh_backward,
)


@dataclass(frozen=True)
class RNNKernel:
    """``h' = act(xproj + W_hh h)`` over time; ``params = (weight_hh,)``, ``bias_hh`` folded
    into ``xproj``. Saved for the backward: ``h`` of every step (the activation's output is
    all its derivative needs)."""

    nonlinearity: str
    state_count: ClassVar[int] = 1

    def forward(self, xproj, state, params, mask, batch_sizes):
        time, batch, hidden = xproj.shape
        hs = buffer(xproj, time + 1, batch, hidden, ragged=False)
        hs[0] = state[0]
        weight_t = params[0].t()
        for t in range(time):
            n = active_rows(batch_sizes, t, batch)
            carry_inactive(hs, t, n)
            h = hs[t + 1, :n]
            torch.addmm(xproj[t, :n], recurrent_input(hs[t, :n], mask, n), weight_t, out=h)
            h.tanh_() if self.nonlinearity == "tanh" else h.relu_()
        return hs[1:], (hs[time].clone(),), (hs,)

    def backward(self, grad_output, grad_state, saved, params, mask, batch_sizes):
        (hs,) = saved
        time, batch, _ = grad_output.shape
        d_pre = buffer(hs, time, batch, hs.shape[-1], ragged=batch_sizes is not None)
        dh = grad_state[0].clone()
        for t in reversed(range(time)):
            n = active_rows(batch_sizes, t, batch)
            dh_t = output_grad(grad_output, dh, t, n)
            h = hs[t + 1, :n]
            if self.nonlinearity == "tanh":
                d_pre[t, :n] = tanh_backward(dh_t, h)
            else:
                d_pre[t, :n] = torch.ops.aten.threshold_backward(dh_t, h, 0)
            dh_prev = d_pre[t, :n].mm(params[0])
            dh[:n] = dh_prev if mask is None else dh_prev * mask[:n]
        h_in = recurrent_inputs(hs, mask)
        return d_pre, (dh,), (summed_outer(d_pre, h_in),)
