"""The one-step ONNX graph of the playground: run by onnxruntime, it gives the eager
model's logits and states, and its gate and cell outputs equal torch.nn's formulas (and
the paper's for minGRU/minLSTM blocks)."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

from rnnkit.export.onnx_step import (
    activation_channels,
    build_step_model,
    step_blocker,
    verify_step,
)
from rnnkit.models import LanguageModel, ModelConfig

CONFIGS = {
    "lstm": {"cell": "lstm"},
    "lstm-peephole": {"cell": "lstm", "peephole": True},
    "gru-reset-after": {"cell": "gru"},
    "gru-reset-before": {"cell": "gru", "reset_after": False},
    "rnn-tanh": {"cell": "rnn_tanh"},
    "rnn-relu": {"cell": "rnn_relu"},
    "irnn": {"cell": "irnn"},
    "one-hot-lstm": {"cell": "lstm", "embedding": "one-hot"},
    "mingru-blocks": {"cell": "mingru"},
    "minlstm-blocks": {"cell": "minlstm"},
    "conditional-lstm": {"cell": "lstm", "condition_sizes": (3, 2), "condition_size": 4},
}


def language_model(**options) -> LanguageModel:
    torch.manual_seed(0)
    config = {"vocab_size": 13, "embedding_size": 6, "hidden_size": 9, "num_layers": 2,
              "dropout": 0.0, **options}
    return LanguageModel(ModelConfig(**config)).eval()


@pytest.mark.parametrize("name", CONFIGS)
def test_the_step_graph_gives_the_eager_models_logits_and_state(name):
    model = language_model(**CONFIGS[name])
    data = build_step_model(model).SerializeToString()
    assert verify_step(data, model, steps=9, batch=4) < 1e-5


def torch_gates(model: LanguageModel, token: int, state: list[torch.Tensor]) -> dict:
    """Layer 0's gates after ``token``, from torch.nn.LSTMCell/GRUCell's equations."""
    rnn = model.rnn
    x = model.embedding.weight[token][None]
    w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{name}_l0") for name in
                              ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    h = state[0][0]
    if rnn.mode == "LSTM":
        i, f, g, o = (x @ w_ih.T + b_ih + h @ w_hh.T + b_hh).chunk(4, dim=1)
        cell = torch.nn.LSTMCell(x.shape[1], rnn.hidden_size)
        cell.load_state_dict({"weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b_ih,
                              "bias_hh": b_hh})
        h_next, c_next = cell(x, (h, state[1][0]))
        return {"hidden": h_next, "cell": c_next, "input_gate": torch.sigmoid(i),
                "forget_gate": torch.sigmoid(f), "candidate": torch.tanh(g),
                "output_gate": torch.sigmoid(o)}
    x_r, x_z, x_n = (x @ w_ih.T + b_ih).chunk(3, dim=1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=1)
    r = torch.sigmoid(x_r + h_r)
    cell = torch.nn.GRUCell(x.shape[1], rnn.hidden_size)
    cell.load_state_dict({"weight_ih": w_ih, "weight_hh": w_hh, "bias_ih": b_ih,
                          "bias_hh": b_hh})
    return {"hidden": cell(x, h), "reset_gate": r, "update_gate": torch.sigmoid(x_z + h_z),
            "candidate": torch.tanh(x_n + r * h_n)}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_activations_are_torch_nn_cells_gates_and_states(cell):
    model = language_model(cell=cell)
    session = onnxruntime.InferenceSession(build_step_model(model).SerializeToString())
    generator = torch.Generator().manual_seed(2)
    state = [torch.randn(2, 1, 9, generator=generator) for _ in
             range(2 if cell == "lstm" else 1)]
    names = ["h_0", "c_0"][:len(state)]
    outputs = session.run(None, {"token": np.array([5]),
                                 **{n: s.numpy() for n, s in zip(names, state, strict=True)}})
    activations = outputs[-1]  # (layers, channels, batch, hidden)
    with torch.no_grad():
        expected = torch_gates(model, 5, state)
    channels = activation_channels(model)
    assert activations.shape == (2, len(channels), 1, 9)
    assert sorted(channels) == sorted(expected)
    for index, name in enumerate(channels):
        np.testing.assert_allclose(activations[0, index], expected[name].numpy(), atol=1e-6,
                                   err_msg=name)


def minimal_gates(model: LanguageModel, token: int, h: torch.Tensor) -> dict:
    """Block 0's recurrence after ``token``, from Feng et al.'s equations (log form): the
    gates read RMSNorm of the block's input; minGRU h' = (1 - z) h + z g(W_h x),
    minLSTM weighs h and g(W_h x) by f and i normalized to sum to 1."""
    stack = model.rnn
    block = stack.blocks[0]
    x = block.recurrent_norm(stack.input_projection(model.embedding.weight[token][None]))
    projections = (x @ block.recurrent.weight_ih_l0.T + block.recurrent.bias_ih_l0).chunk(
        block.recurrent.gates, dim=1)
    pre = projections[-1]
    candidate = torch.where(pre >= 0, pre + 0.5, torch.sigmoid(pre))
    if stack.cell == "mingru":
        z = torch.sigmoid(projections[0])
        return {"hidden": (1 - z) * h + z * candidate, "update_gate": z,
                "candidate": candidate}
    f, i = torch.sigmoid(projections[0]), torch.sigmoid(projections[1])
    f, i = f / (f + i), i / (f + i)
    return {"hidden": f * h + i * candidate, "forget_gate": f, "input_gate": i,
            "candidate": candidate}


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
def test_the_activations_of_minimal_blocks_are_the_papers_gates(cell):
    model = language_model(cell=cell)
    session = onnxruntime.InferenceSession(build_step_model(model).SerializeToString())
    h = torch.rand(2, 1, 9, generator=torch.Generator().manual_seed(4))
    activations = session.run(None, {"token": np.array([7]), "h_0": h.numpy()})[-1]
    with torch.no_grad():
        expected = minimal_gates(model, 7, h[0])
    channels = activation_channels(model)
    assert sorted(channels) == sorted(expected)
    for index, name in enumerate(channels):
        np.testing.assert_allclose(activations[0, index], expected[name].numpy(), atol=1e-6,
                                   err_msg=name)


@pytest.mark.parametrize(("options", "words"), [
    ({"cell": "lstm", "proj_size": 4}, ["proj_size = 4"]),
    ({"cell": "gru", "layer_norm": True}, ["layer_norm"]),
    ({"architecture": "transformer", "hidden_size": 8, "num_heads": 2, "context": 16},
     ["TransformerLanguageModel"]),
])
def test_a_model_the_step_cannot_run_is_named_with_the_reason(options, words):
    from rnnkit.models.factory import build_language_model

    config = {"vocab_size": 13, "embedding_size": 6, "hidden_size": 9, "num_layers": 2,
              "dropout": 0.0, **options}
    model = build_language_model(ModelConfig(**config))
    reason = step_blocker(model)
    assert reason is not None and all(word in reason for word in words), reason
    with pytest.raises(ValueError, match="cannot run this model"):
        build_step_model(model)
