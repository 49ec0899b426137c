"""One recurrent step of a language model as ONNX, with every gate and cell value out.

The playground (:mod:`rnnkit.export.web`) runs a model in the browser one character at a
time and shows what its units do, so it needs what ONNX's fused ``LSTM``/``GRU``/``RNN``
operators keep inside: the gates. This graph writes the step out in matrix products and
pointwise operators instead, in torch's gate order, from the same weights.

Signature (``batch`` is free):
    inputs:  token (batch,) int64, h_0 (layers, batch, hidden) float32, c_0 for an LSTM,
             and conditions (batch, conditions) int64 for a conditional model (the class
             ids fed with every token, e.g. a tune's key and meter)
    outputs: logits (batch, vocab), h_n, c_n for an LSTM, and
             activations (layers, channels, batch, hidden): per layer, the values named
             by :func:`activation_channels` after the step

The LSTM's channels are ``hidden`` (h'), ``cell`` (c'), ``input_gate``, ``forget_gate``,
``candidate`` (g) and ``output_gate``; the GRU's ``hidden``, ``reset_gate``,
``update_gate`` and ``candidate`` (n); a vanilla RNN's ``hidden`` only. Gates are after
their sigmoid, candidates after their tanh. A minGRU or minLSTM model (residual blocks,
:mod:`rnnkit.layers.residual`) has per block its recurrence's ``hidden``, and minGRU's
``update_gate`` and ``candidate``, minLSTM's ``forget_gate`` and ``input_gate`` (as they
weigh the step, summing to 1) and ``candidate``. Dropout of every kind is a training-time
operation and is left out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rnnkit.export.arrays import float32_array
from rnnkit.export.onnx_graph import OPSET, Graph
from rnnkit.export.onnx_residual import Emitter, block_coefficients, feed_forward_residual
from rnnkit.export.signature import require
from rnnkit.layers import RecurrentLayer
from rnnkit.layers.residual import ResidualRecurrentStack
from rnnkit.models.language_model import LanguageModel

IR_VERSION = 8
CHANNELS = {
    "LSTM": ("hidden", "cell", "input_gate", "forget_gate", "candidate", "output_gate"),
    "GRU": ("hidden", "reset_gate", "update_gate", "candidate"),
    "RNN_TANH": ("hidden",),
    "RNN_RELU": ("hidden",),
    "minGRU": ("hidden", "update_gate", "candidate"),
    "minLSTM": ("hidden", "forget_gate", "input_gate", "candidate"),
}
RESIDUAL_MODES = {"mingru": "minGRU", "minlstm": "minLSTM"}


def step_blocker(model: Any) -> str | None:
    """Why the step graph cannot run ``model``, in words a user can act on, or None."""
    if not isinstance(model, LanguageModel):
        return (f"it is a {type(model).__name__}; the playground runs recurrent language "
                "models (cell lstm, gru, rnn_tanh, rnn_relu, irnn, mingru or minlstm)")
    if model.config.output_layer != "softmax":
        return (f"output_layer = {model.config.output_layer!r}: the step's output layer is "
                "one linear decoder")
    layer = model.rnn
    if isinstance(layer, ResidualRecurrentStack):
        return None
    checks = [(layer.bidirectional, "bidirectional = true: a language model reads one way"),
              (bool(layer.proj_size), f"proj_size = {layer.proj_size}: the step has no "
                                      "output projection"),
              (getattr(layer, "layer_norm", False), "layer_norm = true: the step has no "
                                                    "layer normalization"),
              (layer.mode not in CHANNELS, f"cell mode {layer.mode} is not one of "
                                           f"{sorted(CHANNELS)}")]
    return next((why for blocked, why in checks if blocked), None)


def recurrence_mode(model: LanguageModel) -> str:
    """The kind of recurrence: torch's mode (``LSTM``, ``GRU``, ``RNN_TANH``, ``RNN_RELU``)
    or ``minGRU``/``minLSTM`` for residual blocks."""
    if isinstance(model.rnn, ResidualRecurrentStack):
        return RESIDUAL_MODES[model.rnn.cell]
    return model.rnn.mode


def activation_channels(model: LanguageModel) -> tuple[str, ...]:
    """The names of the ``activations`` output's channel axis, in order."""
    return CHANNELS[recurrence_mode(model)]


