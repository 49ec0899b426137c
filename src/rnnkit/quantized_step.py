"""torch's dynamic int8 quantization of the generation step's cells and decoder, built directly.

``torch.ao.quantization.quantize_dynamic`` swaps each ``nn.LSTMCell`` for a quantized cell
whose constructor first draws and packs random weights, then packs the real ones: 35 ms
for one 512-unit LSTM cell on the project's CPU, of which 8 ms is the real packing. Since
``rnnkit sample`` quantizes on every call, that cost is paid once per text. The modules
here pack the real weights only, with torch's weight observer, quantization and kernels:

- :class:`TorchQuantizedCell` and :class:`QuantizedLinear` compute what
  ``quantize_dynamic``'s modules compute, bit for bit (tests/test_step_decoder.py holds
  them to it);
- :class:`JointQuantizedCell` (LSTM and Elman cells whose two weights span similar ranges,
  which :func:`quantized_cell` picks) joins the cell's two int8 products into one, faster
  on this CPU and within a quantization step of torch's cell.

Shapes:
    input:  (streams, input_size) float32
    state:  (h, c) for an LSTM cell, h otherwise, each (streams, hidden)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.engine.native import (
    lstm_gates_step_for,
    native_extension,
    native_unavailable_reason,
)

#: The cells whose two products :class:`JointQuantizedCell` joins into one.
JOINED_CELLS = (nn.LSTMCell, nn.RNNCell)

#: :class:`JointQuantizedCell` quantizes ``[W_ih | W_hh]`` with one scale, so the weight of
#: the smaller range keeps fewer of int8's levels: log2 of the ratio of the two ranges
#: fewer bits. Cells within this ratio (two bits) are joined; the others keep a scale per
#: weight in torch's cell. An untrained IRNN (identity ``W_hh``, ``W_ih`` of std 0.001,
#: a ratio near 300) would otherwise round every input weight to zero and ignore its input;
#: a trained 2x512 character LSTM's ratios are 1.2.
JOINED_MAX_RANGE_RATIO = 4.0

#: The quantized engine whose int8 products quantize the activations to all 8 bits: oneDNN
#: multiplies int8 by uint8 in 32-bit sums (VNNI, AMX). fbgemm (and the ``x86`` engine, which
#: runs fbgemm's linear kernels) sums pairs in 16 bits, so torch quantizes the activations
#: for it to 7 bits (``reduce_range``), as its default dynamic qconfigs do.
FULL_RANGE_ENGINE = "onednn"


def engine_or_current(engine: str | None) -> str:
    """``engine``, or the current ``torch.backends.quantized.engine`` if None."""
    return torch.backends.quantized.engine if engine is None else engine


def reduces_range(engine: str) -> bool:
    """Whether torch's int8 products packed by ``engine`` take 7-bit activations."""
    return engine != FULL_RANGE_ENGINE


@contextmanager
def quantized_engine(engine: str | None) -> Iterator[str]:
    """``torch.backends.quantized.engine`` set to ``engine`` (the current one if None)
    inside the block and restored after it; yields the engine in force. Weights packed
    inside are packed for that engine's kernels, and a packed weight runs them whatever
    the engine is when it is applied."""
    previous = torch.backends.quantized.engine
    try:
        if engine is not None:
            torch.backends.quantized.engine = engine
        yield torch.backends.quantized.engine
    finally:
        torch.backends.quantized.engine = previous


def pack_int8(weight: Tensor, bias: Tensor | None, engine: str | None = None) -> Any:
    """``weight`` (out, in) quantized to int8 per tensor by torch's default weight
    observer for dynamic quantization (symmetric min/max), packed with ``bias`` for
    ``engine``'s quantized linear kernels (the current ``torch.backends.quantized.engine``
    if None: fbgemm's through ``x86`` on x86)."""
    with quantized_engine(engine), warnings.catch_warnings():
        # torch.ao.quantization and torch's quantized tensors warn that they are
        # deprecated; they are the quantization this module promises (module docstring).
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        from torch.ao.quantization import default_dynamic_qconfig

        observer = default_dynamic_qconfig.weight()
        observer(weight.detach())
        scale, zero_point = observer.calculate_qparams()
        quantized = torch.quantize_per_tensor(weight.detach().float(), float(scale),
                                              int(zero_point), torch.qint8)
        return torch.ops.quantized.linear_prepack(quantized, bias)  # for the engine in force


