"""What minGRU and minLSTM share: the candidate state, its two forms, and the step.

Both cells (Feng et al. 2024, "Were RNNs All We Needed?") compute every gate from the input
alone, so a step is the linear map ``h_t = a_t * h_{t-1} + b_t`` with ``a_t`` and ``b_t``
known from ``x_t``. A cell hands them over as ``(log a_t, b_t)``: the step
(:func:`minimal_step`) and the parallel scan over a whole sequence
(:func:`rnnkit.engine.linear_scan.linear_scan`) then compute the same recurrence.

The candidate ``h~_t`` comes in two forms:

- ``"log"``, the paper's log-space form: ``h~_t = g(W_h x_t + b_h)`` with
  ``g(v) = v + 0.5`` for ``v >= 0`` and ``sigmoid(v)`` below, so that ``h~_t > 0`` and, from
  a non-negative ``h_0``, every state is positive (the paper's parallel mode takes logs of
  them);
- ``"linear"``: ``h~_t = W_h x_t + b_h``, the paper's plain form (states of either sign).

rnnkit's scan accepts either sign, so both forms train in parallel; they are two models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

import torch
from torch import Tensor

from rnnkit.cells.base import RecurrentCell, State
from rnnkit.validation import check_choice

FORMS = ("log", "linear")


def check_form(owner: str, form: str) -> str:
    """``form`` if it is one of :data:`FORMS`, else a ``ValueError`` naming it."""
    return check_choice(owner, "form", form, FORMS)


def positive(value: Tensor) -> Tensor:
    """The paper's ``g``: ``value + 0.5`` where ``value >= 0``, ``sigmoid(value)`` below
    (continuous at 0, always positive).

    >>> positive(torch.tensor([-100.0, 0.0, 2.0])).tolist()
    [0.0, 0.5, 2.5]
    """
    return torch.where(value >= 0, value + 0.5, torch.sigmoid(value))


def candidate(pre_activation: Tensor, form: str) -> Tensor:
    """``h~`` from ``W_h x + b_h`` in ``form`` (module docstring)."""
    return positive(pre_activation) if form == "log" else pre_activation


def minimal_step(log_a: Tensor, b: Tensor, h: Tensor) -> Tensor:
    """One step: ``a * h + b``, with ``a = exp(log_a)``; shapes (batch, hidden)."""
    return torch.exp(log_a) * h + b


class MinimalCell(RecurrentCell):
    """What :class:`~rnnkit.cells.mingru.MinGRUCell` and
    :class:`~rnnkit.cells.minlstm.MinLSTMCell` share: parameters ``weight_ih`` (gates *
    hidden, input) and ``bias_ih``, no ``weight_hh``, the ``form`` option and the step
    ``h' = a * h + b``. A subclass names its ``gates`` and its ``coefficients`` function
    (``W x + b`` -> ``(log a, b)``)."""

    coefficients: ClassVar[Callable[[Tensor, str], tuple[Tensor, Tensor]]]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 form: str = "log", device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        self.form = check_form(type(self).__name__, form)
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {"weight_ih": (self.gates * self.hidden_size, self.input_size)}
        return {**shapes, "bias_ih": (self.gates * self.hidden_size,)} if self.bias else shapes

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """One step; see the subclass's docstring for shapes."""
        (h,) = self._run(input, None if hx is None else (hx,))
        return h

    def step(self, input_projection: Tensor, state: State, weights: Mapping[str, Tensor]) -> State:
        log_a, b = type(self).coefficients(input_projection, self.form)
        return (minimal_step(log_a, b, state[0]),)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", form={self.form!r}" if self.form != "log" else "")