def state_names(model: LanguageModel) -> tuple[list[str], list[str]]:
    """The state inputs and outputs: ``h_0``/``h_n``, with ``c_0``/``c_n`` for an LSTM."""
    if recurrence_mode(model) == "LSTM":
        return ["h_0", "c_0"], ["h_n", "c_n"]
    return ["h_0"], ["h_n"]


def build_step_model(model: LanguageModel) -> Any:
    """The ``onnx.ModelProto`` of one step of ``model`` (float32, on the CPU).

    Raises ``ValueError`` with :func:`step_blocker`'s reason for a model it cannot express.
    """
    blocker = step_blocker(model)
    if blocker is not None:
        raise ValueError(f"the one-step graph cannot run this model: {blocker}")
    onnx = require("onnx")
    TensorProto, helper = onnx.TensorProto, onnx.helper  # noqa: N806 (onnx's own names)
    graph = Graph()
    layer = model.rnn
    states_in, states_out = state_names(model)
    x = _embedded_token(graph, model)
    if isinstance(layer, ResidualRecurrentStack):
        x, finals, activations = _residual_steps(graph, layer, x)
    else:
        x, finals, activations = _layer_steps(graph, layer, x, states_in)
    decoder_weight = graph.weight("decoder_weight", float32_array(model.decoder.weight).T.copy())
    (logits,) = graph.node("MatMul", [x, decoder_weight])
    graph.node("Add", [logits, graph.weight("decoder_bias", float32_array(model.decoder.bias))],
               ["logits"])
    for parts, name in zip(finals, states_out, strict=True):
        graph.node("Concat", parts, [name], axis=0)
    graph.node("Concat", activations, ["activations"], axis=0)
    layers, hidden = layer.num_layers, layer.hidden_size
    channels = len(activation_channels(model))
    vocab = model.config.vocab_size
    state_shape = [layers, "batch", hidden]
    inputs = [helper.make_tensor_value_info("token", TensorProto.INT64, ["batch"]),
              *[helper.make_tensor_value_info(name, TensorProto.FLOAT, state_shape)
                for name in states_in]]
    if model.config.condition_sizes:
        inputs.append(helper.make_tensor_value_info(
            "conditions", TensorProto.INT64, ["batch", len(model.config.condition_sizes)]))
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", vocab]),
               *[helper.make_tensor_value_info(name, TensorProto.FLOAT, state_shape)
                 for name in states_out],
               helper.make_tensor_value_info("activations", TensorProto.FLOAT,
                                             [layers, channels, "batch", hidden])]
    body = helper.make_graph(graph.nodes, "rnnkit_step", inputs, outputs, graph.initializers)
    proto = helper.make_model(body, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="rnnkit")
    # IR 8 is what opset 17 came with; onnxruntime-web reads up to the IR of its release.
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto)
    return proto


def _layer_steps(graph: Graph, layer: RecurrentLayer, x: str,
                 states_in: list[str]) -> tuple[str, list[list[str]], list[str]]:
    """Each layer's step on ``x`` (batch, input): the top layer's output, the new states
    (per state, per layer, (1, batch, hidden)) and the activations (1, channels, batch,
    hidden) per layer."""
    finals: list[list[str]] = [[] for _ in states_in]
    activations = []
    for index in range(layer.num_layers):
        state = [_layer_slice(graph, name, index) for name in states_in]
        new_state, values = _STEPS[layer.mode](graph, layer, index, x, state)
        x = new_state[0]
        for collected, value in zip(finals, new_state, strict=True):
            collected.append(_unsqueeze(graph, value))
        activations.append(_unsqueeze(graph, _stack(graph, values)))
    return x, finals, activations


def _residual_steps(graph: Graph, stack: ResidualRecurrentStack,
                    x: str) -> tuple[str, list[list[str]], list[str]]:
    """One step of every residual block (as :class:`ResidualBlock`'s one-step path), then
    the final RMSNorm; returns as :func:`_layer_steps`."""
    emit = Emitter(graph)
    if not isinstance(stack.input_projection, torch.nn.Identity):
        x = emit.linear(x, stack.input_projection.weight, None)
    finals, activations = [], []
    channels = CHANNELS[RESIDUAL_MODES[stack.cell]][1:]  # after "hidden"
    for index, block in enumerate(stack.blocks):
        h = _layer_slice(graph, "h_0", index)
        a, b, gates = block_coefficients(emit, block, emit.rms_norm(x, block.recurrent_norm))
        h_next = emit.op("Add", emit.op("Mul", a, h), b)
        x = feed_forward_residual(emit, block, emit.op("Add", x, h_next))
        finals.append(_unsqueeze(graph, h_next))
        activations.append(_unsqueeze(graph, _stack(graph, [h_next, *(gates[name] for name
                                                                       in channels)])))
    return emit.rms_norm(x, stack.norm), [finals], activations


