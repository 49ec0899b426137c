"""Which path runs a layer's forward, and the paths themselves.

Three paths compute the same recurrence: torch's fused kernel where the configuration is
one torch.nn has (``torch-fused``), rnnkit's scan engine for the cells torch lacks
(``rnnkit-fused`` with its C++ kernels, ``rnnkit-scan`` with torch-operator kernels), or a
loop over the cell's step function (``loop``, the slow twin every fast path is checked
against). One exception to the first: a single time step without lengths on the CPU, where
torch's fused kernel would run, runs the cell's step function instead (``single-step``):
the fused kernel's setup costs several times the step itself there (a 2 x 256 LSTM step at
batch 1: 2.4 ms in torch's kernel, 0.3 ms as plain matrix products), and generation and
stepped decoders call a layer one step at a time.

Every function here takes the layer (a :class:`~rnnkit.layers.base.RecurrentLayer`, seen
through the :class:`RecurrentLayer` protocol: what dispatch reads of it) and inputs
time-major: (time, batch, features), the state as (layers * directions, batch, size)
tensors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Protocol

import torch
from torch import Tensor
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.cells.base import State
from rnnkit.engine import BACKEND_NATIVE, native_kernel
from rnnkit.engine.scan import ScanKernel, Tensors, scan
from rnnkit.layers.dropout import ForwardDraws
from rnnkit.layers.fused import FusedSettings, fused_packed, fused_padded
from rnnkit.layers.recurrent import run_over_time
from rnnkit.layers.sequences import reverse_padded, sorted_batch_sizes

ENGINES = ("auto", "rnnkit", "loop")
BACKEND_FUSED = "torch-fused"
BACKEND_SCAN = "rnnkit-scan"
BACKEND_LOOP = "loop"
BACKEND_STEP = "single-step"

# One cell's run over time in one direction: (sequence, (layer, direction), its state) in,
# (outputs, final state) out.
CellRun = Callable[[Tensor, tuple[int, int], State], tuple[Tensor, State]]


class RecurrentLayer(Protocol):
    """What dispatch reads of a layer: its shape and mode, why a path is blocked, and the
    cell's functions (see :class:`rnnkit.layers.base.RecurrentLayer`)."""

    mode: str
    bias: bool
    num_layers: int
    dropout: float
    training: bool
    bidirectional: bool
    _last_backend: str | None

    @property
    def num_directions(self) -> int: ...

    def fused_blocker(self, device: torch.device | str | None = None) -> str | None: ...

    def engine_blocker(self) -> str | None: ...

    def native_blocker(self, device: torch.device | str | None = None) -> str | None: ...

    def flat_weights(self, draws: ForwardDraws) -> list[Tensor]: ...

    def step(self, input_projection: Tensor, state: State, weights: Mapping[str, Tensor],
             recurrent_mask: Tensor | None = None) -> State: ...

    def input_projection(self, sequence: Tensor, weights: Mapping[str, Tensor]) -> Tensor: ...

    def scan_inputs(self, sequence: Tensor, weights: Mapping[str, Tensor]
                    ) -> tuple[ScanKernel, Tensor, Tensors]: ...


def choose_backend(layer: RecurrentLayer, device: torch.device | str | None = None) -> str:
    """The path a forward of ``layer`` on ``device`` (default: its parameters') takes for
    more than one step: the fastest one nothing blocks."""
    if layer.fused_blocker(device) is None:
        return BACKEND_FUSED
    if layer.engine_blocker() is not None:
        return BACKEND_LOOP
    if torch.compiler.is_compiling():
        # Dynamo cannot trace into the C++ extension; the torch-operator kernels compute
        # the same recurrence and compile into the graph without a break.
        return BACKEND_SCAN
    return BACKEND_NATIVE if layer.native_blocker(device) is None else BACKEND_SCAN


def run_padded(layer: RecurrentLayer, input: Tensor, state: State, lengths: Tensor | None,
               draws: ForwardDraws) -> tuple[Tensor, State]:
    """The stack over a padded (time, batch, features) input on the chosen path; records
    the path taken as ``layer._last_backend``."""
    layer._last_backend = backend = choose_backend(layer, input.device)
    if backend == BACKEND_FUSED and one_cpu_step(input, lengths):
        layer._last_backend = BACKEND_STEP
        return run_loop(layer, input, state, None, draws)
    if backend == BACKEND_FUSED:
        if lengths is None:
            return fused_padded(fused_settings(layer), input, state, layer.flat_weights(draws))
        packed = pack_padded_sequence(input, lengths, enforce_sorted=False)
        output, state = fused_on_packed(layer, packed, state, draws)
        padded, _ = pad_packed_sequence(output, total_length=input.shape[0])
        return padded, state
    device_type = input.device.type
    if torch.is_autocast_enabled(device_type):
        # rnnkit's own kernels run in the parameters' precision (see
        # rnnkit.training.precision): autocast would hand them mixed dtypes.
        with torch.autocast(device_type, enabled=False):
            return _run_unfused(layer, backend, input, state, lengths, draws)
    return _run_unfused(layer, backend, input, state, lengths, draws)


