"""ONNX graphs for rnnkit layers and language models, on ONNX's own recurrent operators.

Each layer-direction becomes one ONNX ``LSTM``, ``GRU`` or ``RNN`` node (both directions of
a layer share a node), so batch and time stay free axes and the per-row lengths go to the
operators' ``sequence_lens`` input: no loop is unrolled and no trace fixes a shape (the
problem of pytorch/pytorch#62240). The weights are reordered from torch's gate order to
ONNX's:

=====  ================  ================
cell   torch (rnnkit)    ONNX
=====  ================  ================
LSTM   i, f, g, o        i, o, f, c
GRU    r, z, n           z, r, h
=====  ================  ================

and map as: peepholes ``weight_ci/cf/co`` → ``P`` (order i, o, f; ONNX's output gate also
reads the new cell state, as rnnkit's does); GRU ``reset_after=True`` (torch's, cuDNN's)
→ ``linear_before_reset=1``, ``reset_after=False`` (Cho et al. 2014) →
``linear_before_reset=0``; ``RNN(nonlinearity="relu")`` → ``activations=["Relu"]``.
Not expressible: ``layer_norm=True`` and LSTM ``proj_size`` (ONNX's operators have
neither). Dropout of every kind is a training-time operation and is left out. A language
model of minGRU/minLSTM blocks has no ONNX operator; :mod:`rnnkit.export.onnx_residual`
writes its recurrence as a ``Scan``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.export.arrays import float32_array
from rnnkit.export.onnx_residual import add_residual_stack
from rnnkit.export.signature import Exported, ExportedLanguageModel, require
from rnnkit.layers import RecurrentLayer
from rnnkit.layers.residual import ResidualRecurrentStack

OPSET = 17
ONNX_OPS = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}
# Positions of torch's gate blocks in ONNX's order.
GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def onnx_blocker(layer: RecurrentLayer) -> str | None:
    """Why ONNX cannot express ``layer``, or None if it can."""
    if getattr(layer, "layer_norm", False):
        return "layer_norm=True: ONNX's recurrent operators have no layer normalization"
    if layer.proj_size:
        return (f"proj_size={layer.proj_size}: ONNX's LSTM operator has no output "
                "projection (use --format torchscript)")
    return None


class Graph:
    """Collects nodes and weights (initializers) under unique names."""

    def __init__(self) -> None:
        onnx = require("onnx")
        self.helper, self.numpy_helper = onnx.helper, onnx.numpy_helper
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def weight(self, stem: str, array: np.ndarray) -> str:
        name = self.name(stem)
        self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: Sequence[str], outputs: int | Sequence[str] = 1,
             **attributes: object) -> list[str]:
        names = ([self.name(op.lower()) for _ in range(outputs)] if isinstance(outputs, int)
                 else list(outputs))
        self.nodes.append(self.helper.make_node(op, list(inputs), names, **attributes))
        return names


def _gates(tensor: Tensor, mode: str) -> Tensor:
    """Reorder the gate blocks of a (gates * hidden, ...) tensor from torch's to ONNX's."""
    blocks = tensor.chunk(len(GATE_ORDER[mode]), dim=0)
    return torch.cat([blocks[index] for index in GATE_ORDER[mode]], dim=0)


def _layer_weights(graph: Graph, layer: RecurrentLayer, index: int) -> list[str]:
    """W, R, B (or ""), then P (peepholes) when present, for layer ``index``."""
    cells = [layer.cell_weights(index, d) for d in range(layer.num_directions)]
    mode = layer.mode
    w = np.stack([float32_array(_gates(c["weight_ih"], mode)) for c in cells])
    r = np.stack([float32_array(_gates(c["weight_hh"], mode)) for c in cells])
    names = [graph.weight("W", w), graph.weight("R", r)]
    if layer.bias:
        b = np.stack([float32_array(torch.cat([_gates(c["bias_ih"], mode),
                                               _gates(c["bias_hh"], mode)]))
                      for c in cells])
        names.append(graph.weight("B", b))
    else:
        names.append("")
    if getattr(layer, "peephole", False):
        p = np.stack([float32_array(torch.cat([c["weight_ci"], c["weight_co"], c["weight_cf"]]))
                      for c in cells])
        names.append(graph.weight("P", p))
    return names


def _attributes(layer: RecurrentLayer) -> dict[str, object]:
    attributes: dict[str, object] = {
        "hidden_size": layer.hidden_size,
        "direction": "bidirectional" if layer.bidirectional else "forward",
    }
    if layer.mode == "GRU":
        attributes["linear_before_reset"] = int(layer.reset_after)
    if layer.mode in ("RNN_TANH", "RNN_RELU"):
        activation = "Tanh" if layer.mode == "RNN_TANH" else "Relu"
        attributes["activations"] = [activation] * layer.num_directions
    return attributes


def add_recurrent_layer(graph: Graph, layer: RecurrentLayer, sequence: str, lengths: str,
                        state: list[str]) -> tuple[str, list[str]]:
    """Nodes running ``layer`` on a time-major ``sequence`` (time, batch, features).

    ``lengths`` is int32 (batch,); ``state`` the names of h_0 (and c_0). Returns the output
    (time, batch, directions * hidden) and the final states, stacked over layers.
    """
    directions = layer.num_directions
    finals: list[list[str]] = [[] for _ in state]
    zero_axis = graph.weight("axis0", np.array([0], dtype=np.int64))
    for index in range(layer.num_layers):
        begin = graph.weight("begin", np.array([index * directions], dtype=np.int64))
        end = graph.weight("end", np.array([(index + 1) * directions], dtype=np.int64))
        initial = [graph.node("Slice", [name, begin, end, zero_axis])[0] for name in state]
        w, r, b, *peephole = _layer_weights(graph, layer, index)
        inputs = [sequence, w, r, b, lengths, *initial, *peephole]
        y, *layer_finals = graph.node(ONNX_OPS[layer.mode], inputs, 1 + len(state),
                                      **_attributes(layer))
        # Y is (time, directions, batch, hidden); rnnkit's output is (time, batch, 2 * hidden).
        (y,) = graph.node("Transpose", [y], perm=[0, 2, 1, 3])
        shape = graph.weight("shape", np.array([0, 0, -1], dtype=np.int64))
        (sequence,) = graph.node("Reshape", [y, shape])
        for collected, final in zip(finals, layer_finals, strict=True):
            collected.append(final)
    stacked = [graph.node("Concat", parts, axis=0)[0] if len(parts) > 1 else parts[0]
               for parts in finals]
    return sequence, stacked


def build_onnx_model(exported: Exported) -> Any:
    """The ``onnx.ModelProto`` of a wrapped layer or language model (see :mod:`signature`)."""
    onnx = require("onnx")
    TensorProto, helper = onnx.TensorProto, onnx.helper  # noqa: N806 (onnx's own names)
    layer = exported.recurrent
    blocker = onnx_blocker(layer)
    if isinstance(exported, ExportedLanguageModel) and not isinstance(exported.model.decoder,
                                                                      nn.Linear):
        blocker = ("output_layer = 'adaptive': the graph's output layer is one linear "
                   "decoder")
    if blocker is not None:
        raise ValueError(f"ONNX cannot express this {type(layer).__name__}: {blocker}")
    graph = Graph()
    input_names, output_names = exported.input_names(), exported.output_names()
    state_inputs = input_names[2:]
    (lengths,) = graph.node("Cast", ["lengths"], to=TensorProto.INT32)
    if isinstance(exported, ExportedLanguageModel):
        sequence, finals = _language_model_nodes(graph, exported, lengths, state_inputs)
        first = helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", "time"])
        first_output = ["batch", "time", exported.model.config.vocab_size]
    else:
        sequence, finals = _layer_nodes(graph, layer, lengths, state_inputs)
        axes = ["batch", "time"] if layer.batch_first else ["time", "batch"]
        first = helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                              [*axes, layer.input_size])
        first_output = [*axes, layer.num_directions * layer.hidden_size]
    graph.node("Identity", [sequence], [output_names[0]])
    for final, name in zip(finals, output_names[1:], strict=True):
        graph.node("Identity", [final], [name])
    stacked = layer.num_layers * layer.num_directions
    states_in = [helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                               [stacked, "batch", layer.hidden_size])
                 for name in state_inputs]
    states_out = [helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                                [stacked, "batch", layer.hidden_size])
                  for name in output_names[1:]]
    inputs = [first, helper.make_tensor_value_info("lengths", TensorProto.INT64, ["batch"]),
              *states_in]
    outputs = [helper.make_tensor_value_info(output_names[0], TensorProto.FLOAT, first_output),
               *states_out]
    body = helper.make_graph(graph.nodes, f"rnnkit_{type(exported).__name__}", inputs,
                             outputs, graph.initializers)
    model = helper.make_model(body, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="rnnkit")
    onnx.checker.check_model(model)
    return model


def _layer_nodes(graph: Graph, layer: RecurrentLayer, lengths: str,
                 state: list[str]) -> tuple[str, list[str]]:
    sequence = "input"
    if layer.batch_first:
        (sequence,) = graph.node("Transpose", [sequence], perm=[1, 0, 2])  # (time, batch, ...)
    output, finals = add_recurrent_layer(graph, layer, sequence, lengths, state)
    if layer.batch_first:
        (output,) = graph.node("Transpose", [output], perm=[1, 0, 2])  # (batch, time, ...)
    return output, finals


def _language_model_nodes(graph: Graph, exported: ExportedLanguageModel, lengths: str,
                          state: list[str]) -> tuple[str, list[str]]:
    model = exported.model
    config = model.config
    if config.embedding == "one-hot":
        table = np.eye(config.vocab_size, dtype=np.float32)
    else:
        table = float32_array(model.embedding.weight)
    (embedded,) = graph.node("Gather", [graph.weight("embedding", table), "tokens"], axis=0)
    if isinstance(model.rnn, ResidualRecurrentStack):  # minGRU/minLSTM blocks: a Scan each
        output, final = add_residual_stack(graph, model.rnn, embedded, lengths, state[0])
        finals = [final]
    else:
        (sequence,) = graph.node("Transpose", [embedded], perm=[1, 0, 2])  # (time, batch, _)
        output, finals = add_recurrent_layer(graph, model.rnn, sequence, lengths, state)
        (output,) = graph.node("Transpose", [output], perm=[1, 0, 2])  # (batch, time, hidden)
    decoder_weight = graph.weight("decoder_weight", float32_array(model.decoder.weight).T.copy())
    (logits,) = graph.node("MatMul", [output, decoder_weight])
    (logits,) = graph.node("Add", [logits, graph.weight("decoder_bias",
                                                        float32_array(model.decoder.bias))])
    return logits, finals