def _torch_quantized_kernel(cell: nn.Module) -> Any:
    """torch's dynamic int8 cell kernel for ``cell``'s kind."""
    if type(cell) is nn.RNNCell:
        return (torch.ops.quantized.quantized_rnn_relu_cell_dynamic if cell.nonlinearity == "relu"
                else torch.ops.quantized.quantized_rnn_tanh_cell_dynamic)
    kernels = {nn.LSTMCell: torch.ops.quantized.quantized_lstm_cell_dynamic,
               nn.GRUCell: torch.ops.quantized.quantized_gru_cell_dynamic}
    if type(cell) not in kernels:
        raise ValueError(f"TorchQuantizedCell quantizes an nn.LSTMCell, nn.GRUCell or "
                         f"nn.RNNCell, got {type(cell).__name__}")
    return kernels[type(cell)]


class TorchQuantizedCell(nn.Module):
    """An ``nn.LSTMCell``, ``nn.GRUCell`` or ``nn.RNNCell`` under dynamic int8 quantization,
    run by torch's own quantized cell kernel: ``W_ih`` and ``W_hh`` int8 with a scale each,
    the input and state quantized on each call, float32 gates and state.

    Shapes:
        input:  (streams, input_size)
        state:  (h, c) for an LSTM, h otherwise, each (streams, hidden_size)
        output: the next state, in the same form
    """

    def __init__(self, cell: nn.Module, engine: str | None = None) -> None:
        super().__init__()
        self.kernel = _torch_quantized_kernel(cell)
        self.lstm = type(cell) is nn.LSTMCell
        self.hidden_size = cell.hidden_size
        self.engine = engine_or_current(engine)
        self.packed_weight_ih = pack_int8(cell.weight_ih, cell.bias_ih, self.engine)
        self.packed_weight_hh = pack_int8(cell.weight_hh, cell.bias_hh, self.engine)
        # The kernel's signature takes float biases too; for int8 it adds the packed ones.
        self.bias_ih, self.bias_hh = cell.bias_ih.detach(), cell.bias_hh.detach()

    def forward(self, input: Tensor, state: Tensor | tuple[Tensor, Tensor]
                ) -> Tensor | tuple[Tensor, Tensor]:
        """The state after reading ``input``."""
        return self.kernel(input, list(state) if self.lstm else state, self.packed_weight_ih,
                           self.packed_weight_hh, self.bias_ih, self.bias_hh)

    def extra_repr(self) -> str:
        return (f"{self.kernel.__name__.removeprefix('quantized_')}, hidden_size="
                f"{self.hidden_size}, int8 ({self.engine})")


