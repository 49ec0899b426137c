"""Initialization schemes of cells and layers, gate block by gate block, and torch.nn's seeds."""

import math

import pytest
import torch
from torch import nn

import rnnkit

# Big enough that a uniform draw comes close to its bound and statistics settle.
IN, H, P = 30, 40, 16
GATES = {rnnkit.RNNCell: 1, rnnkit.LSTMCell: 4, rnnkit.GRUCell: 3,
         rnnkit.RNN: 1, rnnkit.LSTM: 4, rnnkit.GRU: 3}
MODULES = [
    pytest.param(rnnkit.RNNCell, {}, id="rnncell"),
    pytest.param(rnnkit.LSTMCell, {"forget_bias": 0.0}, id="lstmcell"),
    pytest.param(rnnkit.LSTMCell, {"forget_bias": 0.0, "peephole": True, "proj_size": P},
                 id="lstmcell-peephole-proj"),
    pytest.param(rnnkit.GRUCell, {}, id="grucell"),
    pytest.param(rnnkit.RNN, {"num_layers": 2, "bidirectional": True}, id="rnn-2l-bi"),
    pytest.param(rnnkit.LSTM, {"forget_bias": 0.0, "num_layers": 2, "bidirectional": True},
                 id="lstm-2l-bi"),
    pytest.param(rnnkit.LSTM, {"forget_bias": 0.0, "num_layers": 2, "peephole": True,
                               "proj_size": P}, id="lstm-2l-peephole-proj"),
    pytest.param(rnnkit.GRU, {"num_layers": 2, "bidirectional": True}, id="gru-2l-bi"),
]


def base_name(name):
    """``weight_hh_l1_reverse`` -> ``weight_hh``; cell names are already base names."""
    parts = name.split("_")
    return "_".join(parts[:2])


def blocks(module, name, tensor):
    gates = GATES[type(module)] if base_name(name) in ("weight_ih", "weight_hh") else 1
    return tensor.detach().chunk(gates, dim=0)


def build(cls, kwargs, init, seed=0):
    torch.manual_seed(seed)
    return cls(IN, H, init=init, dtype=torch.float64, **kwargs)


@pytest.mark.parametrize(("cls", "kwargs"), MODULES)
def test_uniform_draws_every_parameter_within_one_over_sqrt_hidden(cls, kwargs):
    module = build(cls, kwargs, "uniform")
    bound = 1 / math.sqrt(H)
    for name, p in module.named_parameters():
        assert p.abs().max() <= bound, name
        assert p.abs().max() > 0.8 * bound, f"{name} does not use its range"
        assert abs(p.mean()) < 0.3 * bound, name


@pytest.mark.parametrize(("cls", "kwargs"), MODULES)
def test_orthogonal_gives_orthogonal_recurrent_blocks(cls, kwargs):
    module = build(cls, kwargs, "orthogonal")
    found = 0
    for name, p in module.named_parameters():
        base = base_name(name)
        if base in ("weight_hh", "weight_hr"):
            for block in blocks(module, name, p):
                rows, cols = block.shape
                gram = block @ block.T if rows <= cols else block.T @ block
                torch.testing.assert_close(gram, torch.eye(min(rows, cols), dtype=p.dtype),
                                           rtol=0, atol=1e-10, msg=name)
                assert not torch.equal(block, torch.eye(rows, cols, dtype=p.dtype))
                found += 1
            if base == "weight_hh" and GATES[type(module)] > 1:
                first, second = blocks(module, name, p)[:2]
                assert not torch.allclose(first, second), "gate blocks are copies"
        elif base == "weight_ih":
            _assert_xavier_blocks(module, name, p)
        else:  # biases and peepholes
            assert torch.equal(p, torch.zeros_like(p)), name
    assert found >= GATES[type(module)]


def _assert_xavier_blocks(module, name, p):
    for block in blocks(module, name, p):
        fan_out, fan_in = block.shape
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert block.abs().max() <= bound, name
        assert block.abs().max() > 0.75 * bound, f"{name}: not drawn per gate block"


@pytest.mark.parametrize(("cls", "kwargs"), MODULES)
def test_xavier_bound_per_gate_block(cls, kwargs):
    module = build(cls, kwargs, "xavier")
    for name, p in module.named_parameters():
        if p.dim() == 2:
            _assert_xavier_blocks(module, name, p)
            if GATES[type(module)] > 1 and base_name(name) != "weight_hr":
                # The bound of the stacked matrix as a whole is smaller: blocks exceed it.
                whole = math.sqrt(6 / (p.shape[0] + p.shape[1]))
                assert p.abs().max() > whole, name
        else:
            assert torch.equal(p, torch.zeros_like(p)), name


@pytest.mark.parametrize(("cls", "kwargs"), MODULES)
def test_identity_gives_identity_recurrent_blocks_and_zero_biases(cls, kwargs):
    module = build(cls, kwargs, "identity")
    for name, p in module.named_parameters():
        base = base_name(name)
        if base in ("weight_hh", "weight_hr"):
            for block in blocks(module, name, p):
                assert torch.equal(block, torch.eye(*block.shape, dtype=p.dtype)), name
        elif base == "weight_ih":
            # N(0, 0.001^2) as in Le et al. (2015)
            assert 0.7e-3 < p.std() < 1.3e-3, name
            assert p.abs().max() < 6e-3, name
        else:
            assert torch.equal(p, torch.zeros_like(p)), name


