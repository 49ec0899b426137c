"""Scan kernels for the layer-normalized LSTM and GRU in torch operators (any device).

The normalization of the input projection, ``LN(W_ih x)``, does not depend on the state,
so the layer computes it for all steps before the scan; inside the loop sit the
normalization of the recurrent product (over all gates at once, as in Ba et al. 2016) and,
for the LSTM, of the cell state. Per step the kernels use torch's fused
``native_layer_norm`` and its backward; the gains and shifts get their gradients after
the loop from the saved pre-normalization values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from rnnkit.cells.layernorm import LAYER_NORM_EPS
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


def normalize(x: Tensor, gain: Tensor, shift: Tensor, mean: Tensor, rstd: Tensor) -> Tensor:
    """``LN(x)`` of (rows, size) ``x``; writes each row's mean and 1/std into (rows, 1)."""
    out, row_mean, row_rstd = torch.native_layer_norm(x, (x.shape[-1],), gain, shift,
                                                      LAYER_NORM_EPS)
    mean.copy_(row_mean)
    rstd.copy_(row_rstd)
    return out


def normalize_backward(grad: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, gain: Tensor
                       ) -> Tensor:
    """dL/dx of ``LN(x)`` given dL/dLN(x); the gain's and shift's gradients come later."""
    return torch.ops.aten.native_layer_norm_backward(
        grad, x, (x.shape[-1],), mean, rstd, gain, None, (True, False, False))[0]


def normalized(x: Tensor, mean: Tensor, rstd: Tensor) -> Tensor:
    """``(x - mean) * rstd`` for all steps at once (what the gain multiplied)."""
    return (x - mean) * rstd


@dataclass(frozen=True)
class LayerNormLSTMKernel:
    """``params = (weight_hh, ln_hh_weight, ln_hh_bias, ln_cell_weight, ln_cell_bias)``.

    Saved: ``h``, ``c``, the recurrent products before normalization with their row
    statistics, the activated gates and the cell statistics.
    """

    state_count: ClassVar[int] = 2

    def forward(self, xproj, state, params, mask, batch_sizes):
        time, batch, gates = xproj.shape
        hidden = gates // 4
        ragged = batch_sizes is not None
        weight, gain_h, shift_h, gain_c, shift_c = params
        hs = buffer(xproj, time + 1, batch, hidden, ragged=False)
        cs = buffer(xproj, time + 1, batch, hidden, ragged=False)
        recurrent = buffer(xproj, time, batch, gates, ragged=ragged)
        acts = buffer(xproj, time, batch, gates, ragged=ragged)
        stats = buffer(xproj, 4, time, batch, 1, ragged=True)  # mean/rstd of products, cells
        hs[0], cs[0] = state
        weight_t = weight.t()
        for t in range(time):
            n = active_rows(batch_sizes, t, batch)
            carry_inactive(hs, t, n)
            carry_inactive(cs, t, n)
            torch.mm(recurrent_input(hs[t, :n], mask, n), weight_t, out=recurrent[t, :n])
            a = acts[t, :n]
            torch.add(xproj[t, :n], normalize(recurrent[t, :n], gain_h, shift_h,
                                              stats[0, t, :n], stats[1, t, :n]), out=a)
            i, f, g, o = a.chunk(4, dim=1)
            i.sigmoid_()
            f.sigmoid_()
            g.tanh_()
            o.sigmoid_()
            c = cs[t + 1, :n]
            torch.mul(f, cs[t, :n], out=c).addcmul_(i, g)
            c_norm = normalize(c, gain_c, shift_c, stats[2, t, :n], stats[3, t, :n])
            torch.mul(o, c_norm.tanh_(), out=hs[t + 1, :n])
        return hs[1:], (hs[time].clone(), cs[time].clone()), (hs, cs, recurrent, acts, stats)

    def backward(self, grad_output, grad_state, saved, params, mask, batch_sizes):
        hs, cs, recurrent, acts, stats = saved
        weight, gain_h, _, gain_c, shift_c = params
        time, batch, _ = acts.shape
        ragged = batch_sizes is not None
        d_pre = buffer(acts, *acts.shape, ragged=ragged)
        d_rec = buffer(acts, *acts.shape, ragged=ragged)
        d_cnorm = buffer(hs, time, batch, hs.shape[-1], ragged=ragged)
        dh, dc = (g.clone() for g in grad_state)
        for t in reversed(range(time)):
            n = active_rows(batch_sizes, t, batch)
            dh_t = output_grad(grad_output, dh, t, n)
            i, f, g, o = acts[t, :n].chunk(4, dim=1)
            c = cs[t + 1, :n]
            tanh_cn = torch.native_layer_norm(c, (c.shape[-1],), gain_c, shift_c,
                                              LAYER_NORM_EPS)[0].tanh_()
            d_o = sigmoid_backward(dh_t * tanh_cn, o)
            d_cnorm[t, :n] = tanh_backward(dh_t * o, tanh_cn)
            dc_t = dc[:n] + normalize_backward(d_cnorm[t, :n], c, stats[2, t, :n],
                                               stats[3, t, :n], gain_c)
            d_i = sigmoid_backward(dc_t * g, i)
            d_f = sigmoid_backward(dc_t * cs[t, :n], f)
            d_g = tanh_backward(dc_t * i, g)
            torch.cat((d_i, d_f, d_g, d_o), dim=1, out=d_pre[t, :n])
            dc[:n] = dc_t * f
            d_rec[t, :n] = normalize_backward(d_pre[t, :n], recurrent[t, :n], stats[0, t, :n],
                                              stats[1, t, :n], gain_h)
            dh_prev = d_rec[t, :n].mm(weight)
            dh[:n] = dh_prev if mask is None else dh_prev * mask[:n]
        h_in = recurrent_inputs(hs, mask)
        rec_hat = normalized(recurrent, stats[0], stats[1])
        cell_hat = normalized(cs[1:], stats[2], stats[3])
        d_params = (summed_outer(d_rec, h_in), summed(d_pre * rec_hat), summed(d_pre),
                    summed(d_cnorm * cell_hat), summed(d_cnorm))
        return d_pre, (dh, dc), d_params


