"""What each cell hands the scan: the input projection for all steps and the recurrent
parameters, with every bias that sits outside the recurrence folded into the projection.

Folding ``b_hh`` into ``W_ih x + b_ih`` is exact for the LSTM, the RNN and the GRU with the
reset before the product; with the reset after it, ``b_hn`` sits inside ``r ⊙ (...)`` and
stays a parameter of the scan.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells.layernorm import layer_norm_input_projection
from rnnkit.engine.gru import GRUKernel
from rnnkit.engine.layernorm import LayerNormGRUKernel, LayerNormLSTMKernel
from rnnkit.engine.lstm import LSTMKernel
from rnnkit.engine.rnn import RNNKernel
from rnnkit.engine.scan import ScanKernel, Tensors

ScanInputs = tuple[ScanKernel, Tensor, Tensors]


def _folded_bias(weights: Mapping[str, Tensor], hidden: int, keep_last: bool) -> Tensor | None:
    """``b_ih + b_hh``, leaving out ``b_hh``'s last gate block when ``keep_last``."""
    if "bias_ih" not in weights:
        return None
    bias_hh = weights["bias_hh"]
    if keep_last:
        bias_hh = torch.cat((bias_hh[:-hidden], bias_hh.new_zeros(hidden)))
    return weights["bias_ih"] + bias_hh


def _candidate_bias(weights: Mapping[str, Tensor], hidden: int, like: Tensor) -> Tensor:
    """``b_hn``, the GRU bias that the reset gate multiplies (zeros without biases)."""
    if "bias_hh" in weights:
        return weights["bias_hh"][-hidden:]
    return like.new_zeros(hidden)


def rnn_scan_inputs(sequence: Tensor, weights: Mapping[str, Tensor], nonlinearity: str
                    ) -> ScanInputs:
    """Kernel, projection and parameters of an Elman RNN layer-direction."""
    hidden = weights["weight_hh"].shape[1]
    xproj = F.linear(sequence, weights["weight_ih"], _folded_bias(weights, hidden, False))
    return RNNKernel(nonlinearity), xproj, (weights["weight_hh"],)


def lstm_scan_inputs(sequence: Tensor, weights: Mapping[str, Tensor], *, peephole: bool,
                     layer_norm: bool) -> ScanInputs:
    """Kernel, projection and parameters of an LSTM layer-direction."""
    hidden = weights["weight_hh"].shape[1]
    if layer_norm:
        xproj = layer_norm_input_projection(sequence, weights,
                                            _folded_bias(weights, hidden, keep_last=False))
        params = tuple(weights[name] for name in ("weight_hh", "ln_hh_weight", "ln_hh_bias",
                                                   "ln_cell_weight", "ln_cell_bias"))
        return LayerNormLSTMKernel(), xproj, params
    xproj = F.linear(sequence, weights["weight_ih"], _folded_bias(weights, hidden, False))
    params = (weights["weight_hh"],)
    if peephole:
        params += (weights["weight_ci"], weights["weight_cf"], weights["weight_co"])
    return LSTMKernel(peephole), xproj, params


def gru_scan_inputs(sequence: Tensor, weights: Mapping[str, Tensor], *, reset_after: bool,
                    layer_norm: bool) -> ScanInputs:
    """Kernel, projection and parameters of a GRU layer-direction."""
    weight = weights["weight_hh"]
    hidden = weight.shape[1]
    if layer_norm:
        xproj = layer_norm_input_projection(sequence, weights,
                                            _folded_bias(weights, hidden, keep_last=True))
        params = (weight, weights["ln_hh_weight"], weights["ln_hh_bias"],
                  _candidate_bias(weights, hidden, weight))
        return LayerNormGRUKernel(), xproj, params
    bias = _folded_bias(weights, hidden, keep_last=reset_after)
    xproj = F.linear(sequence, weights["weight_ih"], bias)
    if reset_after:
        return GRUKernel(True), xproj, (weight, _candidate_bias(weights, hidden, weight))
    return GRUKernel(False), xproj, (weight,)
