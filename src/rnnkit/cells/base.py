"""What every rnnkit cell shares: parameters by base name, initialization, input checks.

A cell is one step of a recurrence. Its math lives in a pure function
``step(input_projection, state, weights)`` so that a layer, which owns parameters under
torch.nn's per-layer names, can run exactly the same step over time.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.cells.init import check_init, initialize_parameters
from rnnkit.validation import check_input, check_positive_int, check_state

State = tuple[Tensor, ...]
"""A cell's state as a tuple, the output first: ``(h,)`` or ``(h, c)``."""


class RecurrentCell(nn.Module):
    """Base class of one-step recurrent cells.

    Subclasses set ``gates`` (gate blocks stacked in ``weight_ih``) and define
    :meth:`parameter_shapes` and :meth:`step`. The state is handled internally as a tuple
    whose first entry is the output ``h``; ``forward`` returns it in torch.nn's form.
    """

    gates: int = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        init: str = "uniform",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = check_positive_int(owner, "input_size", input_size)
        self.hidden_size = check_positive_int(owner, "hidden_size", hidden_size)
        self.bias = bool(bias)
        self.init = check_init(init)
        for name, shape in self.parameter_shapes().items():
            self.register_parameter(
                name, nn.Parameter(torch.empty(shape, device=device, dtype=dtype))
            )
        self.reset_parameters()

    # --- what a subclass defines -------------------------------------------------------
    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Base parameter names mapped to shapes, in registration order."""
        raise NotImplementedError

    def step(self, input_projection: Tensor, state: State, weights: Mapping[str, Tensor]) -> State:
        """One step from ``W_ih x + b_ih`` (batch, gates * hidden) and the state tuple."""
        raise NotImplementedError

    def state_sizes(self) -> tuple[int, ...]:
        """Feature size of each entry of the state tuple."""
        return (self.hidden_size,)

    def post_init(self) -> None:
        """Hook run after the init scheme, e.g. to set the LSTM forget-gate bias."""

    # --- shared machinery --------------------------------------------------------------
    def reset_parameters(self) -> None:
        """Re-draw every parameter with the cell's ``init`` scheme."""
        initialize_parameters(self.weights(), self.init, self.hidden_size, self.gates)
        self.post_init()

    def weights(self) -> dict[str, Tensor]:
        """The cell's parameters by base name (``weight_ih``, ``bias_hh``, ...)."""
        return dict(self.named_parameters(recurse=False))

    def _run(self, input: Tensor, hx: State | None) -> State:
        owner = type(self).__name__
        ref = self.weight_ih
        input = check_input(
            owner, input, features=self.input_size, batched_dims=2, dtype=ref.dtype,
            device=ref.device,
        )
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)  # (1, input_size)
        state = self._initial_state(input, hx, batched)
        weights = self.weights()
        projection = F.linear(input, weights["weight_ih"], weights.get("bias_ih"))
        new_state = self.step(projection, state, weights)
        return new_state if batched else tuple(s.squeeze(0) for s in new_state)

    def _initial_state(self, input: Tensor, hx: State | None, batched: bool) -> State:
        batch = input.shape[0]
        names = ("hx",) if len(self.state_sizes()) == 1 else ("h_0", "c_0")
        if hx is None:
            return tuple(input.new_zeros(batch, size) for size in self.state_sizes())
        checked = []
        for name, tensor, size in zip(names, hx, self.state_sizes(), strict=True):
            expected = (batch, size) if batched else (size,)
            tensor = check_state(type(self).__name__, name, tensor, expected, input.dtype,
                                 input.device)
            checked.append(tensor if batched else tensor.unsqueeze(0))
        return tuple(checked)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if self.init != "uniform":
            text += f", init={self.init!r}"
        return text
