"""ONNX nodes for the minGRU/minLSTM residual stack of a language model (:mod:`rnnkit.layers.
residual`), with the recurrence as one ONNX ``Scan``, so batch and time stay free axes.

ONNX has no minGRU operator. What the stack computes splits in two: everything but the
recurrence reads one step at a time and is written with plain operators over the whole
``(batch, time, hidden)`` tensor (RMSNorm, the projections, the gates, the feed-forward
part); the recurrence ``h_t = a_t * h_(t-1) + b_t`` is a ``Scan`` whose body is one
multiply and one add. A padded step gets ``a = 1, b = 0``, as in the eager layer, so the
final state is each row's at its last real step; the output past it is zero.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from rnnkit.export.arrays import float32_array
from rnnkit.layers.residual import ResidualBlock, ResidualRecurrentStack


class Emitter:
    """Small helpers over the exporter's graph (``graph.node``, ``graph.weight``)."""

    def __init__(self, graph) -> None:
        self.graph = graph

    def op(self, op: str, *inputs: str, **attributes: object) -> str:
        return self.graph.node(op, list(inputs), **attributes)[0]

    def constant(self, stem: str, value: float | list[int] | np.ndarray) -> str:
        array = value if isinstance(value, np.ndarray) else np.array(
            value, dtype=np.int64 if isinstance(value, list) else np.float32)
        return self.graph.weight(stem, array)

    def linear(self, x: str, weight: torch.Tensor, bias: torch.Tensor | None) -> str:
        """``x @ weight.T + bias`` over the last axis."""
        out = self.op("MatMul", x, self.graph.weight("weight", float32_array(weight).T.copy()))
        return out if bias is None else self.op("Add", out, self.graph.weight("bias",
                                                                             float32_array(bias)))

    def rms_norm(self, x: str, norm: nn.RMSNorm) -> str:
        """``x / sqrt(mean(x^2) + eps) * weight``; torch's default eps is float32's."""
        eps = norm.eps if norm.eps is not None else torch.finfo(torch.float32).eps
        mean_square = self.op("ReduceMean", self.op("Mul", x, x), axes=[-1], keepdims=1)
        root = self.op("Sqrt", self.op("Add", mean_square, self.constant("eps", eps)))
        return self.op("Mul", self.op("Div", x, root), self.graph.weight(
            "norm", float32_array(norm.weight)))

    def gelu(self, x: str) -> str:
        """The exact GELU, ``0.5 x (1 + erf(x / sqrt 2))`` (opset 17 has no Gelu)."""
        erf = self.op("Erf", self.op("Div", x, self.constant("sqrt2", math.sqrt(2.0))))
        half_x = self.op("Mul", x, self.constant("half", 0.5))
        return self.op("Mul", half_x, self.op("Add", erf, self.constant("one", 1.0)))

    def positive(self, x: str) -> str:
        """The paper's g: ``x + 0.5`` where ``x >= 0``, ``sigmoid(x)`` below."""
        at_least_zero = self.op("GreaterOrEqual", x, self.constant("zero", 0.0))
        return self.op("Where", at_least_zero, self.op("Add", x, self.constant("half", 0.5)),
                       self.op("Sigmoid", x))


def block_coefficients(emit: Emitter, block: ResidualBlock,
                       x: str) -> tuple[str, str, dict[str, str]]:
    """``a`` and ``b`` of ``h_t = a_t h_(t-1) + b_t`` from the normed input ``x`` (any
    leading axes, features last), and the gates by name: minGRU's ``update_gate`` and
    ``candidate``; minLSTM's ``forget_gate`` and ``input_gate`` as they weigh the step
    (normalized to sum to 1, ``f / (f + i)`` and ``i / (f + i)``) and ``candidate``."""
    layer = block.recurrent
    weights = layer.weight_ih_l0.chunk(layer.gates, dim=0)
    biases = (layer.bias_ih_l0.chunk(layer.gates, dim=0) if layer.bias
              else [None] * layer.gates)
    projections = [emit.linear(x, w, b) for w, b in zip(weights, biases, strict=True)]
    candidate = projections[-1]
    if layer.form == "log":
        candidate = emit.positive(candidate)
    if layer.gates == 2:  # minGRU: a = 1 - z = sigmoid(-z), b = z * candidate
        update = projections[0]
        keep = emit.op("Sigmoid", emit.op("Neg", update))
        gate = emit.op("Sigmoid", update)
        return keep, emit.op("Mul", gate, candidate), {"update_gate": gate,
                                                       "candidate": candidate}
    forget, input_gate = (emit.op("Sigmoid", p) for p in projections[:2])  # minLSTM
    total = emit.op("Add", forget, input_gate)
    kept, written = emit.op("Div", forget, total), emit.op("Div", input_gate, total)
    return kept, emit.op("Mul", written, candidate), {"forget_gate": kept,
                                                      "input_gate": written,
                                                      "candidate": candidate}


