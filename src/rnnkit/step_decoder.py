"""A recurrent language model rearranged for generation: one token per call, many streams.

Sampling calls a model once per token. Through :class:`~rnnkit.models.language_model
.LanguageModel` that call runs the embedding, the rnnkit layer's time loop and its input
checks for a sequence one step long. :class:`StepDecoder` holds the same weights in torch's
own one-step cells (``nn.LSTMCell``, ``nn.GRUCell``, ``nn.RNNCell``), so a step is the
embedding, one call per layer and the decoder; and torch's dynamic quantization
(:func:`quantize_step_decoder`) applies to those cells as they are.

Shapes:
    tokens: (streams,) int64
    state:  one entry per layer: (h, c) for an LSTM, h otherwise, each (streams, hidden)
    logits: (streams, vocab)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.engine.native import native_extension, native_unavailable_reason
from rnnkit.layers import RecurrentLayer
from rnnkit.layers.state import RecurrentState
from rnnkit.models.language_model import LanguageModel
from rnnkit.quantized_step import (
    JointQuantizedCell,
    QuantizedLinear,
    TorchQuantizedCell,
    quantized_cell,
)

#: What ``quantize`` accepts: ``int8`` is torch's dynamic quantization (int8 weights, the
#: activations quantized per call; CPU only).
QUANTIZE_CHOICES = ("int8",)

_CELLS = {"LSTM": nn.LSTMCell, "GRU": nn.GRUCell, "RNN_TANH": nn.RNNCell, "RNN_RELU": nn.RNNCell}

#: A decoder with fewer outputs stays float32 under ``quantize``: quantizing its input
#: costs more than its product saves (13 us against 6 us for 84 outputs of 512 features
#: on the project's CPU; the two cross near 300 outputs).
QUANTIZED_DECODER_MIN_OUTPUTS = 512

#: One layer's state in the decoder: ``(h, c)`` for an LSTM, ``h`` otherwise.
LayerState = Tensor | tuple[Tensor, Tensor]


def step_decoder_blocker(model: Any) -> str | None:
    """Why :class:`StepDecoder` cannot hold ``model``, in words, or None when it can.

    It holds a :class:`LanguageModel` of the cells torch has one-step forms of, in their
    torch.nn form: ``lstm`` without peepholes, projection or layer norm, ``gru`` with
    ``reset_after`` (torch's candidate), ``rnn_tanh``, ``rnn_relu`` and ``irnn``; without
    conditions. Every other model samples through its own forward.
    """
    if not isinstance(model, LanguageModel):
        return f"it is a {type(model).__name__}, not a recurrent LanguageModel"
    layer = model.rnn
    if not isinstance(layer, RecurrentLayer):
        return f"cell {model.config.cell!r} is a stack of residual blocks"
    checks = [
        (layer.mode not in _CELLS, f"cell mode {layer.mode} has no torch.nn one-step cell"),
        (bool(model.config.condition_sizes), "it is a conditional model"),
        (model.config.output_layer != "softmax",
         f"its output layer is output_layer = {model.config.output_layer!r}"),
        (layer.bidirectional, "it is bidirectional"),
        (bool(layer.proj_size), f"proj_size = {layer.proj_size}"),
        (getattr(layer, "peephole", False), "it has peepholes"),
        (getattr(layer, "layer_norm", False), "it has layer normalization"),
        (layer.mode == "GRU" and not getattr(layer, "reset_after", True),
         "its GRU is Cho et al.'s form (reset_after = false)"),
        (not layer.bias, "its layers have no bias"),
    ]
    return next((why for blocked, why in checks if blocked), None)


class StepDecoder(nn.Module):
    """One token per call through a :class:`LanguageModel`'s weights, for generation.

    Built by :meth:`from_model`, which shares the model's weights rather than copying them
    (building one then costs about a millisecond; copying a 2x512 LSTM into fresh torch
    cells cost 22 ms). It runs in eval mode only (dropout of every kind is a training-time
    operation and is left out), under ``torch.no_grad()``.

    Shapes:
        tokens: (streams,) int64
        state:  list of ``num_layers`` entries, (h, c) for an LSTM or h, each
                (streams, hidden)
        logits: (streams, vocab)
    """

    def __init__(self, embedding: nn.Module, cells: nn.ModuleList, decoder: nn.Module,
                 mode: str) -> None:
        super().__init__()
        self.embedding = embedding
        self.cells = cells
        self.decoder = decoder
        self.mode = mode

    @classmethod
    @torch.no_grad()
    def from_model(cls, model: LanguageModel) -> StepDecoder:
        """A decoder holding ``model``'s weights (the same tensors), in eval mode.

        Raises ``ValueError`` with :func:`step_decoder_blocker`'s reason for a model it
        cannot hold.
        """
        blocker = step_decoder_blocker(model)
        if blocker is not None:
            raise ValueError(f"StepDecoder cannot hold this model: {blocker}")
        layer = model.rnn
        cells = nn.ModuleList(_torch_cell(layer, index) for index in range(layer.num_layers))
        # New modules around the model's own parameters: a deep copy with every parameter
        # in its memo copies the modules and shares the weights (tied ones stay tied).
        shared: dict[int, Any] = {id(parameter): parameter for parameter in model.parameters()}
        step = cls(copy.deepcopy(model.embedding, shared), cells,
                   copy.deepcopy(model.decoder, shared), layer.mode)
        return step.eval()

    def forward(self, tokens: Tensor, state: list[LayerState]) -> tuple[Tensor, list[LayerState]]:
        """Logits for the token after ``tokens``, and the state after reading them."""
        x = self.embedding(tokens)  # (streams, embedding)
        next_state: list[LayerState] = []
        for cell, layer_state in zip(self.cells, state, strict=True):
            layer_state = cell(x, layer_state)
            x = layer_state[0] if isinstance(layer_state, tuple) else layer_state
            next_state.append(layer_state)
        return self.decoder(x), next_state

    def buffered_step(self, state: list[LayerState]) -> BufferedStep:
        """The step generation runs: a copy of ``state`` in buffers allocated once, which
        each call overwrites (:class:`BufferedStep`)."""
        return BufferedStep(self, state)

    def zero_state(self, streams: int, device: torch.device | str = "cpu") -> list[LayerState]:
        """The zero state of ``streams`` streams, in the decoder's per-layer form."""
        zeros = torch.zeros(len(self.cells), streams, self.cells[0].hidden_size, device=device)
        return self.split_state((zeros, zeros) if self.mode == "LSTM" else zeros)

    def split_state(self, state: RecurrentState) -> list[LayerState]:
        """A :class:`LanguageModel`'s state, (layers, batch, hidden) per tensor, in the
        decoder's per-layer form (views, no copy)."""
        per_layer = [tuple(part[index] for part in _as_tuple(state))
                     for index in range(len(self.cells))]
        return [layer if self.mode == "LSTM" else layer[0] for layer in per_layer]

    def join_state(self, state: list[LayerState]) -> RecurrentState:
        """The decoder's per-layer state in a :class:`LanguageModel`'s form."""
        if self.mode != "LSTM":
            return torch.stack(state)  # type: ignore[arg-type]
        return torch.stack([h for h, _ in state]), torch.stack([c for _, c in state])

    def repeat_state(self, state: RecurrentState, streams: int) -> list[LayerState]:
        """A :class:`LanguageModel`'s state for one row, (layers, 1, hidden) per tensor,
        repeated for ``streams`` streams in the decoder's per-layer form."""
        repeated = tuple(part.expand(-1, streams, -1).contiguous()
                         for part in _as_tuple(state))
        return self.split_state(repeated if len(repeated) == 2 else repeated[0])


class BufferedStep:
    """A :class:`StepDecoder`'s step for a generation loop, its state held in buffers
    allocated once: a call reads a token per stream and gives their logits, and the next
    state overwrites the buffers.

    On the CPU with rnnkit's C++ kernels, an LSTM layer is one call that writes ``h`` and
    ``c`` where they lie: in float, ``lstm_cell_step_`` (torch's two products into gate
    buffers made once, then the activations; nothing is allocated); under int8, the joined
    cell's product of ``[x, h]`` (joined into a buffer) and ``lstm_gates_step_``. Every other
    cell (GRU, Elman, torch's int8 cells, CUDA, or no C++ kernels) calls its cell's kernel
    with the weights bound (what the cell's forward calls after checking its arguments,
    which the loop's fixed shapes make needless) and copies the state it returns into the
    buffers: the forward's arithmetic, bit for bit.
    The C++ LSTM steps sum and activate the gates in their own loop, so a float LSTM's
    numbers equal torch's cell to float rounding, not bit for bit. Use it under
    ``torch.no_grad()``.

    Shapes:
        tokens: (streams,) int64
        logits: (streams, vocab)
        state:  list of ``num_layers`` entries, (h, c) for an LSTM or h, each
                (streams, hidden)
    """

    def __init__(self, step: StepDecoder, state: list[LayerState]) -> None:
        self.state: list[LayerState] = [_contiguous_copy(layer) for layer in state]
        self._embedding = _bound_call(step.embedding)
        self._decoder = _bound_call(step.decoder)
        self._layers = [_in_place_layer(cell, layer_state)
                        for cell, layer_state in zip(step.cells, self.state, strict=True)]
        #: How each layer steps, by name: ``"c++ in place"`` or ``"kernel, copied"``.
        self.layer_paths = [path for _, path in self._layers]

    def __call__(self, tokens: Tensor) -> Tensor:
        """The logits after ``tokens`` (one per stream); the state moves on in place."""
        x = self._embedding(tokens)  # (streams, embedding)
        for layer, _ in self._layers:
            x = layer(x)
        return self._decoder(x)


IN_PLACE = "c++ in place"
COPIED = "kernel, copied"


def _in_place_layer(cell: nn.Module, state: LayerState
                    ) -> tuple[Callable[[Tensor], Tensor], str]:
    """A function of one layer's input that overwrites ``state`` with the layer's next
    state and returns its output (the buffer of h), and how it steps (``IN_PLACE`` or
    ``COPIED``)."""
    h = _as_tuple(state)[0]
    native = native_unavailable_reason(h.device, h.dtype) is None
    if native and type(cell) is nn.LSTMCell:
        return _float_lstm_in_place(cell, *state), IN_PLACE
    if native and type(cell) is JointQuantizedCell and cell.lstm:
        return cell.in_place_step(*state), IN_PLACE
    call = _bound_call(cell)

    def copied(x: Tensor) -> Tensor:
        new_state = call(x, state)
        for buffer, new in zip(_as_tuple(state), _as_tuple(new_state), strict=True):
            buffer.copy_(new)
        return h
    return copied, COPIED


def _float_lstm_in_place(cell: nn.LSTMCell, h: Tensor, c: Tensor) -> Callable[[Tensor], Tensor]:
    """torch's LSTM cell as one call of rnnkit's C++ ``lstm_cell_step_``: both products
    into gate buffers made here, then ``h`` and ``c`` overwritten."""
    kernel = native_extension().lstm_cell_step_
    # Detached, so that the C++ products' out= buffers never meet autograd.
    weights = (cell.weight_ih.detach().t(), cell.weight_hh.detach().t(),
               cell.bias_ih.detach(), cell.bias_hh.detach())
    gates = [h.new_empty(h.shape[0], 4 * cell.hidden_size) for _ in range(2)]

    def lstm_in_place(x: Tensor) -> Tensor:
        kernel(x, *weights, h, c, *gates)
        return h
    return lstm_in_place


def _as_tuple(state: LayerState) -> tuple[Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def _contiguous_copy(state: LayerState) -> LayerState:
    """One layer's state copied into new contiguous tensors, in the same form."""
    parts = tuple(part.detach().clone(memory_format=torch.contiguous_format)
                  for part in _as_tuple(state))
    return parts if isinstance(state, tuple) else parts[0]


class StepSequenceModel(nn.Module):
    """A :class:`StepDecoder` run over whole sequences behind a :class:`LanguageModel`'s
    interface, so that the language metrics (:mod:`rnnkit.metrics.language`) score it:
    a quantized decoder's validation loss, say.

    Shapes:
        tokens: (batch, time) int64
        logits: (batch, time, vocab)
        state:  as a LanguageModel's: (layers, batch, hidden), or (h, c) for an LSTM
    """

    def __init__(self, step: StepDecoder) -> None:
        super().__init__()
        self.step = step

    def forward(self, tokens: Tensor, state: RecurrentState | None = None
                ) -> tuple[Tensor, RecurrentState]:
        """Logits at every step and the state after the last, one step call per token."""
        layers = (self.step.zero_state(tokens.shape[0], tokens.device) if state is None
                  else self.step.split_state(state))
        logits = []
        for position in range(tokens.shape[1]):
            step_logits, layers = self.step(tokens[:, position], layers)
            logits.append(step_logits)
        return torch.stack(logits, dim=1), self.step.join_state(layers)


_FLOAT_KERNELS = {nn.LSTMCell: torch._VF.lstm_cell, nn.GRUCell: torch._VF.gru_cell}
_RNN_KERNELS = {"tanh": torch._VF.rnn_tanh_cell, "relu": torch._VF.rnn_relu_cell}


def _bound_call(module: nn.Module) -> Callable[..., Any]:
    """``module``'s kernel with its weights bound, or the module itself when it has no
    kernel known here (a one-hot embedding, say)."""
    kind = type(module)
    if kind is nn.Embedding:
        weight = module.weight
        return lambda tokens: torch.embedding(weight, tokens)
    if kind is nn.Linear:
        weight, bias = module.weight, module.bias
        return lambda x: F.linear(x, weight, bias)
    if kind in (TorchQuantizedCell, JointQuantizedCell, QuantizedLinear):  # no checks to skip
        return module.forward
    if kind not in _FLOAT_KERNELS and kind is not nn.RNNCell:
        return module
    kernel = _FLOAT_KERNELS.get(kind) or _RNN_KERNELS[module.nonlinearity]
    weights = (module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh)
    return lambda x, state: kernel(x, state, *weights)


def _torch_cell(layer: RecurrentLayer, index: int) -> nn.Module:
    """Layer ``index`` of ``layer`` as a torch.nn one-step cell holding the layer's own
    parameters (built on the meta device, so no weights are drawn only to be replaced)."""
    weights = layer.cell_weights(index, 0)
    input_size, hidden = weights["weight_ih"].shape[1], layer.hidden_size
    options = {"nonlinearity": "relu" if layer.mode == "RNN_RELU" else "tanh"} if (
        layer.mode.startswith("RNN")) else {}
    cell = _CELLS[layer.mode](input_size, hidden, device="meta", **options)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        setattr(cell, name, weights[name])
    return cell


def check_quantize(quantize: object) -> None:
    """Raise a ``ValueError`` naming ``quantize`` unless it is one of ``QUANTIZE_CHOICES``."""
    if quantize not in QUANTIZE_CHOICES:
        raise ValueError(f"expected quantize to be one of {list(QUANTIZE_CHOICES)}, "
                         f"got {quantize!r}")


def quantize_step_decoder(step: StepDecoder, quantize: str, engine: str | None = None
                          ) -> StepDecoder:
    """``step`` under torch's dynamic quantization (``quantize="int8"``: int8 weights, the
    activations quantized per call): its cells, and its decoder when that has
    ``QUANTIZED_DECODER_MIN_OUTPUTS`` outputs or more, packed for ``engine``'s kernels (a
    name in ``torch.backends.quantized.supported_engines``; the current engine if None).
    The embedding and a smaller decoder stay float32 and shared with ``step``, which is
    left as it was.

    The modules (:mod:`rnnkit.quantized_step`) use torch's weight observer and quantized
    kernels and build in a quarter of ``quantize_dynamic``'s time. A GRU cell and the
    decoder compute what ``torch.ao.quantization.quantize_dynamic`` makes of them, bit for
    bit; an LSTM or Elman cell runs one int8 product of ``[x, h]`` with ``[W_ih | W_hh]``
    instead of torch's two. CPU only (torch's quantized kernels are fbgemm/oneDNN).
    """
    check_quantize(quantize)
    if any(parameter.device.type != "cpu" for parameter in step.parameters()):
        raise ValueError("quantize='int8' runs on the CPU only (torch's dynamic quantization "
                         "has no CUDA kernels); use --device cpu")
    if next(step.parameters()).dtype != torch.float32:
        raise ValueError("quantize='int8' needs a float32 model")
    if engine is not None and engine not in torch.backends.quantized.supported_engines:
        raise ValueError(f"expected engine to be one of "
                         f"{torch.backends.quantized.supported_engines}, got {engine!r}")
    decoder = step.decoder
    if isinstance(decoder, nn.Linear) and decoder.out_features >= QUANTIZED_DECODER_MIN_OUTPUTS:
        decoder = QuantizedLinear(decoder, engine)
    cells = nn.ModuleList(quantized_cell(cell, engine) for cell in step.cells)
    return StepDecoder(step.embedding, cells, decoder, step.mode).eval()
