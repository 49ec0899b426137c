"""Layers that run cells over time: stacked, bidirectional, variable-length."""

from rnnkit.layers.base import RecurrentLayer
from rnnkit.layers.minimal import MinGRU, MinimalRecurrentLayer, MinLSTM
from rnnkit.layers.stacked import GRU, LSTM, RNN

__all__ = ["GRU", "LSTM", "RNN", "MinGRU", "MinLSTM", "MinimalRecurrentLayer", "RecurrentLayer"]
