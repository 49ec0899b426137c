"""A recurrent layer by cell name (:mod:`rnnkit.cells.catalog`), for models whose
configuration names the cell."""

from __future__ import annotations

from typing import Any

from rnnkit.cells.catalog import CELL_NAMES, variant_options
from rnnkit.layers.base import RecurrentLayer
from rnnkit.layers.minimal import MinGRU, MinimalRecurrentLayer, MinLSTM
from rnnkit.layers.stacked import GRU, LSTM, RNN

__all__ = ["CELL_NAMES", "build_layer"]
LAYER_CLASSES: dict[str, type[RecurrentLayer] | type[MinimalRecurrentLayer]] = {
    "rnn": RNN, "lstm": LSTM, "gru": GRU, "mingru": MinGRU, "minlstm": MinLSTM}


def build_layer(cell: str, input_size: int, hidden_size: int, *, num_layers: int = 1,
                bidirectional: bool = False, dropout: float = 0.0,
                **options: Any) -> RecurrentLayer | MinimalRecurrentLayer:
    """A batch-first :class:`LSTM`, :class:`GRU`, :class:`RNN`, :class:`MinGRU` or
    :class:`MinLSTM` by catalogue name (``lstm``, ``gru``, ``rnn_tanh``, ``rnn_relu``,
    ``irnn``, ``mingru``, ``minlstm``); ``dropout`` acts between
    layers only, so a one-layer stack gets none; ``options`` go to the layer's constructor
    (e.g. ``peephole=True`` for an LSTM), with the variant's own (``irnn``: ReLU, identity
    init) added."""
    kind, options = variant_options(cell, options, "build_layer")
    return LAYER_CLASSES[kind](input_size, hidden_size, num_layers=num_layers,
                               batch_first=True, bidirectional=bidirectional,
                               dropout=dropout if num_layers > 1 else 0.0, **options)
