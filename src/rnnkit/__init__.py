"""rnnkit: recurrent sequence models on PyTorch, exact against torch.nn.

Layers and cells import eagerly; the training and inference API (``rnnkit.train``,
``rnnkit.sample``, ``rnnkit.load_language_model``) loads on first use so that
``import rnnkit`` stays light for users who only want the layers.
"""

from __future__ import annotations

import importlib
from typing import Any

from rnnkit.cells import GRUCell, LSTMCell, MinGRUCell, MinLSTMCell, RNNCell
from rnnkit.layers import GRU, LSTM, RNN, MinGRU, MinLSTM
from rnnkit.layers.explain import explain

__version__ = "0.1.0"

_LAZY = {
    "train": "rnnkit.tasks.language_model.training",
    "sample": "rnnkit.inference",
    "load_language_model": "rnnkit.inference",
    "LanguageModel": "rnnkit.models.language_model",
    "RunConfig": "rnnkit.training.config",
}

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "MinGRU", "MinGRUCell", "MinLSTM",
           "MinLSTMCell", "RNNCell", "__version__", "explain", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnkit' has no attribute {name!r}")