def feed_forward_residual(emit: Emitter, block: ResidualBlock, x: str) -> str:
    """The block's second half on ``x`` (features last): ``x + FFN(RMSNorm(x))``."""
    first, _, second = block.feed_forward
    fed = emit.linear(emit.rms_norm(x, block.feed_forward_norm), first.weight, first.bias)
    return emit.op("Add", x, emit.linear(emit.gelu(fed), second.weight, second.bias))


def _scan(emit: Emitter, a: str, b: str, h_0: str) -> tuple[str, str]:
    """Run ``h = a * h + b`` along axis 1 of (batch, time, hidden); returns the states and
    the last one (batch, hidden)."""
    helper = emit.graph.helper
    value = helper.make_tensor_value_info
    float_type = 1  # TensorProto.FLOAT
    body = helper.make_graph(
        [helper.make_node("Mul", ["a_t", "h"], ["kept"]),
         helper.make_node("Add", ["kept", "b_t"], ["h_next"]),
         helper.make_node("Identity", ["h_next"], ["h_out"])],
        "minimal_step",
        [value("h", float_type, None), value("a_t", float_type, None),
         value("b_t", float_type, None)],
        [value("h_next", float_type, None), value("h_out", float_type, None)])
    final, states = emit.graph.node("Scan", [h_0, a, b], 2, num_scan_inputs=2, body=body,
                                    scan_input_axes=[1, 1], scan_output_axes=[1])
    return states, final


def _step_mask(emit: Emitter, sequence: str, lengths: str) -> str:
    """(batch, time, 1) bool: True where step t is inside row b (lengths int32)."""
    time = emit.op("Gather", emit.op("Shape", sequence), emit.constant("one", [1]), axis=0)
    steps = emit.op("Range", emit.constant("start", np.array(0, dtype=np.int64)),
                    emit.op("Squeeze", time), emit.constant("delta", np.array(1, np.int64)))
    rows = emit.op("Unsqueeze", emit.op("Cast", lengths, to=7), emit.constant("axis", [1]))
    inside = emit.op("Less", emit.op("Unsqueeze", steps, emit.constant("axis", [0])), rows)
    return emit.op("Unsqueeze", inside, emit.constant("axis", [2]))


def add_residual_stack(graph, stack: ResidualRecurrentStack, sequence: str, lengths: str,
                       h_0: str) -> tuple[str, str]:
    """Nodes running ``stack`` on a batch-first ``sequence`` (batch, time, input).

    ``lengths`` is int32 (batch,), ``h_0`` (layers, batch, hidden). Returns the output
    (batch, time, hidden), zero past each row's length, and ``h_n`` (layers, batch, hidden).
    """
    emit = Emitter(graph)
    mask = _step_mask(emit, sequence, lengths)
    one, zero = emit.constant("one", 1.0), emit.constant("zero", 0.0)
    hidden = sequence
    if isinstance(stack.input_projection, nn.Linear):
        hidden = emit.linear(hidden, stack.input_projection.weight, None)
    finals = []
    for index, block in enumerate(stack.blocks):
        start, end = emit.constant("begin", [index]), emit.constant("end", [index + 1])
        layer_h_0 = emit.op("Squeeze", emit.op("Slice", h_0, start, end,
                                               emit.constant("axis", [0])),
                            emit.constant("axis", [0]))
        a, b, _ = block_coefficients(emit, block, emit.rms_norm(hidden,
                                                                block.recurrent_norm))
        a, b = emit.op("Where", mask, a, one), emit.op("Where", mask, b, zero)
        states, final = _scan(emit, a, b, layer_h_0)
        finals.append(emit.op("Unsqueeze", final, emit.constant("axis", [0])))
        hidden = feed_forward_residual(emit, block, emit.op("Add", hidden, states))
    output = emit.op("Where", mask, emit.rms_norm(hidden, stack.norm), zero)
    h_n = emit.op("Concat", *finals, axis=0) if len(finals) > 1 else finals[0]
    return output, h_n
