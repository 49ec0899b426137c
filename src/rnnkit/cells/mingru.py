r"""The minGRU step (Feng et al. 2024, section 3.1): a GRU whose gates read the input only.

.. math::
    z_t = \sigma(W_z x_t + b_z), \quad \tilde h_t = W_h x_t + b_h
    \ (\text{or } g(W_h x_t + b_h)), \quad h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t

No ``weight_hh``: the state enters only through the update, which is what lets a whole
sequence run as one parallel scan (:mod:`rnnkit.engine.linear_scan`).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells.minimal import MinimalCell, candidate


def mingru_coefficients(projection: Tensor, form: str) -> tuple[Tensor, Tensor]:
    """``(log a, b)`` of ``h_t = a * h_{t-1} + b`` from ``W x + b`` (..., 2 * hidden).

    Gate order: update ``z``, then the candidate. ``a = 1 - z = sigmoid(-k)`` is taken as
    ``logsigmoid(-k)``, exact where ``1 - sigmoid(k)`` would round to 0.
    """
    gate, pre_activation = projection.chunk(2, dim=-1)
    return F.logsigmoid(-gate), torch.sigmoid(gate) * candidate(pre_activation, form)


class MinGRUCell(MinimalCell):
    r"""One minGRU step (module docstring for the equations).

    Args:
        input_size: features of ``x``.
        hidden_size: features of ``h``.
        bias: whether the projection has ``bias_ih``.
        form: ``"log"`` (the paper's log-space form, ``h~ = g(W_h x + b_h) > 0``) or
            ``"linear"`` (``h~ = W_h x + b_h``); see :mod:`rnnkit.cells.minimal`.

    Parameters: ``weight_ih`` (2 * hidden, input) and ``bias_ih`` (2 * hidden), gates
    ``z`` then ``h~``, from U(-k, k) with k = 1 / sqrt(hidden_size) as torch.nn's cells.

    Shapes:
        input:  (batch, input_size) or (input_size,)
        hx:     (batch, hidden_size) or (hidden_size,); zeros if omitted
        output: h', as hx

    Example:
        >>> cell = MinGRUCell(3, 4)
        >>> cell(torch.randn(2, 3)).shape
        torch.Size([2, 4])
    """

    gates = 2
    coefficients = staticmethod(mingru_coefficients)
