"""state_dict interchange with torch.nn both ways: same keys, same order, same values."""

import itertools

import pytest
import torch
from torch import nn

import rnnkit

IN, H, P = 4, 5, 3

PAIRS = {
    "rnn_tanh": (rnnkit.RNN, nn.RNN, {}),
    "rnn_relu": (rnnkit.RNN, nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnnkit.LSTM, nn.LSTM, {}),
    "lstm_proj": (rnnkit.LSTM, nn.LSTM, {"proj_size": P}),
    "gru": (rnnkit.GRU, nn.GRU, {}),
}
CASES = [
    pytest.param(mode, layers, bidirectional, bias,
                 id=f"{mode}-L{layers}-{'bi' if bidirectional else 'uni'}-"
                    f"{'bias' if bias else 'nobias'}")
    for mode, layers, bidirectional, bias in itertools.product(PAIRS, (1, 3), (False, True),
                                                               (True, False))
]


def build(mode, layers, bidirectional, bias, seed):
    ours_cls, torch_cls, extra = PAIRS[mode]
    kwargs = dict(num_layers=layers, bidirectional=bidirectional, bias=bias, **extra)
    torch.manual_seed(seed)
    reference = torch_cls(IN, H, **kwargs)
    torch.manual_seed(seed + 1)
    ours = ours_cls(IN, H, **kwargs)
    return ours, reference


def shapes(module):
    return [(name, tuple(p.shape)) for name, p in module.named_parameters()]


@pytest.mark.parametrize(("mode", "layers", "bidirectional", "bias"), CASES)
def test_keys_and_parameter_order_match_torch(mode, layers, bidirectional, bias):
    ours, reference = build(mode, layers, bidirectional, bias, seed=0)
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert shapes(ours) == shapes(reference)
    assert [tuple(p.shape) for p in ours.parameters()] == [
        tuple(p.shape) for p in reference.parameters()]
    assert [[tuple(w.shape) for w in group] for group in ours.all_weights] == [
        [tuple(w.shape) for w in group] for group in reference.all_weights]


@pytest.mark.parametrize(("mode", "layers", "bidirectional", "bias"), CASES)
def test_rnnkit_loads_torch_state_dict_strictly(mode, layers, bidirectional, bias):
    ours, reference = build(mode, layers, bidirectional, bias, seed=0)
    result = ours.load_state_dict(reference.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for (name, a), (_, b) in zip(ours.named_parameters(), reference.named_parameters(),
                                 strict=True):
        assert torch.equal(a, b), name
        assert a.data_ptr() != b.data_ptr(), f"{name} shares storage with torch.nn's"
    x = torch.randn(5, 2, IN)
    assert torch.allclose(ours(x)[0], reference(x)[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize(("mode", "layers", "bidirectional", "bias"), CASES)
def test_torch_loads_rnnkit_state_dict_strictly(mode, layers, bidirectional, bias):
    ours, reference = build(mode, layers, bidirectional, bias, seed=10)
    result = reference.load_state_dict(ours.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for (name, a), (_, b) in zip(ours.named_parameters(), reference.named_parameters(),
                                 strict=True):
        assert torch.equal(a, b), name
    x = torch.randn(5, 2, IN)
    assert torch.allclose(ours(x)[0], reference(x)[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("proj_size", [0, P], ids=["noproj", "proj"])
def test_peephole_keys_are_torch_keys_plus_the_peepholes(proj_size, bidirectional):
    ours = rnnkit.LSTM(IN, H, num_layers=2, bidirectional=bidirectional, proj_size=proj_size,
                       peephole=True)
    reference = nn.LSTM(IN, H, num_layers=2, bidirectional=bidirectional, proj_size=proj_size)
    suffixes = [f"_l{layer}{rev}" for layer in range(2)
                for rev in (("", "_reverse") if bidirectional else ("",))]
    peepholes = {f"weight_c{g}{s}" for g in "ifo" for s in suffixes}
    assert set(ours.state_dict()) == set(reference.state_dict()) | peepholes
    result = reference.load_state_dict(ours.state_dict(), strict=False)
    assert set(result.unexpected_keys) == peepholes and not result.missing_keys
    # Without peepholes loaded, rnnkit reports exactly those as missing.
    result = ours.load_state_dict(reference.state_dict(), strict=False)
    assert set(result.missing_keys) == peepholes and not result.unexpected_keys
    with pytest.raises(RuntimeError, match="weight_ci_l0"):
        ours.load_state_dict(reference.state_dict(), strict=True)


def test_gru_reset_before_has_torch_keys():
    """The two GRU forms share parameters; only the function differs."""
    ours = rnnkit.GRU(IN, H, num_layers=2, bidirectional=True, reset_after=False)
    reference = nn.GRU(IN, H, num_layers=2, bidirectional=True)
    reference.load_state_dict(ours.state_dict(), strict=True)
    assert shapes(ours) == shapes(reference)


@pytest.mark.parametrize(
    ("ours_cls", "torch_cls", "kwargs"),
    [(rnnkit.RNNCell, nn.RNNCell, {"nonlinearity": "relu"}), (rnnkit.LSTMCell, nn.LSTMCell, {}),
     (rnnkit.GRUCell, nn.GRUCell, {}), (rnnkit.GRUCell, nn.GRUCell, {"bias": False})],
    ids=["rnncell", "lstmcell", "grucell", "grucell-nobias"])
def test_cell_state_dicts_interchange_with_torch(ours_cls, torch_cls, kwargs):
    ours, reference = ours_cls(IN, H, **kwargs), torch_cls(IN, H, **kwargs)
    assert shapes(ours) == shapes(reference)
    ours.load_state_dict(reference.state_dict(), strict=True)
    for (name, a), (_, b) in zip(ours.named_parameters(), reference.named_parameters(),
                                 strict=True):
        assert torch.equal(a, b), name
    torch.manual_seed(1)
    other = ours_cls(IN, H, **kwargs)
    reference.load_state_dict(other.state_dict(), strict=True)
    for (name, a), (_, b) in zip(other.named_parameters(), reference.named_parameters(),
                                 strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize(
    ("ours_cls", "torch_cls", "args"),
    [(rnnkit.RNN, nn.RNN, (IN, H, 2, "relu", False, True, 0.25, True)),
     (rnnkit.LSTM, nn.LSTM, (IN, H, 2, False, True, 0.25, True, P)),
     (rnnkit.GRU, nn.GRU, (IN, H, 3, False, True, 0.25, True)),
     (rnnkit.RNNCell, nn.RNNCell, (IN, H, False, "relu")),
     (rnnkit.LSTMCell, nn.LSTMCell, (IN, H, False)),
     (rnnkit.GRUCell, nn.GRUCell, (IN, H, False))],
    ids=["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_positional_arguments_mean_what_they_mean_in_torch(ours_cls, torch_cls, args):
    ours, reference = ours_cls(*args), torch_cls(*args)
    assert shapes(ours) == shapes(reference)
    names = ("input_size", "hidden_size", "num_layers", "nonlinearity", "bias", "batch_first",
             "dropout", "bidirectional", "proj_size")
    for name in names:
        if hasattr(reference, name):
            assert getattr(ours, name) == getattr(reference, name), name
    with pytest.raises(TypeError):  # the options rnnkit adds are keyword-only
        ours_cls(*args, "uniform")
