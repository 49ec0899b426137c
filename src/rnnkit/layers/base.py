"""What rnnkit's stacked layers share: parameters under torch.nn's names, checks, dispatch.

A layer keeps one parameter per torch.nn name (``weight_ih_l0``, ``bias_hh_l1_reverse``,
``weight_hr_l0``) and runs on one of three paths: torch's fused kernel when the
configuration is one torch.nn has (``torch-fused``), rnnkit's scan engine for the cells
torch lacks (``rnnkit-fused`` with its C++ kernels, ``rnnkit-scan`` with torch-operator
kernels), or a loop over the cell's step function (``loop``, the slow twin every fast path
is checked against). One exception to the first: a single time step without lengths on
the CPU, where torch's fused kernel would run, runs the cell's step function instead
(``single-step``): the fused kernel's setup costs several times the step itself there
(a 2 x 256 LSTM step at batch 1: 2.4 ms in torch's kernel, 0.3 ms as plain matrix
products), and generation and stepped decoders call a layer one step at a time.
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Callable, Iterator, Mapping

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.cells.base import State
from rnnkit.cells.init import check_init, initialize_parameters
from rnnkit.cells.layernorm import layer_norm_input_projection
from rnnkit.engine import BACKEND_NATIVE, native_kernel, native_unavailable_reason
from rnnkit.engine.scan import ScanKernel, Tensors, scan
from rnnkit.layers.dropout import ForwardDraws, check_dropout_probability, draw_dropout
from rnnkit.layers.fused import FusedSettings, fused_packed, fused_padded
from rnnkit.layers.recurrent import run_over_time
from rnnkit.layers.sequences import reverse_padded, sorted_batch_sizes
from rnnkit.validation import (
    check_choice,
    check_input,
    check_lengths,
    check_positive_int,
    check_state,
    check_tensor,
    shape_text,
)

ENGINES = ("auto", "rnnkit", "loop")
BACKEND_FUSED = "torch-fused"
BACKEND_SCAN = "rnnkit-scan"
BACKEND_LOOP = "loop"
BACKEND_STEP = "single-step"

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
        self.dropout = _check_dropout(owner, dropout, num_layers)
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

    def _flat_weights(self, draws: ForwardDraws) -> list[Tensor]:
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
    def fused_blocker(self) -> str | None:
        """Why this layer would not run on torch's fused kernels, or None if it would."""
        if self.engine != "auto":
            return f"engine={self.engine!r} was requested"
        if self.recurrent_dropout and self.training:
            return ("recurrent_dropout masks h inside the recurrence, which torch's fused "
                    "kernels cannot do")
        return self.cell_fused_blocker()

    def engine_blocker(self) -> str | None:
        """Why this layer would not run on rnnkit's scan engine, or None if it would."""
        if self.engine == "loop":
            return "engine='loop' was requested"
        return self.cell_engine_blocker()

    def backend_for(self, device: torch.device | str | None = None) -> str:
        """The path a forward on ``device`` (default: the parameters') takes now."""
        if self.fused_blocker() is None:
            return BACKEND_FUSED
        if self.engine_blocker() is not None:
            return BACKEND_LOOP
        if torch.compiler.is_compiling():
            # Dynamo cannot trace into the C++ extension; the torch-operator kernels compute
            # the same recurrence and compile into the graph without a break.
            return BACKEND_SCAN
        return BACKEND_NATIVE if self.native_blocker(device) is None else BACKEND_SCAN

    @property
    def backend(self) -> str:
        """The path the last forward took: ``"torch-fused"``, ``"single-step"``,
        ``"rnnkit-fused"``, ``"rnnkit-scan"`` or ``"loop"``. Before the first forward, the
        path it would take (for more than one step).
        """
        return self._last_backend or self.backend_for()

    def _settings(self) -> FusedSettings:
        return FusedSettings(self.mode, self.bias, self.num_layers, self.dropout, self.training,
                             self.bidirectional)

    # --- forward -----------------------------------------------------------------------
    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | tuple[Tensor, Tensor] | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, Tensor | tuple[Tensor, Tensor]]:
        """Run the stack over a sequence. See the class docstring for shapes."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, lengths)
        owner = type(self).__name__
        reference = self._reference_parameter()
        input = check_input(owner, input, features=self.input_size, batched_dims=3,
                            dtype=reference.dtype, device=reference.device)
        batched = input.dim() == 3
        if not batched:
            if lengths is not None:
                raise ValueError(f"{owner} expected batched 3-D input when lengths is given, "
                                 f"got shape {shape_text(input)}")
            input = input.unsqueeze(1)  # (time, 1, features)
        elif self.batch_first:
            input = input.transpose(0, 1)  # (time, batch, features)
        time, batch = input.shape[0], input.shape[1]
        if time == 0:
            raise ValueError(f"{owner} expected at least one time step, got an empty time axis")
        state = self._prepare_state(hx, batch, batched, input)
        if lengths is not None:
            lengths = check_lengths(owner, lengths, batch=batch, time=time)
            if bool((lengths == time).all()):
                lengths = None
        output, state = self._run(input, state, lengths)
        if not batched:
            output = output.squeeze(1)
            state = tuple(s.squeeze(1) for s in state)
        elif self.batch_first:
            output = output.transpose(0, 1)  # (batch, time, directions * output_size)
        return output, self._public_state(state)

    def _draw(self, batch: int, like: Tensor) -> ForwardDraws:
        return draw_dropout(
            {cell: self.cell_weights(*cell) for cell in self._cells()}, batch, self.output_size,
            recurrent=self.recurrent_dropout if self.training else 0.0,
            weight=self.weight_dropout if self.training else 0.0, like=like,
        )

    def _run(
        self, input: Tensor, state: State, lengths: Tensor | None
    ) -> tuple[Tensor, State]:
        draws = self._draw(input.shape[1], input)
        self._last_backend = backend = self.backend_for(input.device)
        if backend == BACKEND_FUSED and _one_cpu_step(input, lengths):
            self._last_backend = BACKEND_STEP
            return self._run_loop(input, state, None, draws)
        if backend == BACKEND_FUSED:
            if lengths is None:
                return fused_padded(self._settings(), input, state, self._flat_weights(draws))
            packed = pack_padded_sequence(input, lengths, enforce_sorted=False)
            output, state = self._fused_on_packed(packed, state, draws)
            padded, _ = pad_packed_sequence(output, total_length=input.shape[0])
            return padded, state
        device_type = input.device.type
        if torch.is_autocast_enabled(device_type):
            # rnnkit's own kernels run in the parameters' precision (see
            # rnnkit.training.precision): autocast would hand them mixed dtypes.
            with torch.autocast(device_type, enabled=False):
                return self._run_unfused(backend, input, state, lengths, draws)
        return self._run_unfused(backend, input, state, lengths, draws)

    def _run_unfused(
        self, backend: str, input: Tensor, state: State, lengths: Tensor | None,
        draws: ForwardDraws,
    ) -> tuple[Tensor, State]:
        if backend == BACKEND_LOOP:
            return self._run_loop(input, state, lengths, draws)
        return self._run_engine(input, state, lengths, draws, native=backend == BACKEND_NATIVE)

    def _fused_on_packed(
        self, packed: PackedSequence, state: State, draws: ForwardDraws
    ) -> tuple[PackedSequence, State]:
        """Fused kernel on packed data; ``state`` is in the caller's batch order."""
        if packed.sorted_indices is not None:
            state = tuple(s.index_select(1, packed.sorted_indices) for s in state)
        data, state = fused_packed(self._settings(), packed.data, packed.batch_sizes, state,
                                   self._flat_weights(draws))
        if packed.unsorted_indices is not None:
            state = tuple(s.index_select(1, packed.unsorted_indices) for s in state)
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                              packed.unsorted_indices), state

    def _run_loop(
        self, input: Tensor, state: State, lengths: Tensor | None, draws: ForwardDraws
    ) -> tuple[Tensor, State]:
        """The reference path: every layer and direction stepped in Python."""
        lengths = None if lengths is None else lengths.to(input.device)

        def run_cell(sequence: Tensor, cell: tuple[int, int], cell_state: State
                     ) -> tuple[Tensor, State]:
            weights, mask = draws.weights[cell], draws.masks[cell]
            step = self.step if mask is None else functools.partial(self.step,
                                                                     recurrent_mask=mask)
            projection = self.input_projection(sequence, weights)
            return run_over_time(step, projection, cell_state, weights, lengths)

        return self._run_stack(input, state, lengths, run_cell)

    def _run_engine(
        self, input: Tensor, state: State, lengths: Tensor | None, draws: ForwardDraws,
        *, native: bool,
    ) -> tuple[Tensor, State]:
        """rnnkit's scan engine; a ragged batch is sorted longest first, as cuDNN wants it."""
        batch_sizes = order = None
        if lengths is not None:
            lengths = lengths.to(input.device)
            order = torch.argsort(lengths, descending=True, stable=True)
            input, lengths = input.index_select(1, order), lengths.index_select(0, order)
            state = tuple(s.index_select(1, order) for s in state)
            batch_sizes = sorted_batch_sizes(lengths, input.shape[0])

        def run_cell(sequence: Tensor, cell: tuple[int, int], cell_state: State
                     ) -> tuple[Tensor, State]:
            kernel, xproj, params = self.scan_inputs(sequence, draws.weights[cell])
            mask = draws.masks[cell]
            if order is not None and mask is not None:
                mask = mask.index_select(0, order)
            return scan(native_kernel(kernel) if native else kernel, xproj, cell_state, params,
                        mask, batch_sizes)

        output, state = self._run_stack(input, state, lengths, run_cell)
        if order is None:
            return output, state
        inverse = torch.argsort(order)
        return output.index_select(1, inverse), tuple(s.index_select(1, inverse) for s in state)

    def _run_stack(
        self,
        input: Tensor,
        state: State,
        lengths: Tensor | None,
        run_cell: Callable[[Tensor, tuple[int, int], State], tuple[Tensor, State]],
    ) -> tuple[Tensor, State]:
        """Layers and directions around ``run_cell``: reversal, concatenation, dropout."""
        layer_input, finals = input, []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                sequence = layer_input if direction == 0 else reverse_padded(layer_input, lengths)
                output, final = run_cell(sequence, (layer, direction),
                                         tuple(s[index] for s in state))
                outputs.append(output if direction == 0 else reverse_padded(output, lengths))
                finals.append(final)
            layer_input = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        return layer_input, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))

    def _forward_packed(
        self, packed: PackedSequence, hx: object, lengths: object
    ) -> tuple[PackedSequence, Tensor | tuple[Tensor, Tensor]]:
        owner = type(self).__name__
        if lengths is not None:
            raise ValueError(f"{owner} takes either a PackedSequence or lengths, not both")
        reference = self._reference_parameter()
        check_input(owner, packed.data, features=self.input_size, batched_dims=2,
                    dtype=reference.dtype, device=reference.device)
        state = self._prepare_state(hx, int(packed.batch_sizes[0]), True, packed.data)
        if self.backend_for(packed.data.device) == BACKEND_FUSED:
            self._last_backend = BACKEND_FUSED
            draws = self._draw(int(packed.batch_sizes[0]), packed.data)
            output, state = self._fused_on_packed(packed, state, draws)
            return output, self._public_state(state)
        padded, lengths = pad_packed_sequence(packed)  # (time, batch, features), caller order
        output, state = self._run(padded, state, lengths)
        if packed.sorted_indices is not None:
            output = output.index_select(1, packed.sorted_indices)
            lengths = lengths[packed.sorted_indices.cpu()]
        data = pack_padded_sequence(output, lengths, enforce_sorted=True).data
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                              packed.unsorted_indices), self._public_state(state)

    # --- state -------------------------------------------------------------------------
    def _reference_parameter(self) -> Tensor:
        return self.weight_ih_l0

    def _state_names(self) -> tuple[str, ...]:
        return ("hx",) if len(self.state_sizes()) == 1 else ("h_0", "c_0")

    def _prepare_state(self, hx: object, batch: int, batched: bool, input: Tensor) -> State:
        owner = type(self).__name__
        stacked = self.num_layers * self.num_directions
        sizes = self.state_sizes()
        if hx is None:
            return tuple(input.new_zeros(stacked, batch, size) for size in sizes)
        parts = self._state_parts(hx)
        checked = []
        for name, tensor, size in zip(self._state_names(), parts, sizes, strict=True):
            expected = (stacked, batch, size) if batched else (stacked, size)
            tensor = check_state(owner, name, tensor, expected, input.dtype, input.device)
            checked.append(tensor if batched else tensor.unsqueeze(1))
        return tuple(checked)

    def _state_parts(self, hx: object) -> tuple[object, ...]:
        if len(self.state_sizes()) == 1:
            return (check_tensor(type(self).__name__, "hx", hx),)
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"{type(self).__name__} expected hx to be a tuple (h_0, c_0), "
                            f"got {type(hx).__name__}")
        return tuple(hx)

    def _public_state(self, state: State) -> Tensor | tuple[Tensor, Tensor]:
        return state[0] if len(state) == 1 else (state[0], state[1])

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


def _check_dropout(owner: str, dropout: object, num_layers: int) -> float:
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number):
        raise TypeError(f"{owner} expected dropout to be a number, got {type(dropout).__name__}")
    if not 0 <= float(dropout) <= 1:
        raise ValueError(f"{owner} expected dropout in [0, 1], got {dropout}")
    if dropout > 0 and num_layers == 1:
        warnings.warn(f"{owner}: dropout={dropout} applies between layers only, so with "
                      "num_layers=1 it does nothing", stacklevel=4)
    return float(dropout)


def _one_cpu_step(input: Tensor, lengths: Tensor | None) -> bool:
    """A single step of full rows on the CPU: cheaper as the cell's own step function
    than through torch's fused kernel (module docstring). ``input`` is (time, batch, f)."""
    return input.shape[0] == 1 and lengths is None and input.device.type == "cpu"
