"""The GRU step in both published forms: reset after the matrix product (cuDNN) or before."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells.base import RecurrentCell, State


def gru_parameter_shapes(
    input_size: int, hidden_size: int, bias: bool
) -> dict[str, tuple[int, ...]]:
    """Shapes of one GRU cell's parameters, in torch.nn's order."""
    shapes = {
        "weight_ih": (3 * hidden_size, input_size),
        "weight_hh": (3 * hidden_size, hidden_size),
    }
    if bias:
        shapes.update(bias_ih=(3 * hidden_size,), bias_hh=(3 * hidden_size,))
    return shapes


def gru_step(
    input_projection: Tensor,
    state: State,
    weights: Mapping[str, Tensor],
    *,
    reset_after: bool,
    recurrent_mask: Tensor | None = None,
) -> State:
    """One GRU step from ``W_ih x + b_ih`` (batch, 3 * hidden) and ``(h,)``.

    Gate order is torch.nn's: reset, update, candidate. ``recurrent_mask`` (batch, hidden),
    if given, multiplies ``h`` where it enters the recurrent products, not where the update
    gate carries it over (Keras' recurrent dropout).
    """
    (h,) = state
    h_in = h if recurrent_mask is None else h * recurrent_mask
    hidden = h.shape[1]
    x_r, x_z, x_n = input_projection.chunk(3, dim=1)
    weight_hh, bias_hh = weights["weight_hh"], weights.get("bias_hh")
    if reset_after:
        h_r, h_z, h_n = F.linear(h_in, weight_hh, bias_hh).chunk(3, dim=1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
    else:
        bias_rz = None if bias_hh is None else bias_hh[: 2 * hidden]
        bias_n = None if bias_hh is None else bias_hh[2 * hidden :]
        h_r, h_z = F.linear(h_in, weight_hh[: 2 * hidden], bias_rz).chunk(2, dim=1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + F.linear(r * h_in, weight_hh[2 * hidden :], bias_n))
    return ((1 - z) * n + z * h,)


class GRUCell(RecurrentCell):
    r"""One GRU step, a drop-in for :class:`torch.nn.GRUCell` that also has the original form.

    .. math::
        r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z &= \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n &= \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn}))
             &&\text{reset_after=True (cuDNN, torch.nn, Keras default)} \\
        n &= \tanh(W_{in} x + b_{in} + W_{hn} (r \odot h) + b_{hn})
             &&\text{reset_after=False (Cho et al. 2014)} \\
        h' &= (1 - z) \odot n + z \odot h

    The two forms have the same parameters but are different functions: weights trained in
    one form do not give the same outputs in the other. ``reset_after=True`` lets the
    recurrent product for all three gates be one matrix product, which is why cuDNN chose it.

    Args:
        input_size, hidden_size, bias: as in torch.nn.
        reset_after: which form of the candidate ``n`` to use (see above).
        init: ``"uniform"`` (torch.nn's), ``"orthogonal"``, ``"xavier"`` or ``"identity"``.

    Shapes:
        input:  (batch, input_size) or (input_size,)
        hx:     (batch, hidden_size) or (hidden_size,); zeros when omitted
        output: (batch, hidden_size) or (hidden_size,)

    Example:
        >>> cell = GRUCell(3, 5, reset_after=False)
        >>> cell(torch.randn(2, 3)).shape
        torch.Size([2, 5])
    """

    gates = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        reset_after: bool = True,
        init: str = "uniform",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.reset_after = bool(reset_after)
        super().__init__(input_size, hidden_size, bias, init=init, device=device, dtype=dtype)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return gru_parameter_shapes(self.input_size, self.hidden_size, self.bias)

    def step(self, input_projection: Tensor, state: State, weights: Mapping[str, Tensor]) -> State:
        return gru_step(input_projection, state, weights, reset_after=self.reset_after)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """Advance one step; returns the new hidden state."""
        (h,) = self._run(input, None if hx is None else (hx,))
        return h

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text + ("" if self.reset_after else ", reset_after=False")