def _embedded_token(graph: Graph, model: LanguageModel) -> str:
    """The token's embedding (batch, input), its conditions' embeddings after it."""
    config = model.config
    if config.embedding == "one-hot":
        table = np.eye(config.vocab_size, dtype=np.float32)
    else:
        table = float32_array(model.embedding.weight)
    parts = graph.node("Gather", [graph.weight("embedding", table), "token"], axis=0)
    for index, embedding in enumerate(model.condition_embeddings):
        ids = graph.node("Gather", ["conditions", graph.weight(
            "condition", np.array(index, dtype=np.int64))], axis=1)[0]  # (batch,)
        parts += graph.node("Gather", [graph.weight("condition_embedding", float32_array(
            embedding.weight)), ids], axis=0)
    return graph.node("Concat", parts, axis=1)[0] if len(parts) > 1 else parts[0]


def _layer_slice(graph: Graph, stacked: str, index: int) -> str:
    """Layer ``index`` of a (layers, batch, hidden) state: (batch, hidden)."""
    position = graph.weight("layer", np.array(index, dtype=np.int64))
    return graph.node("Gather", [stacked, position], axis=0)[0]


def _unsqueeze(graph: Graph, name: str) -> str:
    return graph.node("Unsqueeze", [name, graph.weight("axis", np.array([0], dtype=np.int64))])[0]


def _stack(graph: Graph, names: list[str]) -> str:
    """(batch, hidden) tensors stacked on a new first axis: (len(names), batch, hidden)."""
    parts = [_unsqueeze(graph, name) for name in names]
    return graph.node("Concat", parts, axis=0)[0] if len(parts) > 1 else parts[0]


def _affine(graph: Graph, x: str, weight: torch.Tensor, bias: torch.Tensor | None) -> str:
    """``x @ weight.T + bias`` for x (batch, in) and weight (out, in)."""
    return Emitter(graph).linear(x, weight, bias)


def _split(graph: Graph, name: str, parts: int) -> list[str]:
    return graph.node("Split", [name], parts, axis=1)  # equal parts (opset 17)


def _joint_projection(graph: Graph, x: str, h: str, weights: dict[str, torch.Tensor]) -> str:
    """``W_ih x + b_ih + W_hh h + b_hh`` as one product over ``[x, h]``: half the kernel
    launches per step of two products (LSTM and Elman steps)."""
    (xh,) = graph.node("Concat", [x, h], axis=1)
    stacked = torch.cat([weights["weight_ih"], weights["weight_hh"]], dim=1)
    bias = weights["bias_ih"] + weights["bias_hh"] if "bias_ih" in weights else None
    return _affine(graph, xh, stacked, bias)


def _lstm_step(graph: Graph, layer: RecurrentLayer, index: int, x: str,
               state: list[str]) -> tuple[list[str], list[str]]:
    """torch's LSTM step (gate order i, f, g, o), peepholes included."""
    h, c = state
    weights = layer.cell_weights(index, 0)
    i, f, g, o = _split(graph, _joint_projection(graph, x, h, weights), 4)
    if "weight_ci" in weights:
        i = _plus_peephole(graph, i, weights["weight_ci"], c)
        f = _plus_peephole(graph, f, weights["weight_cf"], c)
    (i,) = graph.node("Sigmoid", [i])
    (f,) = graph.node("Sigmoid", [f])
    (g,) = graph.node("Tanh", [g])
    (kept,) = graph.node("Mul", [f, c])
    (written,) = graph.node("Mul", [i, g])
    (c_next,) = graph.node("Add", [kept, written])
    if "weight_co" in weights:
        o = _plus_peephole(graph, o, weights["weight_co"], c_next)  # reads the new cell
    (o,) = graph.node("Sigmoid", [o])
    (squashed,) = graph.node("Tanh", [c_next])
    (h_next,) = graph.node("Mul", [o, squashed])
    return [h_next, c_next], [h_next, c_next, i, f, g, o]


def _plus_peephole(graph: Graph, gate: str, weight: torch.Tensor, cell: str) -> str:
    (peek,) = graph.node("Mul", [cell, graph.weight("peephole", float32_array(weight))])
    return graph.node("Add", [gate, peek])[0]


