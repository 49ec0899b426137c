"""The LSTM scan kernel in torch operators, with the peephole option (any device).

Forward per step: one ``addmm`` for the recurrent product, then the gate math in place.
Backward per step: the gate derivatives and one ``mm`` for the gradient into ``h_(t-1)``;
``weight_hh`` and the peepholes get their gradients for all steps after the loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from rnnkit.engine.common import (
    active_rows,
    buffer,
    carry_inactive,
    output_grad,
    recurrent_input,
    recurrent_inputs,
    sigmoid_backward,
    summed,
    summed_outer,
    tanh_backward,
)
from rnnkit.engine.scan import Tensors


@dataclass(frozen=True)
class LSTMKernel:
    """LSTM over time; ``params`` are ``(weight_hh,)`` or, with peepholes,
    ``(weight_hh, weight_ci, weight_cf, weight_co)``. ``bias_hh`` is folded into ``xproj``.

    Saved for the backward: ``h`` and ``c`` of every step and the activated gates.
    """

    peephole: bool
    state_count: ClassVar[int] = 2

    def forward(self, xproj, state, params, mask, batch_sizes):
        time, batch, gates = xproj.shape
        hidden = gates // 4
        ragged = batch_sizes is not None
        hs = buffer(xproj, time + 1, batch, hidden, ragged=False)
        cs = buffer(xproj, time + 1, batch, hidden, ragged=False)
        acts = buffer(xproj, time, batch, gates, ragged=ragged)
        hs[0], cs[0] = state
        weight_t = params[0].t()
        for t in range(time):
            n = active_rows(batch_sizes, t, batch)
            carry_inactive(hs, t, n)
            carry_inactive(cs, t, n)
            a = acts[t, :n]
            torch.addmm(xproj[t, :n], recurrent_input(hs[t, :n], mask, n), weight_t, out=a)
            self._gate_math(a, cs[t, :n], cs[t + 1, :n], hs[t + 1, :n], params)
        return hs[1:], (hs[time].clone(), cs[time].clone()), (hs, cs, acts)

    def _gate_math(self, a: Tensor, c_prev: Tensor, c: Tensor, h: Tensor, params: Tensors):
        """Turn pre-activations ``a`` into activated gates in place; write ``c`` and ``h``."""
        i, f, g, o = a.chunk(4, dim=1)
        if self.peephole:
            i.addcmul_(c_prev, params[1])
            f.addcmul_(c_prev, params[2])
        i.sigmoid_()
        f.sigmoid_()
        g.tanh_()
        torch.mul(f, c_prev, out=c)
        c.addcmul_(i, g)
        if self.peephole:
            o.addcmul_(c, params[3])
        o.sigmoid_()
        torch.mul(o, torch.tanh(c), out=h)

    def backward(self, grad_output, grad_state, saved, params, mask, batch_sizes):
        hs, cs, acts = saved
        d_pre, dh, dc = self.backward_loop(grad_output, grad_state, cs, acts, params, mask,
                                           batch_sizes)
        return d_pre, (dh, dc), self.param_grads(d_pre, hs, cs, mask)

    def backward_loop(self, grad_output, grad_state, cs, acts, params, mask, batch_sizes):
        """Walk time in reverse: pre-activation gradients of every step, dL/dh_0, dL/dc_0."""
        time, batch, _ = acts.shape
        d_pre = buffer(acts, *acts.shape, ragged=batch_sizes is not None)
        dh, dc = (g.clone() for g in grad_state)
        weight = params[0]
        for t in reversed(range(time)):
            n = active_rows(batch_sizes, t, batch)
            dh_t = output_grad(grad_output, dh, t, n)
            dc[:n] = self._gate_grads(dh_t, dc[:n], acts[t, :n], cs[t, :n], cs[t + 1, :n],
                                      d_pre[t, :n], params)
            dh_prev = d_pre[t, :n].mm(weight)
            dh[:n] = dh_prev if mask is None else dh_prev * mask[:n]
        return d_pre, dh, dc

    def param_grads(self, d_pre, hs, cs, mask):
        """Gradients of ``params`` for all steps at once, after the loop."""
        h_in = recurrent_inputs(hs, mask)
        d_params = [summed_outer(d_pre, h_in)]
        if self.peephole:
            d_i, d_f, _, d_o = d_pre.chunk(4, dim=2)
            d_params += [summed(d_i * cs[:-1]), summed(d_f * cs[:-1]), summed(d_o * cs[1:])]
        return tuple(d_params)

    def _gate_grads(self, dh, dc, a, c_prev, c, out, params):
        """Write the pre-activation gradients of one step into ``out``; return dL/dc_(t-1)."""
        i, f, g, o = a.chunk(4, dim=1)
        tanh_c = torch.tanh(c)
        d_o = sigmoid_backward(dh * tanh_c, o)
        dc = dc + tanh_backward(dh * o, tanh_c)
        if self.peephole:
            dc = dc.addcmul_(d_o, params[3])
        d_i = sigmoid_backward(dc * g, i)
        d_f = sigmoid_backward(dc * c_prev, f)
        d_g = tanh_backward(dc * i, g)
        torch.cat((d_i, d_f, d_g, d_o), dim=1, out=out)
        dc_prev = dc * f
        if self.peephole:
            dc_prev.addcmul_(d_i, params[1]).addcmul_(d_f, params[2])
        return dc_prev
