"""A recurrent layer by cell name, for models whose configuration names the cell."""

from __future__ import annotations

from typing import Any

from rnnkit.layers.base import RecurrentLayer
from rnnkit.layers.stacked import GRU, LSTM, RNN
from rnnkit.validation import check_choice

CELL_NAMES = ("lstm", "gru", "rnn_tanh", "rnn_relu")


def build_layer(cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1,
                bidirectional: bool = False, dropout: float = 0.0,
                **options: Any) -> RecurrentLayer:
    """A batch-first :class:`LSTM`, :class:`GRU` or :class:`RNN` (``"rnn_tanh"``,
    ``"rnn_relu"``); ``dropout`` acts between layers only, so a one-layer stack gets none;
    ``options`` go to the layer's constructor (e.g. ``peephole=True`` for an LSTM)."""
    check_choice("build_layer", "cell", cell, CELL_NAMES)
    common = dict(num_layers=num_layers, batch_first=True, bidirectional=bidirectional,
                  dropout=dropout if num_layers > 1 else 0.0, **options)
    if cell == "lstm":
        return LSTM(input_size, hidden_size, **common)
    if cell == "gru":
        return GRU(input_size, hidden_size, **common)
    return RNN(input_size, hidden_size, nonlinearity=cell.removeprefix("rnn_"), **common)