def _gru_step(graph: Graph, layer: RecurrentLayer, index: int, x: str,
              state: list[str]) -> tuple[list[str], list[str]]:
    """torch's GRU step (gate order r, z, n), in either form of the candidate."""
    (h,) = state
    weights = layer.cell_weights(index, 0)
    hidden = layer.hidden_size
    x_r, x_z, x_n = _split(graph, _affine(graph, x, weights["weight_ih"],
                                          weights.get("bias_ih")), 3)
    weight_hh, bias_hh = weights["weight_hh"], weights.get("bias_hh")
    if layer.reset_after:
        h_r, h_z, h_n = _split(graph, _affine(graph, h, weight_hh, bias_hh), 3)
    else:
        h_r, h_z = _split(graph, _affine(graph, h, weight_hh[:2 * hidden],
                                         None if bias_hh is None else bias_hh[:2 * hidden]), 2)
    (r,) = graph.node("Sigmoid", [graph.node("Add", [x_r, h_r])[0]])
    (z,) = graph.node("Sigmoid", [graph.node("Add", [x_z, h_z])[0]])
    if layer.reset_after:
        (recurrent,) = graph.node("Mul", [r, h_n])
    else:  # Cho et al. (2014): the reset gate scales h before its product
        (reset_h,) = graph.node("Mul", [r, h])
        recurrent = _affine(graph, reset_h, weight_hh[2 * hidden:],
                            None if bias_hh is None else bias_hh[2 * hidden:])
    (n,) = graph.node("Tanh", [graph.node("Add", [x_n, recurrent])[0]])
    # h' = (1 - z) * n + z * h = n + z * (h - n)
    (difference,) = graph.node("Sub", [h, n])
    (h_next,) = graph.node("Add", [n, graph.node("Mul", [z, difference])[0]])
    return [h_next], [h_next, r, z, n]


def _rnn_step(graph: Graph, layer: RecurrentLayer, index: int, x: str,
              state: list[str]) -> tuple[list[str], list[str]]:
    """The Elman step: tanh (or ReLU) of both products."""
    (h,) = state
    pre_activation = _joint_projection(graph, x, h, layer.cell_weights(index, 0))
    (h_next,) = graph.node("Tanh" if layer.mode == "RNN_TANH" else "Relu", [pre_activation])
    return [h_next], [h_next]


_STEPS = {"LSTM": _lstm_step, "GRU": _gru_step, "RNN_TANH": _rnn_step, "RNN_RELU": _rnn_step}


def verify_step(data: bytes, model: LanguageModel, *, steps: int = 12, batch: int = 3,
                seed: int = 1) -> float:
    """Largest absolute difference between the step graph run ``steps`` times on random
    tokens and the eager model run once over the same sequence: logits at every step and
    the final state."""
    onnxruntime = require("onnxruntime")
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, model.config.vocab_size, (batch, steps), generator=generator)
    layer = model.rnn
    names_in, _ = state_names(model)
    state = [torch.randn(layer.num_layers, batch, layer.hidden_size, generator=generator) * 0.5
             for _ in names_in]
    conditions = [torch.randint(0, size, (batch,), generator=generator)
                  for size in model.config.condition_sizes]
    fixed = {"conditions": torch.stack(conditions, dim=1).numpy()} if conditions else {}
    eager = model.cpu().float().eval()
    if conditions:  # every step of a row gets the row's classes
        tokens = torch.stack([tokens, *(c[:, None].expand(-1, steps) for c in conditions)],
                             dim=-1)  # (batch, steps, 1 + conditions)
    with torch.no_grad():
        logits, final = eager(tokens, state[0] if len(state) == 1 else tuple(state))
    expected_final = final if isinstance(final, tuple) else (final,)
    feeds = {name: value.numpy() for name, value in zip(names_in, state, strict=True)}
    worst = 0.0
    for position in range(steps):
        token = tokens[:, position, 0] if conditions else tokens[:, position]
        produced = session.run(None, {"token": token.numpy(), **feeds, **fixed})
        worst = max(worst, float(np.abs(produced[0] - logits[:, position].numpy()).max()))
        feeds = dict(zip(names_in, produced[1:1 + len(names_in)], strict=True))
    for name, want in zip(names_in, expected_final, strict=True):
        worst = max(worst, float(np.abs(feeds[name] - want.numpy()).max()))
    return worst
