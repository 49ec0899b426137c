"""The GRU scan kernel in torch operators, both forms of the candidate (any device).

``reset_after=True`` (cuDNN): ``n = tanh(x_n + r * (W_hn h + b_hn))``, one recurrent
product per step, ``params = (weight_hh, bias_hn)``. ``reset_after=False`` (Cho et al.
2014): ``n = tanh(x_n + W_hn (r * h))``, a second product that must wait for ``r``,
``params = (weight_hh,)`` with every bias folded into ``xproj``.
"""

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
    sigmoid_backward,
    summed,
    summed_outer,
    tanh_backward,
)


@dataclass(frozen=True)
class GRUKernel:
    """GRU over time. Saved for the backward: ``h`` of every step, the activated gates
    ``(r, z, n)`` and the recurrent term the reset gate multiplied (``W_hn h + b_hn`` when
    resetting after, ``r * h`` before)."""

    reset_after: bool
    state_count: ClassVar[int] = 1

    def forward(self, xproj, state, params, mask, batch_sizes):
        time, batch, gates = xproj.shape
        hidden = gates // 3
        ragged = batch_sizes is not None
        hs = buffer(xproj, time + 1, batch, hidden, ragged=False)
        acts = buffer(xproj, time, batch, gates, ragged=ragged)
        reset_terms = buffer(xproj, time, batch, hidden, ragged=ragged)
        hs[0] = state[0]
        step = self._step_after if self.reset_after else self._step_before
        for t in range(time):
            n = active_rows(batch_sizes, t, batch)
            carry_inactive(hs, t, n)
            h_in = recurrent_input(hs[t, :n], mask, n)
            step(xproj[t, :n], hs[t, :n], h_in, acts[t, :n], reset_terms[t, :n], hs[t + 1, :n],
                 params)
        return hs[1:], (hs[time].clone(),), (hs, acts, reset_terms)

    @staticmethod
    def _step_after(x, h, h_in, a, term, h_next, params):
        weight, bias_n = params
        hidden = h.shape[1]
        recurrent = h_in.mm(weight.t())  # (n, 3 * hidden)
        torch.add(recurrent[:, 2 * hidden :], bias_n, out=term)
        # Column slices are not contiguous; writing through copy_ rather than out= keeps the
        # step traceable by torch.compile (Dynamo refuses non-contiguous out= tensors).
        a[:, : 2 * hidden].copy_(torch.sigmoid(x[:, : 2 * hidden] + recurrent[:, : 2 * hidden]))
        r, z, cand = a.chunk(3, dim=1)
        cand.copy_(torch.addcmul(x[:, 2 * hidden :], r, term).tanh_())
        torch.lerp(cand, h, z, out=h_next)

    @staticmethod
    def _step_before(x, h, h_in, a, term, h_next, params):
        (weight,) = params
        hidden = h.shape[1]
        a[:, : 2 * hidden].copy_(torch.addmm(x[:, : 2 * hidden], h_in,
                                             weight[: 2 * hidden].t()).sigmoid_())
        r, z, cand = a.chunk(3, dim=1)
        torch.mul(r, h_in, out=term)
        cand.copy_(torch.addmm(x[:, 2 * hidden :], term, weight[2 * hidden :].t()).tanh_())
        torch.lerp(cand, h, z, out=h_next)

    def backward(self, grad_output, grad_state, saved, params, mask, batch_sizes):
        hs, acts, terms = saved
        d_pre, d_rec, dh = self.backward_loop(grad_output, grad_state, hs, acts, terms, params,
                                              mask, batch_sizes)
        return d_pre, (dh,), self._param_grads(d_pre, d_rec, hs, terms, mask)

    def backward_loop(self, grad_output, grad_state, hs, acts, terms, params, mask,
                      batch_sizes):
        """Walk time in reverse: gradients of the x-side pre-activations and (resetting
        after) of the recurrent product for every step, and dL/dh_0."""
        time, batch, gates = acts.shape
        hidden = gates // 3
        ragged = batch_sizes is not None
        d_pre = buffer(acts, *acts.shape, ragged=ragged)  # dL/d(x-side pre-activations)
        d_rec = buffer(acts, *acts.shape, ragged=ragged) if self.reset_after else None
        dh = grad_state[0].clone()
        weight = params[0]
        for t in reversed(range(time)):
            n = active_rows(batch_sizes, t, batch)
            dh_t = output_grad(grad_output, dh, t, n)
            r, z, cand = acts[t, :n].chunk(3, dim=1)
            h = hs[t, :n]
            d_z = sigmoid_backward(dh_t * (h - cand), z)
            d_cand = tanh_backward(dh_t * (1 - z), cand)
            if self.reset_after:
                d_r = sigmoid_backward(d_cand * terms[t, :n], r)
                torch.cat((d_r, d_z, d_cand), dim=1, out=d_pre[t, :n])
                torch.cat((d_r, d_z, d_cand * r), dim=1, out=d_rec[t, :n])
                d_h_in = d_rec[t, :n].mm(weight)
            else:
                d_term = d_cand.mm(weight[2 * hidden :])  # dL/d(r * h_in)
                h_in = recurrent_input(h, mask, n)
                d_r = sigmoid_backward(d_term * h_in, r)
                torch.cat((d_r, d_z, d_cand), dim=1, out=d_pre[t, :n])
                d_h_in = d_pre[t, :n, : 2 * hidden].mm(weight[: 2 * hidden]).addcmul_(d_term, r)
            dh[:n] = dh_t * z + (d_h_in if mask is None else d_h_in * mask[:n])
        return d_pre, d_rec, dh

    def _param_grads(self, d_pre, d_rec, hs, terms, mask):
        h_in = recurrent_inputs(hs, mask)
        hidden = hs.shape[-1]
        if self.reset_after:
            return summed_outer(d_rec, h_in), summed(d_rec[..., 2 * hidden :])
        d_weight = torch.cat((summed_outer(d_pre[..., : 2 * hidden], h_in),
                              summed_outer(d_pre[..., 2 * hidden :], terms)))
        return (d_weight,)


