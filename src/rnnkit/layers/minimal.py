"""minGRU and minLSTM layers: stacked, bidirectional, variable-length, trained in parallel.

The gates read the input only, so every step's coefficients come from one matrix product
over all steps, and what is left, ``h_t = a_t * h_{t-1} + b_t``, runs on one of these paths
(:mod:`rnnkit.engine.linear_scan`):

- ``rnnkit-fused``: rnnkit's C++ loop (CPU, float32/float64, where the kernels built), one
  fused pass over the batch x hidden lanes per step;
- ``parallel-scan``: the log-space scan in torch operators, with no loop over steps (CUDA,
  or ``engine="scan"``);
- ``single-step``: one step without lengths (generation) runs the cell's step;
- ``loop``: every step in turn (``engine="loop"``), the slow twin the others are checked
  against.

Padding: a step past a sequence's length gets ``a = 1, b = 0``, so it leaves the state as
it was; its output is zero, as in every rnnkit layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.cells.mingru import mingru_coefficients
from rnnkit.cells.minimal import check_form, minimal_step
from rnnkit.cells.minlstm import minlstm_coefficients
from rnnkit.engine import BACKEND_NATIVE, native_unavailable_reason
from rnnkit.engine.linear_scan import linear_scan
from rnnkit.layers.dropout import check_layer_dropout
from rnnkit.layers.sequences import reverse_padded, step_mask, time_major_input
from rnnkit.layers.state import from_autocast, initial_state
from rnnkit.validation import (
    check_choice,
    check_positive_int,
)

ENGINES = ("auto", "scan", "loop")
BACKEND_SCAN = "parallel-scan"
BACKEND_LOOP = "loop"
BACKEND_STEP = "single-step"
Coefficients = Callable[[Tensor, str], tuple[Tensor, Tensor]]


class MinimalRecurrentLayer(nn.Module):
    """What :class:`MinGRU` and :class:`MinLSTM` share; a subclass names its ``gates`` and
    its ``coefficients`` function (projection -> ``(log a, b)``)."""

    gates: ClassVar[int]
    coefficients: ClassVar[Coefficients]

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, form: str = "log", engine: str = "auto",
                 device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.input_size = check_positive_int(owner, "input_size", input_size)
        self.hidden_size = check_positive_int(owner, "hidden_size", hidden_size)
        self.num_layers = check_positive_int(owner, "num_layers", num_layers)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), \
            bool(bidirectional)
        self.dropout = check_layer_dropout(owner, dropout, self.num_layers)
        self.form = check_form(owner, form)
        self.engine = check_choice(owner, "engine", engine, ENGINES)
        self._last_backend: str | None = None
        for layer, direction in self._cells():
            inputs = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            suffix = _suffix(layer, direction)
            self.register_parameter(f"weight_ih{suffix}", nn.Parameter(torch.empty(
                self.gates * hidden_size, inputs, device=device, dtype=dtype)))
            if self.bias:
                self.register_parameter(f"bias_ih{suffix}", nn.Parameter(torch.empty(
                    self.gates * hidden_size, device=device, dtype=dtype)))
        self.reset_parameters()

    # --- structure ---------------------------------------------------------------------
    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _cells(self) -> list[tuple[int, int]]:
        return [(layer, direction) for layer in range(self.num_layers)
                for direction in range(self.num_directions)]

    def reset_parameters(self) -> None:
        """Every parameter from U(-k, k), k = 1 / sqrt(hidden_size), as torch.nn's layers."""
        bound = 1 / math.sqrt(self.hidden_size)
        for parameter in self.parameters():
            nn.init.uniform_(parameter, -bound, bound)

    def state_sizes(self) -> tuple[int, ...]:
        """The state is ``h`` alone: ``(hidden_size,)``, as for a GRU."""
        return (self.hidden_size,)

    def flatten_parameters(self) -> None:
        """Accepted for torch.nn compatibility; there is nothing to flatten."""

    def backend_for(self, time: int = 2, lengths: Tensor | None = None,
                    device: torch.device | None = None) -> str:
        """The path a forward of ``time`` steps on ``device`` (default: the parameters')
        takes (module docstring)."""
        if self.engine == "loop":
            return BACKEND_LOOP
        if time == 1 and lengths is None:
            return BACKEND_STEP
        if self.engine == "scan" or self.native_blocker(device) is not None:
            return BACKEND_SCAN
        return BACKEND_NATIVE

    def native_blocker(self, device: torch.device | None = None) -> str | None:
        """Why the C++ loop would not run here, or None if it would."""
        reference = self.weight_ih_l0
        return native_unavailable_reason(device or reference.device, reference.dtype)

    @property
    def backend(self) -> str:
        """The path the last forward took (before the first: the one for a sequence)."""
        return self._last_backend or self.backend_for()

    def explain_backend(self, device: torch.device | None = None) -> str:
        """One line for :func:`rnnkit.explain`: the path a sequence takes, and why."""
        backend = self.backend_for(device=device)
        if backend == BACKEND_LOOP:
            return f"{BACKEND_LOOP}: engine='loop' was requested; one step at a time"
        why = "the gates read the input only, so h_t = a_t h_(t-1) + b_t with a, b known"
        if backend == BACKEND_NATIVE:
            return f"{backend}: {why}; rnnkit's C++ loop runs it, a fused pass per step"
        how = ("engine='scan' was requested" if self.engine == "scan"
               else self.native_blocker(device))
        return f"{backend}: {why}; one log-space scan in torch operators ({how})"

    # --- forward -----------------------------------------------------------------------
    def step(self, input: Tensor, hx: Tensor) -> Tensor:
        """One step of a one-layer, one-direction layer, for generation: ``h' = a h + b``
        without the sequence path's checks and bookkeeping (per-call cost is what bounds
        one-stream generation on a CPU).

        Shapes: input (batch, input_size), hx (batch, hidden_size) -> h' (batch, hidden_size)
        """
        if self.num_layers != 1 or self.bidirectional:
            raise ValueError(f"{type(self).__name__}.step runs one layer and one direction, "
                             f"got num_layers={self.num_layers}, "
                             f"bidirectional={self.bidirectional}")
        self._last_backend = BACKEND_STEP
        weight, bias = self.weight_ih_l0, getattr(self, "bias_ih_l0", None)
        log_a, b = type(self).coefficients(F.linear(input, weight, bias), self.form)
        return minimal_step(log_a, b, hx)

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None,
                lengths: Tensor | None = None) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run the stack over a sequence. See the class docstring for shapes."""
        reference = self.weight_ih_l0
        input, hx = from_autocast((input, hx), reference.dtype)
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, lengths)
        return self._forward_padded(input, hx, lengths, self.batch_first)

    def _forward_padded(self, input: object, hx: object, lengths: object,
                        batch_first: bool) -> tuple[Tensor, Tensor]:
        owner = type(self).__name__
        input, lengths, batched = time_major_input(
            owner, input, lengths, input_size=self.input_size, batch_first=batch_first,
            reference=self.weight_ih_l0)
        (state,) = initial_state(owner, hx, (self.hidden_size,),
                                 self.num_layers * self.num_directions, input.shape[1],
                                 batched, input)
        output, h_n = self._run_stack(input, state, lengths)
        if not batched:
            return output.squeeze(1), h_n.squeeze(1)
        if batch_first:
            output = output.transpose(0, 1)  # (batch, time, directions * hidden)
        return output, h_n

    def _forward_packed(self, packed: PackedSequence, hx: object,
                        lengths: object) -> tuple[PackedSequence, Tensor]:
        owner = type(self).__name__
        if lengths is not None:
            raise ValueError(f"{owner} takes either a PackedSequence or lengths, not both")
        padded, lengths = pad_packed_sequence(packed)  # (time, batch, features), caller order
        output, h_n = self._forward_padded(padded, hx, lengths, batch_first=False)
        if packed.sorted_indices is not None:
            output = output.index_select(1, packed.sorted_indices)
            lengths = lengths[packed.sorted_indices.cpu()]
        data = pack_padded_sequence(output, lengths, enforce_sorted=True).data
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                              packed.unsorted_indices), h_n

    def _run_stack(self, input: Tensor, state: Tensor,
                   lengths: Tensor | None) -> tuple[Tensor, Tensor]:
        """The layers over a time-major input; ``state`` (layers * directions, batch,
        hidden). Returns the output (time, batch, directions * hidden) and ``h_n``."""
        time = input.shape[0]
        self._last_backend = self.backend_for(time, lengths, input.device)
        on_device = None if lengths is None else lengths.to(input.device)
        mask = None if on_device is None else step_mask(on_device, time)  # (time, batch, 1)
        finals, layer_input = [], input
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                sequence = layer_input if direction == 0 else reverse_padded(layer_input,
                                                                             on_device)
                states = self._run_cell(sequence, state[layer * self.num_directions
                                                        + direction], (layer, direction), mask)
                finals.append(states[-1])
                outputs.append(states if direction == 0 else reverse_padded(states, on_device))
            layer_input = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        if mask is not None:
            layer_input = torch.where(mask, layer_input, torch.zeros_like(layer_input))
        return layer_input, torch.stack(finals)

    def _run_cell(self, sequence: Tensor, h_0: Tensor, cell: tuple[int, int],
                  mask: Tensor | None) -> Tensor:
        """The states (time, batch, hidden) of one layer-direction over ``sequence``."""
        suffix = _suffix(*cell)
        weight, bias = getattr(self, f"weight_ih{suffix}"), getattr(self, f"bias_ih{suffix}",
                                                                    None)
        with torch.autocast(sequence.device.type, enabled=False):
            # The scan's exp and log want the parameters' precision, as rnnkit's kernels.
            log_a, b = type(self).coefficients(F.linear(sequence, weight, bias), self.form)
            if mask is not None:  # a padded step: a = 1, b = 0, the state stays
                log_a = torch.where(mask, log_a, torch.zeros_like(log_a))
                b = torch.where(mask, b, torch.zeros_like(b))
            if self._last_backend in (BACKEND_SCAN, BACKEND_NATIVE):
                return linear_scan(log_a, b, h_0, native=self._last_backend == BACKEND_NATIVE)
            states, h = [], h_0
            for step in range(sequence.shape[0]):
                h = minimal_step(log_a[step], b[step], h)
                states.append(h)
            return torch.stack(states)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False, "form": "log", "engine": "auto"}
        for name, default in defaults.items():
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)!r}"
        return text


def _suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction else "")


_SHAPES = """
    Shapes (batch_first=False; with batch_first=True, batch leads input and output):
        input:  (time, batch, input_size), (time, input_size) unbatched, or a
                PackedSequence
        hx:     (num_layers * directions, batch, hidden_size); zeros if omitted
        output: (time, batch, directions * hidden_size); zero past each row's length
        h_n:    (num_layers * directions, batch, hidden_size)
        lengths: (batch,) int64, optional: the steps each row holds (padding after them)

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional:
            as in torch.nn.GRU (dropout between layers).
        form: ``"log"`` (the paper's log-space form, ``h~ = g(W_h x + b_h) > 0``) or
            ``"linear"`` (``h~ = W_h x + b_h``): two models (:mod:`rnnkit.cells.minimal`).
        engine: ``"auto"`` (the C++ loop where it runs, else the parallel scan),
            ``"scan"`` (the log-space scan in torch operators) or ``"loop"`` (one step at
            a time); ``backend`` says which ran.

    Parameters ``weight_ih_l{k}`` and ``bias_ih_l{k}`` (``_reverse`` for the second
    direction), gates stacked as in the cell; there is no ``weight_hh``.
"""


class MinGRU(MinimalRecurrentLayer):
    __doc__ = r"""Multi-layer minGRU (Feng et al. 2024), trained as one parallel scan over time.

    Each layer computes, for every step at once, ``z_t = sigmoid(W_z x_t + b_z)`` and
    ``h~_t``, then ``h_t = (1 - z_t) * h_{t-1} + z_t * h~_t`` as a scan
    (:class:`rnnkit.cells.mingru.MinGRUCell` is one step of it).
    """ + _SHAPES + """
    Example:
        >>> layer = MinGRU(4, 8, num_layers=2, batch_first=True)
        >>> output, h_n = layer(torch.randn(3, 10, 4))
        >>> tuple(output.shape), tuple(h_n.shape)
        ((3, 10, 8), (2, 3, 8))
    """

    gates = 2
    coefficients = staticmethod(mingru_coefficients)


class MinLSTM(MinimalRecurrentLayer):
    __doc__ = r"""Multi-layer minLSTM (Feng et al. 2024), trained as one parallel scan over time.

    Each layer computes, for every step at once, the forget and input gates from the input,
    normalized to ``f'_t + i'_t = 1``, then ``h_t = f'_t * h_{t-1} + i'_t * h~_t`` as a scan
    (:class:`rnnkit.cells.minlstm.MinLSTMCell` is one step of it). The state is ``h`` alone.
    """ + _SHAPES + """
    Example:
        >>> layer = MinLSTM(4, 8, bidirectional=True)
        >>> output, h_n = layer(torch.randn(10, 3, 4))
        >>> tuple(output.shape), tuple(h_n.shape)
        ((10, 3, 16), (2, 3, 8))
    """

    gates = 3
    coefficients = staticmethod(minlstm_coefficients)