def one_cpu_step(input: Tensor, lengths: Tensor | None) -> bool:
    """A single step of full rows on the CPU: cheaper as the cell's own step function
    than through torch's fused kernel (module docstring)."""
    return input.shape[0] == 1 and lengths is None and input.device.type == "cpu"


def fused_settings(layer: RecurrentLayer) -> FusedSettings:
    """The layer-wide arguments of torch's fused operators, as ``layer`` stands now."""
    return FusedSettings(layer.mode, layer.bias, layer.num_layers, layer.dropout,
                         layer.training, layer.bidirectional)


def fused_on_packed(layer: RecurrentLayer, packed: PackedSequence, state: State,
                    draws: ForwardDraws) -> tuple[PackedSequence, State]:
    """Fused kernel on packed data; ``state`` is in the caller's batch order."""
    if packed.sorted_indices is not None:
        state = tuple(s.index_select(1, packed.sorted_indices) for s in state)
    data, state = fused_packed(fused_settings(layer), packed.data, packed.batch_sizes, state,
                               layer.flat_weights(draws))
    if packed.unsorted_indices is not None:
        state = tuple(s.index_select(1, packed.unsorted_indices) for s in state)
    return PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                          packed.unsorted_indices), state


def _run_unfused(layer: RecurrentLayer, backend: str, input: Tensor, state: State,
                 lengths: Tensor | None, draws: ForwardDraws) -> tuple[Tensor, State]:
    if backend == BACKEND_LOOP:
        return run_loop(layer, input, state, lengths, draws)
    return run_engine(layer, input, state, lengths, draws, native=backend == BACKEND_NATIVE)


def run_loop(layer: RecurrentLayer, input: Tensor, state: State, lengths: Tensor | None,
             draws: ForwardDraws) -> tuple[Tensor, State]:
    """The reference path: every layer and direction stepped in Python."""
    lengths = None if lengths is None else lengths.to(input.device)

    def run_cell(sequence: Tensor, cell: tuple[int, int], cell_state: State
                 ) -> tuple[Tensor, State]:
        weights, mask = draws.weights[cell], draws.masks[cell]
        step = layer.step if mask is None else functools.partial(layer.step,
                                                                  recurrent_mask=mask)
        projection = layer.input_projection(sequence, weights)
        return run_over_time(step, projection, cell_state, weights, lengths)

    return run_stack(layer, input, state, lengths, run_cell)


def run_engine(layer: RecurrentLayer, input: Tensor, state: State, lengths: Tensor | None,
               draws: ForwardDraws, *, native: bool) -> tuple[Tensor, State]:
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
        kernel, xproj, params = layer.scan_inputs(sequence, draws.weights[cell])
        mask = draws.masks[cell]
        if order is not None and mask is not None:
            mask = mask.index_select(0, order)
        return scan(native_kernel(kernel) if native else kernel, xproj, cell_state, params,
                    mask, batch_sizes)

    output, state = run_stack(layer, input, state, lengths, run_cell)
    if order is None:
        return output, state
    inverse = torch.argsort(order)
    return output.index_select(1, inverse), tuple(s.index_select(1, inverse) for s in state)


def run_stack(layer: RecurrentLayer, input: Tensor, state: State, lengths: Tensor | None,
              run_cell: CellRun) -> tuple[Tensor, State]:
    """Layers and directions around ``run_cell``: reversal, concatenation, dropout."""
    layer_input, finals = input, []
    for depth in range(layer.num_layers):
        outputs = []
        for direction in range(layer.num_directions):
            index = depth * layer.num_directions + direction
            sequence = layer_input if direction == 0 else reverse_padded(layer_input, lengths)
            output, final = run_cell(sequence, (depth, direction),
                                     tuple(s[index] for s in state))
            outputs.append(output if direction == 0 else reverse_padded(output, lengths))
            finals.append(final)
        layer_input = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]
        if layer.dropout and layer.training and depth < layer.num_layers - 1:
            layer_input = F.dropout(layer_input, layer.dropout, training=True)
    return layer_input, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