@pytest.mark.parametrize("forget_bias", [1.0, 2.5])
@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [pytest.param(rnnkit.LSTMCell, {}, id="lstmcell"),
     pytest.param(rnnkit.LSTMCell, {"peephole": True, "proj_size": P}, id="lstmcell-peep-proj"),
     pytest.param(rnnkit.LSTM, {"num_layers": 2, "bidirectional": True, "proj_size": P},
                  id="lstm-2l-bi-proj")])
@pytest.mark.parametrize("init", ["uniform", "orthogonal", "identity"])
def test_forget_bias_adds_exactly_to_the_forget_slice_of_bias_ih(cls, kwargs, init, forget_bias):
    without = build(cls, {**kwargs, "forget_bias": 0.0}, init, seed=7)
    with_bias = build(cls, {**kwargs, "forget_bias": forget_bias}, init, seed=7)
    slices = 0
    for (name, a), (_, b) in zip(without.named_parameters(), with_bias.named_parameters(),
                                 strict=True):
        if base_name(name) == "bias_ih":
            expected = a.detach().clone()
            expected[H : 2 * H] += forget_bias
            assert torch.equal(b, expected), name
            assert not torch.equal(a, b)
            slices += 1
        else:
            assert torch.equal(a, b), name
    assert slices == (1 if cls is rnnkit.LSTMCell else 4)


@pytest.mark.parametrize("cls", [rnnkit.LSTMCell, rnnkit.LSTM])
def test_reset_parameters_does_not_pile_up_the_forget_bias(cls):
    torch.manual_seed(3)
    module = cls(IN, H, dtype=torch.float64)
    first = {k: v.clone() for k, v in module.state_dict().items()}
    torch.manual_seed(3)
    module.reset_parameters()
    for name, value in module.state_dict().items():
        assert torch.equal(value, first[name]), name


def test_forget_bias_without_bias_is_ignored():
    torch.manual_seed(0)
    module = rnnkit.LSTM(IN, H, bias=False, forget_bias=1.0)
    assert not any("bias" in name for name, _ in module.named_parameters())


SEED_PAIRS = [
    pytest.param(rnnkit.LSTM, nn.LSTM, {}, id="lstm"),
    pytest.param(rnnkit.LSTM, nn.LSTM, {"num_layers": 3, "bidirectional": True, "proj_size": P},
                 id="lstm-3l-bi-proj"),
    pytest.param(rnnkit.LSTM, nn.LSTM, {"num_layers": 2, "bias": False}, id="lstm-2l-nobias"),
    pytest.param(rnnkit.GRU, nn.GRU, {"num_layers": 2, "bidirectional": True}, id="gru-2l-bi"),
    pytest.param(rnnkit.RNN, nn.RNN, {"num_layers": 2, "nonlinearity": "relu"}, id="rnn-relu"),
    pytest.param(rnnkit.LSTMCell, nn.LSTMCell, {}, id="lstmcell"),
    pytest.param(rnnkit.GRUCell, nn.GRUCell, {}, id="grucell"),
    pytest.param(rnnkit.RNNCell, nn.RNNCell, {"nonlinearity": "relu"}, id="rnncell"),
]


@pytest.mark.parametrize(("ours_cls", "torch_cls", "kwargs"), SEED_PAIRS)
def test_default_init_with_a_seed_equals_torch_nn_with_that_seed(ours_cls, torch_cls, kwargs):
    """forget_bias=0 and init="uniform" reproduce torch.nn's parameters draw for draw."""
    extra = {"forget_bias": 0.0} if ours_cls in (rnnkit.LSTM, rnnkit.LSTMCell) else {}
    torch.manual_seed(42)
    reference = torch_cls(IN, H, **kwargs)
    torch.manual_seed(42)
    ours = ours_cls(IN, H, **kwargs, **extra)
    assert list(ours.state_dict()) == list(reference.state_dict())
    for (name, a), (_, b) in zip(ours.named_parameters(), reference.named_parameters(),
                                 strict=True):
        assert torch.equal(a, b), name


def test_default_forget_bias_is_torch_nn_plus_one_on_the_forget_slice():
    torch.manual_seed(42)
    reference = nn.LSTM(IN, H, num_layers=2)
    torch.manual_seed(42)
    ours = rnnkit.LSTM(IN, H, num_layers=2)
    for (name, a), (_, b) in zip(ours.named_parameters(), reference.named_parameters(),
                                 strict=True):
        expected = b.detach().clone()
        if name.startswith("bias_ih"):
            expected[H : 2 * H] += 1.0
        assert torch.equal(a, expected), name


@pytest.mark.parametrize("cls", [rnnkit.RNNCell, rnnkit.LSTMCell, rnnkit.GRUCell,
                                 rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
def test_unknown_init_is_a_value_error_naming_it(cls):
    with pytest.raises(ValueError, match=r"init must be one of .*'uniform'.*got 'kaiming'"):
        cls(IN, H, init="kaiming")
