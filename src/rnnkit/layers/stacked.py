"""``RNN``, ``LSTM`` and ``GRU``: drop-in replacements for torch.nn's layers, with more cells."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from rnnkit.cells.base import State
from rnnkit.cells.gru import gru_parameter_shapes, gru_step
from rnnkit.cells.layernorm import (
    layer_norm_gru_step,
    layer_norm_lstm_step,
    layer_norm_parameter_shapes,
    reset_layer_norm,
)
from rnnkit.cells.lstm import add_forget_bias, check_proj_size, lstm_parameter_shapes, lstm_step
from rnnkit.cells.rnn import NONLINEARITIES, rnn_parameter_shapes, rnn_step
from rnnkit.engine.inputs import ScanInputs, gru_scan_inputs, lstm_scan_inputs, rnn_scan_inputs
from rnnkit.layers.base import RecurrentLayer
from rnnkit.validation import check_choice, check_positive_int

LAYER_NORM_BLOCKER = "layer_norm=True has no torch fused kernel"

_SHAPES_DOC = """
    Shapes (batch_first=False; with batch_first=True input and output swap their first two
    dimensions; h_n and c_n never do, as in torch.nn):
        input:   (time, batch, input_size), (time, input_size) unbatched, or a PackedSequence
        lengths: (batch,) integers on any device, each in [1, time]; optional
        output:  (time, batch, directions * H_out), zero past each sequence's length
        h_n:     (num_layers * directions, batch, H_out)
    where H_out = proj_size if proj_size > 0 else hidden_size.

    Regularization inside the recurrence (both only in training mode):
        recurrent_dropout: variational dropout on ``h`` where it enters the recurrent
            product, one mask per sequence for all its steps (Gal & Ghahramani 2016).
        weight_dropout: DropConnect on ``weight_hh``, one mask per forward (AWD-LSTM).
