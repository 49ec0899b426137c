"""The LSTM step: input, forget, cell and output gates, with peephole and projection options."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.cells.base import RecurrentCell, State
from rnnkit.validation import check_positive_int

PEEPHOLE_NAMES = ("weight_ci", "weight_cf", "weight_co")


def check_proj_size(owner: str, proj_size: object, hidden_size: int) -> int:
    """Return ``proj_size`` if 0 <= proj_size < hidden_size, else raise naming it."""
    if isinstance(proj_size, bool) or not isinstance(proj_size, int):
        raise TypeError(f"{owner} expected proj_size to be an int, got {type(proj_size).__name__}")
    if not 0 <= proj_size < hidden_size:
        raise ValueError(
            f"{owner} expected proj_size in [0, hidden_size={hidden_size}), got {proj_size}"
        )
    return proj_size


def lstm_parameter_shapes(
    input_size: int, hidden_size: int, bias: bool, *, proj_size: int, peephole: bool
) -> dict[str, tuple[int, ...]]:
    """Shapes of one LSTM cell's parameters: torch.nn's order, then the peepholes."""
    output_size = proj_size or hidden_size
    shapes = {
        "weight_ih": (4 * hidden_size, input_size),
        "weight_hh": (4 * hidden_size, output_size),
    }
    if bias:
        shapes.update(bias_ih=(4 * hidden_size,), bias_hh=(4 * hidden_size,))
    if proj_size:
        shapes["weight_hr"] = (proj_size, hidden_size)
    if peephole:
        shapes.update({name: (hidden_size,) for name in PEEPHOLE_NAMES})
    return shapes


def lstm_step(
    input_projection: Tensor,
    state: State,
    weights: Mapping[str, Tensor],
    *,
    peephole: bool,
    recurrent_mask: Tensor | None = None,
) -> State:
    """One LSTM step from ``W_ih x + b_ih`` (batch, 4 * hidden) and ``(h, c)``.

    Gate order is torch.nn's: input, forget, cell candidate, output. ``recurrent_mask``
    (batch, hidden), if given, multiplies ``h`` where it enters the recurrent product
    (variational recurrent dropout).
    """
    h, c = state
    h_in = h if recurrent_mask is None else h * recurrent_mask
    gates = input_projection + F.linear(h_in, weights["weight_hh"], weights.get("bias_hh"))
    i, f, g, o = gates.chunk(4, dim=1)
    if peephole:
        i = i + weights["weight_ci"] * c
        f = f + weights["weight_cf"] * c
    c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    if peephole:
        # Gers & Schmidhuber (2000): the output gate peeks at the *new* cell state.
        o = o + weights["weight_co"] * c_next
    h_next = torch.sigmoid(o) * torch.tanh(c_next)
    if "weight_hr" in weights:
        h_next = F.linear(h_next, weights["weight_hr"])
    return h_next, c_next


@torch.no_grad()
def add_forget_bias(bias_ih: Tensor, hidden_size: int, forget_bias: float) -> None:
    """Add ``forget_bias`` to the forget-gate slice of a (4 * hidden,) bias in place."""
    bias_ih[hidden_size : 2 * hidden_size] += forget_bias


class LSTMCell(RecurrentCell):
    r"""One LSTM step, a drop-in for :class:`torch.nn.LSTMCell` with more options.

    .. math::
        i &= \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi} + w_{ci} \odot c) \\
        f &= \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf} + w_{cf} \odot c) \\
        g &= \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \\
        c' &= f \odot c + i \odot g \\
        o &= \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho} + w_{co} \odot c') \\
        h' &= o \odot \tanh(c'), \quad\text{then } h' \leftarrow W_{hr} h' \text{ if proj_size > 0}

    The peephole terms ``w_c* ⊙ c`` (diagonal weights, Gers & Schmidhuber 2000) exist only
    with ``peephole=True``; they are the parameters ``weight_ci``, ``weight_cf``,
    ``weight_co`` of shape (hidden_size,).

    Args:
        input_size, hidden_size, bias: as in torch.nn.
        proj_size: if > 0, ``h`` is projected to this size by ``weight_hr`` (as torch.nn.LSTM).
        peephole: add the peephole connections.
        forget_bias: added to the forget-gate part of ``bias_ih`` after initialization.
            The default 1.0 follows Gers et al. (2000) and Jozefowicz et al. (2015): a
            forget gate that starts open lets gradients flow through the cell state early
            in training. 0 restores torch.nn's initialization. Ignored when ``bias=False``.
        init: ``"uniform"`` (torch.nn's), ``"orthogonal"``, ``"xavier"`` or ``"identity"``;
            peephole weights are drawn like biases (uniform, or zero under the others).

    Shapes:
        input:  (batch, input_size) or (input_size,)
        hx:     tuple (h, c) with h (batch, proj_size or hidden_size), c (batch, hidden_size);
                unbatched without the batch dimension; zeros when omitted
        output: tuple (h', c') shaped like hx

    Trap: torch.nn.LSTMCell has no ``proj_size``; with it, ``h`` is smaller than ``c``.

    Example:
        >>> cell = LSTMCell(3, 5, peephole=True)
        >>> h, c = cell(torch.randn(2, 3))
        >>> h.shape, c.shape
        (torch.Size([2, 5]), torch.Size([2, 5]))
    """

    gates = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        proj_size: int = 0,
        peephole: bool = False,
        forget_bias: float = 1.0,
        init: str = "uniform",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        owner = type(self).__name__
        self.proj_size = check_proj_size(owner, proj_size,
                                         check_positive_int(owner, "hidden_size", hidden_size))
        self.peephole = bool(peephole)
        self.forget_bias = float(forget_bias)
        super().__init__(input_size, hidden_size, bias, init=init, device=device, dtype=dtype)

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        return lstm_parameter_shapes(self.input_size, self.hidden_size, self.bias,
                                     proj_size=self.proj_size, peephole=self.peephole)

    def state_sizes(self) -> tuple[int, ...]:
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def post_init(self) -> None:
        if self.bias and self.forget_bias:
            add_forget_bias(self.bias_ih, self.hidden_size, self.forget_bias)

    def step(self, input_projection: Tensor, state: State, weights: Mapping[str, Tensor]) -> State:
        return lstm_step(input_projection, state, weights, peephole=self.peephole)

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        """Advance one step; returns ``(h', c')``."""
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{type(self).__name__} expected hx to be a tuple (h_0, c_0), "
                            f"got {type(hx).__name__}")
        h, c = self._run(input, None if hx is None else tuple(hx))
        return h, c

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        if self.peephole:
            text += ", peephole=True"
        if self.forget_bias != 0.0:
            text += f", forget_bias={self.forget_bias:g}"
        return text
