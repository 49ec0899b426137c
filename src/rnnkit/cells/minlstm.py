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

from collections.abc import Mapping

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells.base import RecurrentCell, State
from rnnkit.cells.minimal import candidate, check_form, minimal_step


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


class MinLSTMCell(RecurrentCell):
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

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 form: str = "log", device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        self.form = check_form(type(self).__name__, form)
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {"weight_ih": (3 * self.hidden_size, self.input_size)}
        return {**shapes, "bias_ih": (3 * self.hidden_size,)} if self.bias else shapes

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step; see the class docstring for shapes."""
        (h,) = self._run(input, None if hx is None else (hx,))
        return h

    def step(self, input_projection: Tensor, state: State, weights: Mapping[str, Tensor]) -> State:
        log_a, b = minlstm_coefficients(input_projection, self.form)
        return (minimal_step(log_a, b, state[0]),)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", form={self.form!r}" if self.form != "log" else "")
