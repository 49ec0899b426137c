"""Dropout between layers: random in training, placed as torch.nn places it, off in eval."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import rnnkit
from contract import as_hx, assert_close, random_layer_state, state_parts

IN, H, P, T, B = 4, 5, 3, 5, 3
PAIRS = [
    pytest.param(rnnkit.RNN, nn.RNN, {"nonlinearity": "relu"}, id="rnn_relu"),
    pytest.param(rnnkit.LSTM, nn.LSTM, {}, id="lstm"),
    pytest.param(rnnkit.LSTM, nn.LSTM, {"proj_size": P}, id="lstm_proj"),
    pytest.param(rnnkit.GRU, nn.GRU, {}, id="gru"),
]
ENGINES = pytest.mark.parametrize("engine", ["auto", "loop"])
BIDIRECTIONAL = pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])


def build(ours_cls, torch_cls, kwargs, engine, bidirectional, num_layers=2):
    torch.manual_seed(0)
    reference = torch_cls(IN, H, num_layers=num_layers, dropout=0.5, bidirectional=bidirectional,
                          dtype=torch.float64, **kwargs)
    ours = ours_cls(IN, H, num_layers=num_layers, dropout=0.5, bidirectional=bidirectional,
                    dtype=torch.float64, engine=engine, **kwargs)
    ours.load_state_dict(reference.state_dict())
    return ours, reference


@BIDIRECTIONAL
@ENGINES
@pytest.mark.parametrize(("ours_cls", "torch_cls", "kwargs"), PAIRS)
def test_training_mode_output_differs_run_to_run(ours_cls, torch_cls, kwargs, engine,
                                                 bidirectional):
    ours, _ = build(ours_cls, torch_cls, kwargs, engine, bidirectional)
    ours.train()
    x = torch.randn(T, B, IN, dtype=torch.float64)
    first, second = ours(x)[0], ours(x)[0]
    assert (first - second).abs().max() > 1e-6
    ours.eval()
    assert (ours(x)[0] - first).abs().max() > 1e-6
    assert ours.backend == ("loop" if engine == "loop" else "torch-fused")


@BIDIRECTIONAL
@ENGINES
@pytest.mark.parametrize(("ours_cls", "torch_cls", "kwargs"), PAIRS)
def test_eval_mode_equals_torch_nn_eval(ours_cls, torch_cls, kwargs, engine, bidirectional):
    ours, reference = build(ours_cls, torch_cls, kwargs, engine, bidirectional, num_layers=3)
    ours.eval()
    reference.eval()
    x = torch.randn(T, B, IN, dtype=torch.float64)
    parts = random_layer_state(ours)
    out_a, state_a = ours(x, as_hx(ours, parts))
    out_b, state_b = reference(x, as_hx(reference, parts))
    assert_close(out_a, out_b, 1e-10, "output")
    for a, b in zip(state_parts(state_a), state_parts(state_b), strict=True):
        assert_close(a, b, 1e-10, "final state")
    assert torch.equal(ours(x, as_hx(ours, parts))[0], out_a), "eval is not deterministic"


@BIDIRECTIONAL
@pytest.mark.parametrize(("ours_cls", "torch_cls", "kwargs"), PAIRS)
def test_loop_drops_out_between_layers_only(ours_cls, torch_cls, kwargs, bidirectional):
    """Loop in training equals one-layer modules with F.dropout between them, same seed."""
    ours, _ = build(ours_cls, torch_cls, kwargs, "loop", bidirectional, num_layers=3)
    ours.train()
    directions = 2 if bidirectional else 1
    singles = []
    for layer in range(3):
        input_size = IN if layer == 0 else (kwargs.get("proj_size") or H) * directions
        single = ours_cls(input_size, H, bidirectional=bidirectional, dtype=torch.float64,
                          engine="loop", **kwargs)
        single.load_state_dict({name.replace(f"_l{layer}", "_l0"): value
                                for name, value in ours.state_dict().items()
                                if f"_l{layer}" in name})
        singles.append(single)
    x = torch.randn(T, B, IN, dtype=torch.float64)
    torch.manual_seed(5)
    output, _ = ours(x)
    torch.manual_seed(5)
    expected = x
    for layer, single in enumerate(singles):
        expected, _ = single(expected)
        if layer < 2:
            expected = F.dropout(expected, 0.5, training=True)
    assert_close(output, expected, 1e-12, "output")
