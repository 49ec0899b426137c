r"""Layer-normalized LSTM and GRU steps (Ba, Kiros & Hinton 2016, "Layer Normalization").

LSTM (the paper's equations 20-22; ``LN`` normalizes over all gates of a row at once)::

    (i, f, g, o) = LN(W_ih x; γ_ih, β_ih) + LN(W_hh h; γ_hh, β_hh) + b_ih + b_hh
    c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)
    h' = σ(o) ⊙ tanh(LN(c'; γ_cell, β_cell))

GRU (the same normalization of both products; the reset gate multiplies the normalized
recurrent candidate term, so one product per step suffices, as in cuDNN's GRU)::

    (x_r, x_z, x_n) = LN(W_ih x; γ_ih, β_ih) + b_ih
    (a_r, a_z, a_n) = LN(W_hh h; γ_hh, β_hh) + b_hh
    r = σ(x_r + a_r),  z = σ(x_z + a_z),  n = tanh(x_n + r ⊙ a_n)
    h' = (1 - z) ⊙ n + z ⊙ h

The gains γ start at 1 and the shifts β at 0 under every init scheme. ``LN(W_ih x)`` does
not depend on the state, so layers compute it for all steps before the recurrence
(:func:`layer_norm_input_projection`); the step functions take it as ``input_projection``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells.base import State

LAYER_NORM_EPS = 1e-5
LAYER_NORM_NAMES = ("ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias")
CELL_NORM_NAMES = ("ln_cell_weight", "ln_cell_bias")


def layer_norm_parameter_shapes(
    gates: int, hidden_size: int, *, cell_norm: bool
) -> dict[str, tuple[int, ...]]:
    """Shapes of the normalization parameters a cell adds to its plain ones."""
    shapes = {name: (gates * hidden_size,) for name in LAYER_NORM_NAMES}
    if cell_norm:
        shapes.update({name: (hidden_size,) for name in CELL_NORM_NAMES})
    return shapes


@torch.no_grad()
def reset_layer_norm(weights: Mapping[str, Tensor]) -> None:
    """Gains to 1, shifts to 0: normalization starts as a plain standardization."""
    for name, tensor in weights.items():
        if name.startswith("ln_"):
            tensor.fill_(1.0 if name.endswith("_weight") else 0.0)


def _norm(x: Tensor, weights: Mapping[str, Tensor], prefix: str) -> Tensor:
    return F.layer_norm(x, (x.shape[-1],), weights[prefix + "_weight"], weights[prefix + "_bias"],
                        LAYER_NORM_EPS)


def layer_norm_input_projection(
    sequence: Tensor, weights: Mapping[str, Tensor], bias: Tensor | None = None
) -> Tensor:
    """``LN(W_ih x) + bias`` for every step: (time, batch, input) -> (time, batch, gates * H).

    ``bias`` defaults to ``b_ih`` (absent without biases); it is folded into the
    normalization's shift, so the projection is two operators.
    """
    if bias is None:
        bias = weights.get("bias_ih")
    shift = weights["ln_ih_bias"] if bias is None else weights["ln_ih_bias"] + bias
    projection = F.linear(sequence, weights["weight_ih"])
    return F.layer_norm(projection, (projection.shape[-1],), weights["ln_ih_weight"], shift,
                        LAYER_NORM_EPS)


def _normalized_recurrent(h: Tensor, weights: Mapping[str, Tensor],
                          recurrent_mask: Tensor | None) -> Tensor:
    """``LN(W_hh h_in) + b_hh``, with ``h_in`` the state after recurrent dropout."""
    h_in = h if recurrent_mask is None else h * recurrent_mask
    recurrent = _norm(F.linear(h_in, weights["weight_hh"]), weights, "ln_hh")
    return recurrent + weights["bias_hh"] if "bias_hh" in weights else recurrent


def layer_norm_lstm_step(
    input_projection: Tensor,
    state: State,
    weights: Mapping[str, Tensor],
    *,
    recurrent_mask: Tensor | None = None,
) -> State:
    """One layer-normalized LSTM step from ``LN(W_ih x) + b_ih`` (batch, 4 * hidden)."""
    h, c = state
    gates = input_projection + _normalized_recurrent(h, weights, recurrent_mask)
    i, f, g, o = gates.chunk(4, dim=1)
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_next = torch.sigmoid(o) * torch.tanh(_norm(c_next, weights, "ln_cell"))
    return h_next, c_next


def layer_norm_gru_step(
    input_projection: Tensor,
    state: State,
    weights: Mapping[str, Tensor],
    *,
    recurrent_mask: Tensor | None = None,
) -> State:
    """One layer-normalized GRU step from ``LN(W_ih x) + b_ih`` (batch, 3 * hidden)."""
    (h,) = state
    recurrent = _normalized_recurrent(h, weights, recurrent_mask)
    x_r, x_z, x_n = input_projection.chunk(3, dim=1)
    a_r, a_z, a_n = recurrent.chunk(3, dim=1)
    r = torch.sigmoid(x_r + a_r)
    z = torch.sigmoid(x_z + a_z)
    n = torch.tanh(x_n + r * a_n)
    return ((1 - z) * n + z * h,)
