"""The vanilla (Elman) RNN step, tanh or ReLU."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells.base import RecurrentCell, State
from rnnkit.validation import check_choice

NONLINEARITIES = ("tanh", "relu")


def rnn_parameter_shapes(
    input_size: int, hidden_size: int, bias: bool
) -> dict[str, tuple[int, ...]]:
    """Shapes of one RNN cell's parameters, in torch.nn's order."""
    shapes = {"weight_ih": (hidden_size, input_size), "weight_hh": (hidden_size, hidden_size)}
    if bias:
        shapes.update(bias_ih=(hidden_size,), bias_hh=(hidden_size,))
    return shapes


def rnn_step(
    input_projection: Tensor,
    state: State,
    weights: Mapping[str, Tensor],
    *,
    nonlinearity: str,
    recurrent_mask: Tensor | None = None,
) -> State:
    """One step: h' = act(W_ih x + b_ih + W_hh h + b_hh).

    ``input_projection`` is ``W_ih x + b_ih`` of shape (batch, hidden), computed by the
    caller so that a layer can project every time step in one matrix product.
    ``recurrent_mask`` (batch, hidden), if given, multiplies ``h`` before ``W_hh``.
    """
    (h,) = state
    h_in = h if recurrent_mask is None else h * recurrent_mask
    pre = input_projection + F.linear(h_in, weights["weight_hh"], weights.get("bias_hh"))
    return (torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre),)


class RNNCell(RecurrentCell):
    r"""One step of an Elman RNN, a drop-in for :class:`torch.nn.RNNCell`.

    .. math::
        h' = \phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh}),\quad \phi \in \{\tanh, \mathrm{ReLU}\}

    Args:
        input_size: features in the input ``x``.
        hidden_size: features in the hidden state ``h``.
        bias: whether to use ``b_ih`` and ``b_hh``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        init: ``"uniform"`` (torch.nn's), ``"orthogonal"``, ``"xavier"`` or ``"identity"``
            (the IRNN of Le et al. 2015: with ``nonlinearity="relu"`` it keeps gradients
            from vanishing on long sequences).

    Shapes:
        input:  (batch, input_size) or (input_size,)
        hx:     (batch, hidden_size) or (hidden_size,); zeros when omitted
        output: (batch, hidden_size) or (hidden_size,)

    Example:
        >>> cell = RNNCell(3, 5, nonlinearity="relu", init="identity")
        >>> cell(torch.randn(2, 3)).shape
        torch.Size([2, 5])
    """

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        *,
        init: str = "uniform",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.nonlinearity = check_choice(type(self).__name__, "nonlinearity", nonlinearity,
                                         NONLINEARITIES)
        super().__init__(input_size, hidden_size, bias, init=init, device=device, dtype=dtype)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return rnn_parameter_shapes(self.input_size, self.hidden_size, self.bias)

    def step(self, input_projection: Tensor, state: State, weights: Mapping[str, Tensor]) -> State:
        return rnn_step(input_projection, state, weights, nonlinearity=self.nonlinearity)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """Advance one step; returns the new hidden state."""
        (h,) = self._run(input, None if hx is None else (hx,))
        return h

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")