@dataclass(frozen=True)
class LayerNormGRUKernel:
    """``params = (weight_hh, ln_hh_weight, ln_hh_bias, bias_hn)``; the reset gate multiplies
    the normalized recurrent candidate term (reset after the product).

    Saved: ``h``, the recurrent products before normalization with their statistics, the
    activated gates and the candidate's recurrent term ``LN(W_h h)_n + b_hn``.
    """

    state_count: ClassVar[int] = 1

    def forward(self, xproj, state, params, mask, batch_sizes):
        time, batch, gates = xproj.shape
        hidden = gates // 3
        ragged = batch_sizes is not None
        weight, gain, shift, bias_n = params
        hs = buffer(xproj, time + 1, batch, hidden, ragged=False)
        recurrent = buffer(xproj, time, batch, gates, ragged=ragged)
        acts = buffer(xproj, time, batch, gates, ragged=ragged)
        terms = buffer(xproj, time, batch, hidden, ragged=ragged)
        stats = buffer(xproj, 2, time, batch, 1, ragged=True)
        hs[0] = state[0]
        weight_t = weight.t()
        for t in range(time):
            n = active_rows(batch_sizes, t, batch)
            carry_inactive(hs, t, n)
            torch.mm(recurrent_input(hs[t, :n], mask, n), weight_t, out=recurrent[t, :n])
            rec = normalize(recurrent[t, :n], gain, shift, stats[0, t, :n], stats[1, t, :n])
            x, a = xproj[t, :n], acts[t, :n]
            # Gate columns are not contiguous: copy_ rather than out= (torch.compile-safe).
            a[:, : 2 * hidden].copy_(torch.sigmoid(x[:, : 2 * hidden] + rec[:, : 2 * hidden]))
            r, z, cand = a.chunk(3, dim=1)
            torch.add(rec[:, 2 * hidden :], bias_n, out=terms[t, :n])
            cand.copy_(torch.addcmul(x[:, 2 * hidden :], r, terms[t, :n]).tanh_())
            torch.lerp(cand, hs[t, :n], z, out=hs[t + 1, :n])
        return hs[1:], (hs[time].clone(),), (hs, recurrent, acts, terms, stats)

    def backward(self, grad_output, grad_state, saved, params, mask, batch_sizes):
        hs, recurrent, acts, terms, stats = saved
        weight, gain, _, _ = params
        time, batch, _ = acts.shape
        ragged = batch_sizes is not None
        d_pre = buffer(acts, *acts.shape, ragged=ragged)
        d_norm = buffer(acts, *acts.shape, ragged=ragged)  # dL/dLN(W_h h)
        d_rec = buffer(acts, *acts.shape, ragged=ragged)
        dh = grad_state[0].clone()
        for t in reversed(range(time)):
            n = active_rows(batch_sizes, t, batch)
            dh_t = output_grad(grad_output, dh, t, n)
            r, z, cand = acts[t, :n].chunk(3, dim=1)
            d_z = sigmoid_backward(dh_t * (hs[t, :n] - cand), z)
            d_cand = tanh_backward(dh_t * (1 - z), cand)
            d_r = sigmoid_backward(d_cand * terms[t, :n], r)
            torch.cat((d_r, d_z, d_cand), dim=1, out=d_pre[t, :n])
            torch.cat((d_r, d_z, d_cand * r), dim=1, out=d_norm[t, :n])
            d_rec[t, :n] = normalize_backward(d_norm[t, :n], recurrent[t, :n], stats[0, t, :n],
                                              stats[1, t, :n], gain)
            d_h_in = d_rec[t, :n].mm(weight)
            dh[:n] = dh_t * z + (d_h_in if mask is None else d_h_in * mask[:n])
        h_in = recurrent_inputs(hs, mask)
        hidden = hs.shape[-1]
        rec_hat = normalized(recurrent, stats[0], stats[1])
        d_params = (summed_outer(d_rec, h_in), summed(d_norm * rec_hat), summed(d_norm),
                    summed(d_norm[..., 2 * hidden :]))
        return d_pre, (dh,), d_params