"""


class RNN(RecurrentLayer):
    __doc__ = r"""Multi-layer Elman RNN with tanh or ReLU, a drop-in for :class:`torch.nn.RNN`.

    Each layer computes ``h_t = act(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh)``.

    Args:
        input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout,
        bidirectional: exactly as in torch.nn.RNN (same order, same defaults).
        init: ``"uniform"`` (torch.nn's), ``"orthogonal"``, ``"xavier"`` or ``"identity"``
            (with ``nonlinearity="relu"``, the IRNN of Le et al. 2015).
        engine: ``"auto"`` (torch's fused kernel; every RNN configuration has one) or
            ``"loop"`` (step by step in Python; the slow twin used to check the fast one).
    """ + _SHAPES_DOC + r"""
    Example:
        >>> rnn = RNN(8, 16, num_layers=2, nonlinearity="relu", init="identity")
        >>> output, h_n = rnn(torch.randn(5, 3, 8), lengths=torch.tensor([5, 2, 4]))
        >>> output.shape, h_n.shape, rnn.backend
        (torch.Size([5, 3, 16]), torch.Size([2, 3, 16]), 'torch-fused')
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        recurrent_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        init: str = "uniform",
        engine: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.nonlinearity = check_choice("RNN", "nonlinearity", nonlinearity, NONLINEARITIES)
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional,
                         recurrent_dropout=recurrent_dropout, weight_dropout=weight_dropout,
                         init=init, engine=engine, device=device, dtype=dtype)

    def cell_parameter_shapes(self, layer_input_size: int) -> dict[str, tuple[int, ...]]:
        return rnn_parameter_shapes(layer_input_size, self.hidden_size, self.bias)

    def step(self, input_projection: Tensor, state: State, weights: Mapping[str, Tensor],
             recurrent_mask: Tensor | None = None) -> State:
        return rnn_step(input_projection, state, weights, nonlinearity=self.nonlinearity,
                        recurrent_mask=recurrent_mask)

    def scan_inputs(self, sequence: Tensor, weights: Mapping[str, Tensor]) -> ScanInputs:
        return rnn_scan_inputs(sequence, weights, self.nonlinearity)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RecurrentLayer):
    __doc__ = r"""Multi-layer LSTM, a drop-in for :class:`torch.nn.LSTM` with peepholes.

    Each layer runs :class:`rnnkit.LSTMCell`'s equations (gate order i, f, g, o) over time.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        proj_size: exactly as in torch.nn.LSTM (same order, same defaults).
        peephole: diagonal connections from the cell state to the gates (Gers &
            Schmidhuber 2000), parameters ``weight_ci_l0``, ``weight_cf_l0``,
            ``weight_co_l0`` (and ``_reverse``); torch has no fused kernel for them.
        layer_norm: the layer-normalized LSTM of Ba et al. (2016) (equations in
            :mod:`rnnkit.cells.layernorm`), with gains and shifts ``ln_ih_weight_l0``,
            ``ln_hh_weight_l0``, ``ln_cell_weight_l0`` and their ``_bias``; not combined
            with ``peephole`` or ``proj_size``.
        forget_bias: added to the forget-gate part of each ``bias_ih`` after init. Default
            1.0 (Jozefowicz et al. 2015: an open forget gate lets gradients through early);
            0 reproduces torch.nn's initialization exactly.
        init: ``"uniform"`` (torch.nn's), ``"orthogonal"``, ``"xavier"`` or ``"identity"``.
        engine: ``"auto"`` (torch's fused kernel when torch has the configuration, else
            rnnkit's scan engine), ``"rnnkit"`` (the scan engine even where torch has a
            kernel) or ``"loop"`` (step by step in Python). ``rnnkit.explain(layer)`` says
            which path a configuration takes and why.

    ``hx`` is a tuple ``(h_0, c_0)``; ``c_0`` and ``c_n`` have shape
    (num_layers * directions, batch, hidden_size). The return is ``(output, (h_n, c_n))``.
    """ + _SHAPES_DOC + r"""
    Example:
        >>> lstm = LSTM(8, 16, batch_first=True, bidirectional=True)
        >>> output, (h_n, c_n) = lstm(torch.randn(3, 5, 8))
        >>> output.shape, h_n.shape, c_n.shape
        (torch.Size([3, 5, 32]), torch.Size([2, 3, 16]), torch.Size([2, 3, 16]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        peephole: bool = False,
        layer_norm: bool = False,
        forget_bias: float = 1.0,
        recurrent_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        init: str = "uniform",
        engine: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.peephole = bool(peephole)
        self.layer_norm = bool(layer_norm)
        if self.layer_norm and (self.peephole or proj_size):
            raise ValueError("LSTM: layer_norm=True does not combine with peephole=True or "
                             f"proj_size > 0, got peephole={peephole}, proj_size={proj_size}")
        self.forget_bias = float(forget_bias)
        hidden = check_positive_int("LSTM", "hidden_size", hidden_size)
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size=check_proj_size("LSTM", proj_size, hidden),
                         recurrent_dropout=recurrent_dropout, weight_dropout=weight_dropout,
                         init=init, engine=engine, device=device, dtype=dtype)

    def cell_parameter_shapes(self, layer_input_size: int) -> dict[str, tuple[int, ...]]:
        shapes = lstm_parameter_shapes(layer_input_size, self.hidden_size, self.bias,
                                       proj_size=self.proj_size, peephole=self.peephole)
        if self.layer_norm:
            shapes.update(layer_norm_parameter_shapes(4, self.hidden_size, cell_norm=True))
        return shapes

    def step(self, input_projection: Tensor, state: State, weights: Mapping[str, Tensor],
             recurrent_mask: Tensor | None = None) -> State:
        if self.layer_norm:
            return layer_norm_lstm_step(input_projection, state, weights,
                                        recurrent_mask=recurrent_mask)
        return lstm_step(input_projection, state, weights, peephole=self.peephole,
                         recurrent_mask=recurrent_mask)

    def scan_inputs(self, sequence: Tensor, weights: Mapping[str, Tensor]) -> ScanInputs:
        return lstm_scan_inputs(sequence, weights, peephole=self.peephole,
                                layer_norm=self.layer_norm)

    def state_sizes(self) -> tuple[int, ...]:
        return (self.output_size, self.hidden_size)

    def cell_fused_blocker(self) -> str | None:
        if self.layer_norm:
            return LAYER_NORM_BLOCKER
        return "peephole=True has no torch fused kernel" if self.peephole else None

    def cell_engine_blocker(self) -> str | None:
        if self.proj_size:
            return "proj_size > 0 has no rnnkit scan kernel yet"
        return None

    def post_init(self, weights: dict[str, Tensor]) -> None:
        reset_layer_norm(weights)
        if self.bias and self.forget_bias:
            add_forget_bias(weights["bias_ih"], self.hidden_size, self.forget_bias)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.peephole:
            text += ", peephole=True"
        if self.layer_norm:
            text += ", layer_norm=True"
        return text + (f", forget_bias={self.forget_bias:g}" if self.forget_bias else "")


class GRU(RecurrentLayer):
    __doc__ = r"""Multi-layer GRU, a drop-in for :class:`torch.nn.GRU` with the original form too.

    Each layer runs :class:`rnnkit.GRUCell`'s equations (gate order r, z, n) over time.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional:
            exactly as in torch.nn.GRU (same order, same defaults).
        reset_after: ``True`` (torch.nn/cuDNN: ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``)
            or ``False`` (Cho et al. 2014: ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``),
            which torch has no fused kernel for.
        layer_norm: the layer-normalized GRU (equations in :mod:`rnnkit.cells.layernorm`),
            gains and shifts ``ln_ih_weight_l0``, ``ln_hh_weight_l0`` and their ``_bias``;
            it resets after the product, so it requires ``reset_after=True``.
        init: ``"uniform"`` (torch.nn's), ``"orthogonal"``, ``"xavier"`` or ``"identity"``.
        engine: ``"auto"`` (torch's fused kernel when torch has the configuration, else
            rnnkit's scan engine), ``"rnnkit"`` or ``"loop"``, as for :class:`LSTM`.
    """ + _SHAPES_DOC + r"""
    Example:
        >>> gru = GRU(8, 16, num_layers=2, reset_after=False)
        >>> output, h_n = gru(torch.randn(5, 3, 8))
        >>> output.shape, h_n.shape, gru.backend.startswith("rnnkit")  # the scan engine
        (torch.Size([5, 3, 16]), torch.Size([2, 3, 16]), True)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        reset_after: bool = True,
        layer_norm: bool = False,
        recurrent_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        init: str = "uniform",
        engine: str = "auto",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.reset_after = bool(reset_after)
        self.layer_norm = bool(layer_norm)
        if self.layer_norm and not self.reset_after:
            raise ValueError("GRU: layer_norm=True normalizes W_hh h before the reset gate "
                             "multiplies it, so it requires reset_after=True, got "
                             "reset_after=False")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, recurrent_dropout=recurrent_dropout,
                         weight_dropout=weight_dropout, init=init, engine=engine, device=device,
                         dtype=dtype)

    def cell_parameter_shapes(self, layer_input_size: int) -> dict[str, tuple[int, ...]]:
        shapes = gru_parameter_shapes(layer_input_size, self.hidden_size, self.bias)
        if self.layer_norm:
            shapes.update(layer_norm_parameter_shapes(3, self.hidden_size, cell_norm=False))
        return shapes

    def step(self, input_projection: Tensor, state: State, weights: Mapping[str, Tensor],
             recurrent_mask: Tensor | None = None) -> State:
        if self.layer_norm:
            return layer_norm_gru_step(input_projection, state, weights,
                                       recurrent_mask=recurrent_mask)
        return gru_step(input_projection, state, weights, reset_after=self.reset_after,
                        recurrent_mask=recurrent_mask)

    def scan_inputs(self, sequence: Tensor, weights: Mapping[str, Tensor]) -> ScanInputs:
        return gru_scan_inputs(sequence, weights, reset_after=self.reset_after,
                               layer_norm=self.layer_norm)

    def cell_fused_blocker(self) -> str | None:
        if self.layer_norm:
            return LAYER_NORM_BLOCKER
        return None if self.reset_after else "reset_after=False has no torch fused kernel"

    def post_init(self, weights: dict[str, Tensor]) -> None:
        reset_layer_norm(weights)

    def extra_repr(self) -> str:
        text = super().extra_repr() + ("" if self.reset_after else ", reset_after=False")
        return text + (", layer_norm=True" if self.layer_norm else "")
