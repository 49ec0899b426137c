"""What rnnkit's stacked layers share: parameters under torch.nn's names and the checks of
a forward's input.

A layer keeps one parameter per torch.nn name (``weight_ih_l0``, ``bias_hh_l1_reverse``,
``weight_hr_l0``). Which path computes its forward (torch's fused kernel, rnnkit's scan
engine, the step loop) is decided and run in :mod:`rnnkit.layers.dispatch`; its state (the
zeros it starts from, the check of a given one) is :mod:`rnnkit.layers.state`'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.cells.base import State
from rnnkit.cells.init import check_init, initialize_parameters
from rnnkit.cells.layernorm import layer_norm_input_projection
from rnnkit.engine import native_unavailable_reason
from rnnkit.engine.scan import ScanKernel, Tensors
from rnnkit.layers.dispatch import (
    BACKEND_FUSED,
    ENGINES,
    choose_backend,
    fused_on_packed,
    run_padded,
)
from rnnkit.layers.dropout import (
    ForwardDraws,
    check_dropout_probability,
    check_layer_dropout,
    draw_dropout,
)
from rnnkit.layers.fused import autocast_blocker
from rnnkit.layers.sequences import time_major_input
from rnnkit.layers.state import RecurrentState, from_autocast, initial_state, public_state
from rnnkit.validation import (
    check_choice,
    check_input,
    check_positive_int,
)

#: Gate blocks stacked in ``weight_ih`` per mode.
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RecurrentLayer(nn.Module):
    """Base of :class:`RNN`, :class:`LSTM` and :class:`GRU`: parameters, checks, dispatch.

    Subclasses define the cell: :meth:`cell_parameter_shapes`, :meth:`step`,
    :meth:`scan_inputs`, :meth:`state_sizes`, and what keeps them off the fused kernels.
    """

    #: Layer-normalized cell (Ba et al. 2016); LSTM and GRU take it as an argument.
    layer_norm: bool = False

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bias: bool,
        batch_first: bool,
        dropout: float,
        bidirectional: bool,
        *,
        proj_size: int = 0,
        recurrent_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        init: str = "uniform",
        engine: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.recurrent_dropout = check_dropout_probability(owner, "recurrent_dropout",
                                                           recurrent_dropout)
        self.weight_dropout = check_dropout_probability(owner, "weight_dropout", weight_dropout)
        self.mode = mode
        self.input_size = check_positive_int(owner, "input_size", input_size)
        self.hidden_size = check_positive_int(owner, "hidden_size", hidden_size)
        self.num_layers = check_positive_int(owner, "num_layers", num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = check_layer_dropout(owner, dropout, num_layers)
        self.bidirectional = bool(bidirectional)
        self.proj_size = proj_size
        self.init = check_init(init)
        self.engine = check_choice(owner, "engine", engine, ENGINES)
        self._last_backend: str | None = None
        # (layer, direction) -> base names, e.g. "weight_ih", registered as "weight_ih_l0".
        self._cell_names: dict[tuple[int, int], tuple[str, ...]] = {}
        for layer, direction in self._cells():
            layer_input = self.input_size if layer == 0 else self.output_size * self.num_directions
            shapes = self.cell_parameter_shapes(layer_input)
            self._cell_names[layer, direction] = tuple(shapes)
            for name, shape in shapes.items():
                param = nn.Parameter(torch.empty(shape, device=device, dtype=dtype))
                self.register_parameter(name + _suffix(layer, direction), param)
        self.reset_parameters()

    # --- what a subclass defines -------------------------------------------------------
    def cell_parameter_shapes(self, layer_input_size: int) -> dict[str, tuple[int, ...]]:
        """Base parameter names and shapes of one layer-direction's cell."""
        raise NotImplementedError

    def step(
        self,
        input_projection: Tensor,
        state: State,
        weights: Mapping[str, Tensor],
        recurrent_mask: Tensor | None = None,
    ) -> State:
        """The cell's step function (see :mod:`rnnkit.cells`)."""
        raise NotImplementedError

    def input_projection(self, sequence: Tensor, weights: Mapping[str, Tensor]) -> Tensor:
        """What the step takes as input for every step: ``W_ih x + b_ih``, or
        ``LN(W_ih x) + b_ih`` for a layer-normalized cell."""
        if self.layer_norm:
            return layer_norm_input_projection(sequence, weights)
        return F.linear(sequence, weights["weight_ih"], weights.get("bias_ih"))

    def scan_inputs(
        self, sequence: Tensor, weights: Mapping[str, Tensor]
    ) -> tuple[ScanKernel, Tensor, Tensors]:
        """The engine's kernel, input projection and recurrent parameters (see
        :mod:`rnnkit.engine.inputs`)."""
        raise NotImplementedError

    def cell_engine_blocker(self) -> str | None:
        """Why this cell configuration has no rnnkit scan kernel, or None if it has one."""
        return None

    def native_blocker(self, device: torch.device | str | None = None) -> str | None:
        """Why the scan would run on torch-operator kernels rather than C++ ones, or None."""
        reference = self.weight_ih_l0
        device = torch.device(device) if device is not None else reference.device
        return native_unavailable_reason(device, reference.dtype)

    def state_sizes(self) -> tuple[int, ...]:
        """Feature size of each state tensor: ``(h,)`` or ``(h, c)``."""
        return (self.output_size,)

    def cell_fused_blocker(self) -> str | None:
        """Why this cell configuration has no torch fused kernel, or None if it has one."""
        return None

    def post_init(self, weights: dict[str, Tensor]) -> None:
        """Hook run on each cell's weights after the init scheme."""

    # --- structure ---------------------------------------------------------------------
    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Size of ``h``: ``proj_size`` when projecting, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    def _cells(self) -> Iterator[tuple[int, int]]:
        # A generator, not a list: a checkpoint loader stops a meta build of a hostile
        # num_layers=10**9 after its first few registrations, before 10**9 pairs exist.
        return ((layer, d) for layer in range(self.num_layers)
                for d in range(self.num_directions))

    def cell_weights(self, layer: int, direction: int) -> dict[str, Tensor]:
        """One layer-direction's parameters by base name (``weight_ih``, ``bias_hh`` ...)."""
        suffix = _suffix(layer, direction)
        return {name: getattr(self, name + suffix) for name in self._cell_names[layer, direction]}

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """Parameters grouped per layer and direction, as ``torch.nn.LSTM.all_weights``."""
        return [list(self.cell_weights(layer, d).values()) for layer, d in self._cells()]

    def flat_weights(self, draws: ForwardDraws) -> list[Tensor]:
        """The weights in torch's flat order, after this forward's DropConnect."""
        torch_names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        flat = []
        for cell in self._cells():
            weights = draws.weights[cell]
            flat.extend(weights[name] for name in torch_names if name in weights)
        return flat

    def reset_parameters(self) -> None:
        """Re-draw every parameter with the layer's ``init`` scheme."""
        for layer, d in self._cells():
            weights = self.cell_weights(layer, d)
            initialize_parameters(weights, self.init, self.hidden_size, GATES[self.mode])
            self.post_init(weights)

    def flatten_parameters(self) -> None:
        """Accepted for torch.nn compatibility; rnnkit keeps one tensor per parameter."""

    # --- dispatch ----------------------------------------------------------------------
    def fused_blocker(self, device: torch.device | str | None = None) -> str | None:
        """Why this layer would not run on torch's fused kernels on ``device`` (default: its
        parameters'), with the autocast active now, or None if it would."""
        if self.engine != "auto":
            return f"engine={self.engine!r} was requested"
        if self.recurrent_dropout and self.training:
            return ("recurrent_dropout masks h inside the recurrence, which torch's fused "
                    "kernels cannot do")
        device = torch.device(device) if device is not None else self.weight_ih_l0.device
        return self.cell_fused_blocker() or autocast_blocker(device)

    def engine_blocker(self) -> str | None:
        """Why this layer would not run on rnnkit's scan engine, or None if it would."""
        if self.engine == "loop":
            return "engine='loop' was requested"
        return self.cell_engine_blocker()

    def backend_for(self, device: torch.device | str | None = None) -> str:
        """The path a forward on ``device`` (default: the parameters') takes now."""
        return choose_backend(self, device)

    @property
    def backend(self) -> str:
        """The path the last forward took: ``"torch-fused"``, ``"single-step"``,
        ``"rnnkit-fused"``, ``"rnnkit-scan"`` or ``"loop"``. Before the first forward, the
        path it would take (for more than one step).
        """
        return self._last_backend or self.backend_for()

    # --- forward -----------------------------------------------------------------------
    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: RecurrentState | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, RecurrentState]:
        """Run the stack over a sequence. See the class docstring for shapes."""
        reference = self._reference_parameter()
        input, hx = from_autocast((input, hx), reference.dtype)
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, lengths)
        input, lengths, batched = time_major_input(
            type(self).__name__, input, lengths, input_size=self.input_size,
            batch_first=self.batch_first, reference=reference)
        batch = input.shape[1]
        state = self._initial_state(hx, batch, batched, input)
        output, state = run_padded(self, input, state, lengths, self._draw(batch, input))
        if not batched:
            output = output.squeeze(1)
            state = tuple(s.squeeze(1) for s in state)
        elif self.batch_first:
            output = output.transpose(0, 1)  # (batch, time, directions * output_size)
        return output, public_state(state)

    def _draw(self, batch: int, like: Tensor) -> ForwardDraws:
        return draw_dropout(
            {cell: self.cell_weights(*cell) for cell in self._cells()}, batch, self.output_size,
            recurrent=self.recurrent_dropout if self.training else 0.0,
            weight=self.weight_dropout if self.training else 0.0, like=like,
        )

    def _forward_packed(
        self, packed: PackedSequence, hx: object, lengths: object
    ) -> tuple[PackedSequence, RecurrentState]:
        owner = type(self).__name__
        if lengths is not None:
            raise ValueError(f"{owner} takes either a PackedSequence or lengths, not both")
        reference = self._reference_parameter()
        check_input(owner, packed.data, features=self.input_size, batched_dims=2,
                    dtype=reference.dtype, device=reference.device)
        batch = int(packed.batch_sizes[0])
        state = self._initial_state(hx, batch, True, packed.data)
        if self.backend_for(packed.data.device) == BACKEND_FUSED:
            self._last_backend = BACKEND_FUSED
            output, state = fused_on_packed(self, packed, state, self._draw(batch, packed.data))
            return output, public_state(state)
        padded, lengths = pad_packed_sequence(packed)  # (time, batch, features), caller order
        output, state = run_padded(self, padded, state, lengths, self._draw(batch, padded))
        if packed.sorted_indices is not None:
            output = output.index_select(1, packed.sorted_indices)
            lengths = lengths[packed.sorted_indices.cpu()]
        data = pack_padded_sequence(output, lengths, enforce_sorted=True).data
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                              packed.unsorted_indices), public_state(state)

    # --- state -------------------------------------------------------------------------
    def _reference_parameter(self) -> Tensor:
        return self.weight_ih_l0

    def _initial_state(self, hx: object, batch: int, batched: bool, input: Tensor) -> State:
        return initial_state(type(self).__name__, hx, self.state_sizes(),
                             self.num_layers * self.num_directions, batch, batched, input)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False, "proj_size": 0, "recurrent_dropout": 0.0,
                    "weight_dropout": 0.0, "init": "uniform", "engine": "auto"}
        for name, default in defaults.items():
            value = getattr(self, name)
            if value != default:
                text += f", {name}={value!r}"
        return text


def _suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction else "")