class JointQuantizedCell(nn.Module):
    """An ``nn.LSTMCell`` or ``nn.RNNCell`` under dynamic int8 quantization, with its two
    products joined into one: ``[W_ih | W_hh]`` quantized as one int8 matrix, applied to
    ``[x, h]`` quantized on each call, then the cell's activations in float32.

    torch's quantized cell runs two int8 products a step, one per weight; on the project's
    CPU one product of the joined weight takes 20-30% less time than the two (fbgemm's
    int8 matrix-vector product is far from the memory's rate, and gains from a longer
    inner dimension). The GRU's candidate keeps ``W_hn h`` apart from ``W_in x`` (the reset
    gate multiplies one of them), so a GRU keeps torch's cell (:class:`TorchQuantizedCell`).
    The numbers differ from torch's cell by the rounding of one quantization scale for the
    joined weight and one for ``[x, h]`` instead of one each.

    Shapes:
        input:  (streams, input_size)
        state:  (h, c) for an LSTM, h for an RNN, each (streams, hidden_size)
        output: the next state, in the same form
    """

    def __init__(self, cell: nn.LSTMCell | nn.RNNCell, engine: str | None = None) -> None:
        super().__init__()
        if type(cell) not in JOINED_CELLS:
            raise ValueError(f"JointQuantizedCell joins the products of an nn.LSTMCell or "
                             f"nn.RNNCell, got {type(cell).__name__}")
        self.input_size, self.hidden_size = cell.input_size, cell.hidden_size
        self.lstm = isinstance(cell, nn.LSTMCell)
        self.relu = getattr(cell, "nonlinearity", "tanh") == "relu"
        weight = torch.cat([cell.weight_ih, cell.weight_hh], dim=1).detach()
        self.engine = engine_or_current(engine)
        self.packed_weight = pack_int8(weight, (cell.bias_ih + cell.bias_hh).detach(),
                                       self.engine)
        self.reduce_range = reduces_range(self.engine)
        # The LSTM's activations from its gates: C++ where rnnkit's kernels run.
        self.lstm_step = lstm_gates_step_for(weight.device, weight.dtype) if self.lstm else None

    def forward(self, input: Tensor, state: Tensor | tuple[Tensor, Tensor]
                ) -> Tensor | tuple[Tensor, Tensor]:
        """The state after reading ``input``."""
        hidden = state[0] if self.lstm else state
        joined = torch.cat([input, hidden], dim=1)  # (streams, input_size + hidden_size)
        gates = torch.ops.quantized.linear_dynamic(joined, self.packed_weight, self.reduce_range)
        if self.lstm:
            h, c = self.lstm_step(gates, state[1].contiguous())  # C++ returns a list
            return h, c
        return gates.relu_() if self.relu else gates.tanh_()

    def in_place_step(self, h: Tensor, c: Tensor) -> Callable[[Tensor], Tensor]:
        """The LSTM's step as a function of the input that overwrites ``h`` and ``c``
        (streams, hidden) with the next state and returns ``h``: :meth:`forward`'s product
        with ``[x, h]`` joined into a buffer made here, then rnnkit's C++ activations
        (``lstm_gates_step_``) writing ``h`` and ``c`` where they lie. The int8 product's
        output is torch's own allocation. Raises ``ValueError`` for an Elman cell or where
        the C++ kernels do not run."""
        reason = native_unavailable_reason(h.device, h.dtype)
        if not self.lstm or reason is not None:
            raise ValueError(f"JointQuantizedCell.in_place_step needs an LSTM cell and the "
                             f"C++ kernels, got lstm={self.lstm} ({reason or 'kernels run'})")
        activate = native_extension().lstm_gates_step_
        packed_weight, reduce_range = self.packed_weight, self.reduce_range
        joined = h.new_empty(h.shape[0], self.input_size + self.hidden_size)

        def step(x: Tensor) -> Tensor:
            torch.cat([x, h], dim=1, out=joined)
            activate(torch.ops.quantized.linear_dynamic(joined, packed_weight, reduce_range),
                     h, c)
            return h
        return step

    def extra_repr(self) -> str:
        kind = "lstm" if self.lstm else ("rnn_relu" if self.relu else "rnn_tanh")
        return f"{kind}, hidden_size={self.hidden_size}, int8 [W_ih | W_hh] ({self.engine})"


def weight_range_ratio(cell: nn.Module) -> float:
    """How many times the larger of ``cell``'s ``max |W_ih|`` and ``max |W_hh|`` is the
    smaller (infinite where one is all zeros)."""
    ranges = sorted(float(weight.detach().abs().max()) for weight in (cell.weight_ih,
                                                                      cell.weight_hh))
    return ranges[1] / ranges[0] if ranges[0] > 0 else float("inf")


def quantized_cell(cell: nn.Module, engine: str | None = None) -> nn.Module:
    """``cell`` under dynamic int8 quantization for ``engine``'s kernels (the current
    engine if None): its products joined (:class:`JointQuantizedCell`) for an LSTM or RNN
    cell whose two weights span ranges within ``JOINED_MAX_RANGE_RATIO`` of each other,
    torch's own cell kernel (:class:`TorchQuantizedCell`) otherwise and for a GRU."""
    joined = type(cell) in JOINED_CELLS and weight_range_ratio(cell) <= JOINED_MAX_RANGE_RATIO
    return (JointQuantizedCell if joined else TorchQuantizedCell)(cell, engine)


class QuantizedLinear(nn.Module):
    """An ``nn.Linear`` under dynamic int8 quantization (int8 weight, the input quantized
    on each call, float32 output).

    Shapes:
        input:  (streams, in_features)
        output: (streams, out_features)
    """

    def __init__(self, linear: nn.Linear, engine: str | None = None) -> None:
        super().__init__()
        self.out_features = linear.out_features
        self.engine = engine_or_current(engine)
        self.packed_weight = pack_int8(linear.weight, linear.bias, self.engine)
        # 7-bit activations for fbgemm, as torch's own module asks (FULL_RANGE_ENGINE)
        self.reduce_range = reduces_range(self.engine)

    def forward(self, input: Tensor) -> Tensor:
        """``input`` times the int8 weight, plus the bias."""
        return torch.ops.quantized.linear_dynamic(input, self.packed_weight, self.reduce_range)

    def extra_repr(self) -> str:
        return f"out_features={self.out_features}, int8 ({self.engine})"
