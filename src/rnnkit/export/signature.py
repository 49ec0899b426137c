"""The flat signature every exported model has: tensors in, tensors out, lengths always.

An exported file cannot take ``None`` or nested tuples, so a layer or a language model is
wrapped in a module with one fixed signature, and that wrapper is what gets exported and
what the exported file is checked against.

Layer (``batch_first=True`` shown; time first otherwise):
    inputs:  input (batch, time, input_size) float32, lengths (batch,) int64,
             h_0 (layers * directions, batch, hidden), and c_0 for an LSTM
    outputs: output (batch, time, directions * hidden), h_n, and c_n for an LSTM

Language model:
    inputs:  tokens (batch, time) int64, lengths (batch,) int64, h_0 [, c_0]
    outputs: logits (batch, time, vocab), h_n [, c_n]

Batch and time are free (dynamic) axes. Outputs past a row's length are zero for a layer
(the decoder's bias for logits), and the final state is each row's at its last real step.
"""

from __future__ import annotations

import importlib
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.layers import MinimalRecurrentLayer, RecurrentLayer
from rnnkit.layers.residual import ResidualRecurrentStack
from rnnkit.models.language_model import LanguageModel


def require(package: str) -> Any:
    """Import an optional dependency of export, or say how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError as error:
        raise RuntimeError(f"ONNX export needs the {package} package: "
                           f"pip install 'rnnkit[export]'") from error


def state_names(layer: RecurrentLayer) -> tuple[list[str], list[str]]:
    """Names of the state inputs and outputs: ``h_0``/``h_n``, plus ``c_0``/``c_n``."""
    if len(layer.state_sizes()) == 2:
        return ["h_0", "c_0"], ["h_n", "c_n"]
    return ["h_0"], ["h_n"]


class _FlatSignature(nn.Module):
    """What both wrapped forms share: ``inner(first, hx, lengths=lengths)`` with the state
    passed flat and returned flat."""

    inner: nn.Module

    @property
    def recurrent(self) -> RecurrentLayer:
        """The recurrent layer inside."""
        raise NotImplementedError

    def forward(self, first: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        hx = state[0] if len(state) == 1 else (state[0], state[1])
        output, final = self.inner(first, hx, lengths=lengths)
        return (output, *(final if isinstance(final, tuple) else (final,)))

    def _with_lengths_and_state(self, first: Tensor, lengths: list[int],
                                generator: torch.Generator) -> tuple[Tensor, ...]:
        layer = self.recurrent
        stacked = layer.num_layers * layer.num_directions
        batch = len(lengths)
        state = [torch.randn(stacked, batch, size, generator=generator) * 0.5
                 for size in layer.state_sizes()]
        return (first, torch.tensor(lengths), *state)


class ExportedLayer(_FlatSignature):
    """A recurrent layer behind the flat export signature (see the module docstring)."""

    def __init__(self, layer: RecurrentLayer) -> None:
        super().__init__()
        self.inner = layer

    @property
    def recurrent(self) -> RecurrentLayer:
        return self.inner

    def input_names(self) -> list[str]:
        return ["input", "lengths", *state_names(self.inner)[0]]

    def output_names(self) -> list[str]:
        return ["output", *state_names(self.inner)[1]]

    def example_inputs(self, batch: int, time: int, lengths: list[int],
                       generator: torch.Generator) -> tuple[Tensor, ...]:
        """Random inputs of the signature's shapes (lengths as given)."""
        layer = self.inner
        shape = (batch, time) if layer.batch_first else (time, batch)
        data = torch.randn(*shape, layer.input_size, generator=generator)
        return self._with_lengths_and_state(data, lengths, generator)


class ExportedLanguageModel(_FlatSignature):
    """A :class:`LanguageModel` behind the flat export signature (see the module docstring).

    Conditional models (``condition_sizes``) are not exportable yet.
    """

    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        if model.config.condition_sizes:
            raise ValueError("exporting a conditional language model (condition_sizes="
                             f"{model.config.condition_sizes}) is not supported yet")
        self.inner = model

    @property
    def model(self) -> LanguageModel:
        return self.inner

    @property
    def recurrent(self) -> RecurrentLayer | ResidualRecurrentStack:
        return self.inner.rnn

    def input_names(self) -> list[str]:
        return ["tokens", "lengths", *state_names(self.recurrent)[0]]

    def output_names(self) -> list[str]:
        return ["logits", *state_names(self.recurrent)[1]]

    def example_inputs(self, batch: int, time: int, lengths: list[int],
                       generator: torch.Generator) -> tuple[Tensor, ...]:
        """Random tokens and states of the signature's shapes (lengths as given)."""
        tokens = torch.randint(0, self.inner.config.vocab_size, (batch, time),
                               generator=generator)
        return self._with_lengths_and_state(tokens, lengths, generator)


Exported = ExportedLayer | ExportedLanguageModel


def exported_form(module: nn.Module) -> Exported:
    """Wrap a rnnkit layer or language model (or pass an already wrapped one through)."""
    if isinstance(module, (ExportedLayer, ExportedLanguageModel)):
        return module
    if isinstance(module, LanguageModel):
        return ExportedLanguageModel(module)
    if isinstance(module, RecurrentLayer):
        return ExportedLayer(module)
    if isinstance(module, MinimalRecurrentLayer):
        raise TypeError(f"export takes a {type(module).__name__} inside a LanguageModel "
                        "(cell='mingru' or 'minlstm', ONNX only); a bare minimal layer is "
                        "not exportable yet")
    raise TypeError(f"export takes a rnnkit RNN/LSTM/GRU layer or LanguageModel, got "
                    f"{type(module).__name__}")
