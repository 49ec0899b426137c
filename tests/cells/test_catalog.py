"""The cell catalogue: every name builds a one-step cell and a layer that compute the same
recurrence; ``irnn`` is what Le et al. (2015) define, checked against the recurrence
written out; a variant's fixed options cannot be overridden."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from rnnkit.cells.catalog import CATALOG, CELL_NAMES, build_cell
from rnnkit.layers.factory import build_layer


@pytest.mark.parametrize("name", CELL_NAMES)
def test_the_cell_and_the_layer_of_a_name_compute_the_same_recurrence(name: str) -> None:
    torch.manual_seed(0)
    layer = build_layer(name, 3, 5).double()
    cell = build_cell(name, 3, 5, dtype=torch.float64)
    with torch.no_grad():  # the layer's weights into the cell, layer 0's names less _l0
        for parameter_name, parameter in cell.named_parameters():
            parameter.copy_(getattr(layer, f"{parameter_name}_l0"))
    inputs = torch.randn(2, 7, 3, dtype=torch.float64)  # (batch, time, input_size)
    output, _ = layer(inputs)
    state, stepped = None, []
    for step in range(inputs.shape[1]):
        state = cell(inputs[:, step], state)
        stepped.append(state[0] if isinstance(state, tuple) else state)
    torch.testing.assert_close(torch.stack(stepped, dim=1), output, rtol=0, atol=1e-12)


def test_irnn_is_the_relu_rnn_started_from_the_identity_with_zero_bias() -> None:
    """h_t = relu(W_ih x_t + h_{t-1}) at initialisation, written out in NumPy."""
    torch.manual_seed(1)
    layer = build_layer("irnn", 3, 4).double()
    assert torch.equal(layer.weight_hh_l0, torch.eye(4, dtype=torch.float64))
    assert not layer.bias_ih_l0.any() and not layer.bias_hh_l0.any()
    inputs = torch.randn(2, 6, 3, dtype=torch.float64)
    output, _ = layer(inputs)
    weight_ih, x = layer.weight_ih_l0.detach().numpy(), inputs.numpy()
    h = np.zeros((2, 4))
    for step in range(6):
        h = np.maximum(x[:, step] @ weight_ih.T + h, 0.0)
        np.testing.assert_allclose(output[:, step].detach().numpy(), h, rtol=0, atol=1e-12)


def test_names_of_a_kind_build_that_kinds_cell() -> None:
    kinds = {name: type(build_cell(name, 2, 3)).__name__ for name in CELL_NAMES}
    assert kinds == {"lstm": "LSTMCell", "gru": "GRUCell", "rnn_tanh": "RNNCell",
                     "rnn_relu": "RNNCell", "irnn": "RNNCell", "mingru": "MinGRUCell",
                     "minlstm": "MinLSTMCell"}
    assert build_cell("rnn_tanh", 2, 3).nonlinearity == "tanh"
    assert build_cell("rnn_relu", 2, 3).nonlinearity == "relu"
    assert {name: variant.kind for name, variant in CATALOG.items()} == {
        "lstm": "lstm", "gru": "gru", "rnn_tanh": "rnn", "rnn_relu": "rnn", "irnn": "rnn",
        "mingru": "mingru", "minlstm": "minlstm"}


def test_options_reach_the_cell_and_the_layer() -> None:
    def forget_gate_bias(forget_bias: float) -> torch.Tensor:
        torch.manual_seed(0)
        cell = build_cell("lstm", 2, 3, forget_bias=forget_bias)
        return (cell.bias_ih + cell.bias_hh).detach()[3:6]  # gates i f g o: f is 3:6

    torch.testing.assert_close(forget_gate_bias(2.5) - forget_gate_bias(0.0),
                               torch.full((3,), 2.5))
    layer = build_layer("lstm", 2, 3, num_layers=2, peephole=True, dropout=0.5)
    assert layer.peephole and layer.num_layers == 2 and layer.dropout == 0.5
    assert build_layer("gru", 2, 3, num_layers=1, dropout=0.5).dropout == 0.0


@pytest.mark.parametrize(("build", "owner"), [(build_cell, "build_cell"),
                                              (build_layer, "build_layer")])
def test_a_variants_fixed_option_cannot_be_overridden(build, owner: str) -> None:
    message = f"{owner}: cell='irnn' fixes init='identity', got init='orthogonal'"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build("irnn", 2, 3, init="orthogonal")
    assert build("irnn", 2, 3, nonlinearity="relu") is not None  # the same value is fine


@pytest.mark.parametrize("build", [build_cell, build_layer])
def test_an_unknown_name_is_refused_listing_the_catalogue(build) -> None:
    message = (f"{build.__name__} expected cell to be one of 'lstm', 'gru', 'rnn_tanh', "
               "'rnn_relu', 'irnn', 'mingru', 'minlstm', got 'elman'")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build("elman", 2, 3)
