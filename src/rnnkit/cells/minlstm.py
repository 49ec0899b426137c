r"""The minLSTM step (Feng et al. 2024, section 3.2): forget and input gates from the input
only, normalized to sum to one.

.. math::
    f_t = \sigma(W_f x_t + b_f), \quad i_t = \sigma(W_i x_t + b_i), \quad
    f'_t = \frac{f_t}{f_t + i_t}, \quad i'_t = \frac{i_t}{f_t + i_t}, \\
    \tilde h_t = W_h x_t + b_h \ (\text{or } g(\cdot)), \quad
    h_t = f'_t \odot h_{t-1} + i'_t \odot \tilde h_t

The normalization keeps the state's scale independent of time (the paper's
time-independence); there is no cell state and no output gate: ``h`` is the state.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells.minimal import MinimalCell, candidate


def minlstm_coefficients(projection: Tensor, form: str) -> tuple[Tensor, Tensor]:
    """``(log a, b)`` of ``h_t = a * h_{t-1} + b`` from ``W x + b`` (..., 3 * hidden).

    Gate order: forget, input, candidate. ``log f' = log f - log(f + i)`` with
    ``log(f + i) = logaddexp(log f, log i)``: exact where ``f + i`` is tiny.
    """
    forget, input_gate, pre_activation = projection.chunk(3, dim=-1)
    log_forget, log_input = F.logsigmoid(forget), F.logsigmoid(input_gate)
    log_total = torch.logaddexp(log_forget, log_input)
    weight = torch.exp(log_input - log_total)
    return log_forget - log_total, weight * candidate(pre_activation, form)


class MinLSTMCell(MinimalCell):
    r"""One minLSTM step (module docstring for the equations).

    Args:
        input_size: features of ``x``.
        hidden_size: features of ``h``.
        bias: whether the projection has ``bias_ih``.
        form: ``"log"`` (the paper's log-space form, ``h~ = g(W_h x + b_h) > 0``) or
            ``"linear"`` (``h~ = W_h x + b_h``); see :mod:`rnnkit.cells.minimal`.

    Parameters: ``weight_ih`` (3 * hidden, input) and ``bias_ih`` (3 * hidden), gates
    ``f``, ``i``, ``h~``, from U(-k, k) with k = 1 / sqrt(hidden_size).

    Shapes:
        input:  (batch, input_size) or (input_size,)
        hx:     (batch, hidden_size) or (hidden_size,); zeros if omitted (no cell state)
        output: h', as hx

    Example:
        >>> cell = MinLSTMCell(3, 4)
        >>> cell(torch.randn(2, 3)).shape
        torch.Size([2, 4])
    """

    gates = 3
    coefficients = staticmethod(minlstm_coefficients)
