"""Bad input to layers and cells: rnnkit itself raises, with the right type and words."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit

B, T, IN, H, P = 3, 5, 4, 5, 3
RNNKIT_DIR = Path(rnnkit.__file__).resolve().parent
LAYERS = [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU]
CELLS = [rnnkit.RNNCell, rnnkit.LSTMCell, rnnkit.GRUCell]


def assert_raised_by_rnnkit(info, words):
    """The message holds every word, and the raise statement is in rnnkit's own code."""
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    raiser = Path(str(info.traceback[-1].path)).resolve()
    assert RNNKIT_DIR in raiser.parents, f"raised in {raiser}, not by rnnkit: {message}"


def f64(*shape):
    return torch.randn(*shape, dtype=torch.float64)


def hx_for(cls, h_shape, c_shape=None, dtype=torch.float64):
    """A zero state in the form ``cls`` takes: (h, c) for LSTMs, h otherwise."""
    h = torch.zeros(*h_shape, dtype=dtype)
    if cls in (rnnkit.LSTM, rnnkit.LSTMCell):
        return h, torch.zeros(*(c_shape or h_shape), dtype=dtype)
    return h


def packed(x, lengths=(5, 2, 3)):
    return pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)


# --- layers: forward ----------------------------------------------------------------------
# (id, call on a float64 layer with input_size 4 and hidden_size 5, exception, words)
LAYER_CALLS = [
    ("4-d-input", lambda m: m(f64(2, T, B, IN)), ValueError,
     ["2 (unbatched) or 3 (batched) dimensions", "got 4 dimensions", "(2, 5, 3, 4)"]),
    ("1-d-input", lambda m: m(f64(IN)), ValueError, ["got 1 dimensions", "(4,)"]),
    ("wrong-feature-size", lambda m: m(f64(T, B, 7)), ValueError,
     ["4 features in its last dimension", "(5, 3, 7)"]),
    ("float32-into-float64", lambda m: m(f64(T, B, IN).float()), TypeError,
     ["input of dtype torch.float64", "got torch.float32"]),
    ("integer-input", lambda m: m(torch.ones(T, B, IN, dtype=torch.long)), TypeError,
     ["input of dtype torch.float64", "got torch.int64"]),
    ("list-input", lambda m: m([[0.0] * IN] * T), TypeError,
     ["input to be a torch.Tensor", "got list"]),
    ("numpy-input", lambda m: m(np.zeros((T, B, IN))), TypeError,
     ["input to be a torch.Tensor", "got ndarray"]),
    ("none-input", lambda m: m(None), TypeError, ["input to be a torch.Tensor", "NoneType"]),
    ("empty-time-axis", lambda m: m(f64(0, B, IN)), ValueError, ["at least one time step"]),
    ("state-wrong-batch", lambda m: m(f64(T, B, IN), hx_for(type(m), (1, 2, H))), ValueError,
     ["of shape (1, 3, 5)", "got shape (1, 2, 5)"]),
    ("state-wrong-layers", lambda m: m(f64(T, B, IN), hx_for(type(m), (2, B, H))), ValueError,
     ["of shape (1, 3, 5)", "got shape (2, 3, 5)"]),
    ("state-wrong-size", lambda m: m(f64(T, B, IN), hx_for(type(m), (1, B, 4))), ValueError,
     ["of shape (1, 3, 5)", "got shape (1, 3, 4)"]),
    ("state-2-d-for-batched", lambda m: m(f64(T, B, IN), hx_for(type(m), (1, H))), ValueError,
     ["of shape (1, 3, 5)", "got shape (1, 5)"]),
    ("state-3-d-for-unbatched", lambda m: m(f64(T, IN), hx_for(type(m), (1, 1, H))), ValueError,
     ["of shape (1, 5)", "got shape (1, 1, 5)"]),
    ("state-float32", lambda m: m(f64(T, B, IN), hx_for(type(m), (1, B, H), dtype=torch.float32)),
     TypeError, ["of dtype torch.float64", "got torch.float32"]),
    ("state-not-a-tensor", lambda m: m(f64(T, B, IN), ([[0.0]], torch.zeros(1, B, H))
                                       if isinstance(m, rnnkit.LSTM) else [[0.0]]), TypeError,
     ["to be a torch.Tensor", "got list"]),
    ("lengths-wrong-size", lambda m: m(f64(T, B, IN), lengths=torch.tensor([5, 4])), ValueError,
     ["lengths with 3 entries", "one per sequence", "got 2"]),
    ("lengths-longer-than-time", lambda m: m(f64(T, B, IN), lengths=torch.tensor([5, 6, 4])),
     ValueError, ["no longer than the time axis (5 steps)", "got 6 for sequence 1"]),
    ("lengths-zero", lambda m: m(f64(T, B, IN), lengths=torch.tensor([5, 0, 4])), ValueError,
     ["every length to be at least 1", "got 0 for sequence 1"]),
    ("lengths-negative", lambda m: m(f64(T, B, IN), lengths=torch.tensor([5, 2, -3])),
     ValueError, ["every length to be at least 1", "got -3 for sequence 2"]),
    ("lengths-float", lambda m: m(f64(T, B, IN), lengths=torch.tensor([5.0, 2.0, 3.0])),
     TypeError, ["lengths to hold integers", "torch.float32"]),
    ("lengths-bool", lambda m: m(f64(T, B, IN), lengths=torch.ones(B, dtype=torch.bool)),
     TypeError, ["lengths to hold integers", "torch.bool"]),
    ("lengths-2-d", lambda m: m(f64(T, B, IN), lengths=torch.tensor([[5, 2, 3]])), ValueError,
     ["lengths to be 1-D", "got shape (1, 3)"]),
    ("lengths-0-d", lambda m: m(f64(T, B, IN), lengths=torch.tensor(5)), ValueError,
     ["lengths to be 1-D", "got shape ()"]),
    ("lengths-numpy", lambda m: m(f64(T, B, IN), lengths=np.array([5, 2, 3])), TypeError,
     ["lengths to be a 1-D integer tensor", "got ndarray"]),
    ("lengths-list-of-floats", lambda m: m(f64(T, B, IN), lengths=[5, 2.0, 3]), TypeError,
     ["lengths to hold integers"]),
    ("lengths-with-unbatched-input", lambda m: m(f64(T, IN), lengths=torch.tensor([5])),
     ValueError, ["batched 3-D input when lengths is given", "(5, 4)"]),
    ("lengths-with-packed-sequence",
     lambda m: m(packed(f64(T, B, IN)), lengths=torch.tensor([5, 2, 3])), ValueError,
     ["either a PackedSequence or lengths, not both"]),
    ("packed-float32", lambda m: m(packed(f64(T, B, IN).float())), TypeError,
     ["input of dtype torch.float64", "got torch.float32"]),
    ("packed-wrong-feature-size", lambda m: m(packed(f64(T, B, 2))), ValueError,
     ["4 features", "(10, 2)"]),
    ("packed-state-wrong-batch", lambda m: m(packed(f64(T, B, IN)), hx_for(type(m), (1, 2, H))),
     ValueError, ["of shape (1, 3, 5)", "got shape (1, 2, 5)"]),
]


@pytest.mark.parametrize(("call", "error", "words"),
                         [pytest.param(*case[1:], id=case[0]) for case in LAYER_CALLS])
@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_layer_rejects_bad_forward_input(cls, call, error, words):
    layer = cls(IN, H, dtype=torch.float64)
    with pytest.raises(error) as info:
        call(layer)
    assert_raised_by_rnnkit(info, [cls.__name__, *words])


@pytest.mark.parametrize("engine", ["auto", "loop"])
@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_layer_errors_do_not_depend_on_the_engine(cls, engine):
    layer = cls(IN, H, bidirectional=True, dtype=torch.float64, engine=engine)
    with pytest.raises(ValueError) as info:
        layer(f64(T, B, IN), hx_for(cls, (1, B, H)))
    assert_raised_by_rnnkit(info, [cls.__name__, "of shape (2, 3, 5)", "got shape (1, 3, 5)"])


@pytest.mark.parametrize(
    ("hx", "words"),
    [(torch.zeros(1, B, H), ["hx to be a tuple (h_0, c_0)", "got Tensor"]),
     ((torch.zeros(1, B, H),) * 3, ["hx to be a tuple (h_0, c_0)", "got tuple"]),
     ([torch.zeros(1, B, H)], ["hx to be a tuple (h_0, c_0)", "got list"])],
    ids=["tensor", "three-tuple", "one-list"])
def test_lstm_layer_needs_a_pair_of_states(hx, words):
    with pytest.raises(TypeError) as info:
        rnnkit.LSTM(IN, H)(torch.randn(T, B, IN), hx)
    assert_raised_by_rnnkit(info, ["LSTM", *words])


def test_lstm_layer_with_projection_checks_h_and_c_separately():
    layer = rnnkit.LSTM(IN, H, proj_size=P)
    with pytest.raises(ValueError) as info:  # h_0 of hidden size instead of proj size
        layer(torch.randn(T, B, IN), (torch.zeros(1, B, H), torch.zeros(1, B, H)))
    assert_raised_by_rnnkit(info, ["LSTM", "h_0 of shape (1, 3, 3)", "got shape (1, 3, 5)"])
    with pytest.raises(ValueError) as info:  # c_0 of proj size instead of hidden size
        layer(torch.randn(T, B, IN), (torch.zeros(1, B, P), torch.zeros(1, B, P)))
    assert_raised_by_rnnkit(info, ["LSTM", "c_0 of shape (1, 3, 5)", "got shape (1, 3, 3)"])


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.GRU], ids=lambda c: c.__name__)
def test_single_state_layers_reject_a_tuple(cls):
    with pytest.raises(TypeError) as info:
        cls(IN, H)(torch.randn(T, B, IN), (torch.zeros(1, B, H),))
    assert_raised_by_rnnkit(info, [cls.__name__, "hx to be a torch.Tensor", "got tuple"])


# --- layers: construction -----------------------------------------------------------------
LAYER_ARGS = [
    ("unknown-init", {"init": "he"}, ValueError,
     ["init must be one of", "'orthogonal'", "got 'he'"]),
    ("unknown-engine", {"engine": "cuda"}, ValueError,
     ["engine to be one of 'auto', 'rnnkit', 'loop'", "got 'cuda'"]),
    ("negative-dropout", {"num_layers": 2, "dropout": -0.1}, ValueError,
     ["dropout in [0, 1]", "got -0.1"]),
    ("dropout-above-one", {"num_layers": 2, "dropout": 1.5}, ValueError,
     ["dropout in [0, 1]", "got 1.5"]),
    ("dropout-string", {"num_layers": 2, "dropout": "0.5"}, TypeError,
     ["dropout to be a number", "got str"]),
    ("hidden-size-0", {"hidden_size": 0}, ValueError, ["hidden_size to be at least 1", "got 0"]),
    ("hidden-size-float", {"hidden_size": 5.0}, TypeError, ["hidden_size to be an int",
                                                             "got float"]),
    ("input-size-0", {"input_size": 0}, ValueError, ["input_size to be at least 1", "got 0"]),
    ("input-size-bool", {"input_size": True}, TypeError, ["input_size to be an int", "bool"]),
    ("num-layers-0", {"num_layers": 0}, ValueError, ["num_layers to be at least 1", "got 0"]),
    ("num-layers-float", {"num_layers": 2.0}, TypeError, ["num_layers to be an int"]),
]


@pytest.mark.parametrize(("kwargs", "error", "words"),
                         [pytest.param(*case[1:], id=case[0]) for case in LAYER_ARGS])
@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_layer_rejects_bad_arguments(cls, kwargs, error, words):
    arguments = {"input_size": IN, "hidden_size": H, **kwargs}
    with pytest.raises(error) as info:
        cls(**arguments)
    owner = [] if "init" in kwargs else [cls.__name__]
    assert_raised_by_rnnkit(info, [*owner, *words])


@pytest.mark.parametrize(
    ("proj_size", "error", "words"),
    [(H, ValueError, ["proj_size in [0, hidden_size=5)", "got 5"]),
     (H + 2, ValueError, ["proj_size in [0, hidden_size=5)", "got 7"]),
     (-1, ValueError, ["proj_size in [0, hidden_size=5)", "got -1"]),
     (2.0, TypeError, ["proj_size to be an int", "got float"])],
    ids=["equal-to-hidden", "above-hidden", "negative", "float"])
@pytest.mark.parametrize("cls", [rnnkit.LSTM, rnnkit.LSTMCell], ids=lambda c: c.__name__)
def test_proj_size_must_be_below_hidden_size(cls, proj_size, error, words):
    with pytest.raises(error) as info:
        cls(IN, H, proj_size=proj_size)
    assert_raised_by_rnnkit(info, [cls.__name__, *words])


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.RNNCell], ids=lambda c: c.__name__)
def test_unknown_nonlinearity(cls):
    with pytest.raises(ValueError) as info:
        cls(IN, H, nonlinearity="sigmoid")
    assert_raised_by_rnnkit(info, [cls.__name__, "nonlinearity to be one of 'tanh', 'relu'",
                                   "got 'sigmoid'"])


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_dropout_with_one_layer_warns_at_the_callers_line(cls):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cls(IN, H, dropout=0.5)
    assert len(caught) == 1
    assert "applies between layers only" in str(caught[0].message)
    assert Path(caught[0].filename).resolve() == Path(__file__).resolve()


# --- cells --------------------------------------------------------------------------------
# (id, call on a float64 cell with input_size 4 and hidden_size 5, exception, words)
CELL_CALLS = [
    ("3-d-input", lambda m: m(f64(T, B, IN)), ValueError,
     ["1 (unbatched) or 2 (batched) dimensions", "got 3 dimensions", "(5, 3, 4)"]),
    ("0-d-input", lambda m: m(torch.tensor(1.0, dtype=torch.float64)), ValueError,
     ["got 0 dimensions", "shape ()"]),
    ("wrong-feature-size", lambda m: m(f64(B, 7)), ValueError,
     ["4 features in its last dimension", "(3, 7)"]),
    ("float32-into-float64", lambda m: m(f64(B, IN).float()), TypeError,
     ["input of dtype torch.float64", "got torch.float32"]),
    ("list-input", lambda m: m([0.0] * IN), TypeError, ["input to be a torch.Tensor", "got list"]),
    ("state-wrong-batch", lambda m: m(f64(B, IN), hx_for(type(m), (2, H))), ValueError,
     ["of shape (3, 5)", "got shape (2, 5)"]),
    ("state-wrong-size", lambda m: m(f64(B, IN), hx_for(type(m), (B, 4))), ValueError,
     ["of shape (3, 5)", "got shape (3, 4)"]),
    ("batched-state-for-unbatched-input", lambda m: m(f64(IN), hx_for(type(m), (1, H))),
     ValueError, ["of shape (5,)", "got shape (1, 5)"]),
    ("unbatched-state-for-batched-input", lambda m: m(f64(B, IN), hx_for(type(m), (H,))),
     ValueError, ["of shape (3, 5)", "got shape (5,)"]),
    ("state-float32", lambda m: m(f64(B, IN), hx_for(type(m), (B, H), dtype=torch.float32)),
     TypeError, ["of dtype torch.float64", "got torch.float32"]),
    ("state-not-a-tensor", lambda m: m(f64(B, IN), ([0.0] * H, torch.zeros(B, H))
                                       if isinstance(m, rnnkit.LSTMCell) else [0.0] * H),
     TypeError, ["to be a torch.Tensor", "got list"]),
]


@pytest.mark.parametrize(("call", "error", "words"),
                         [pytest.param(*case[1:], id=case[0]) for case in CELL_CALLS])
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_cell_rejects_bad_forward_input(cls, call, error, words):
    cell = cls(IN, H, dtype=torch.float64)
    with pytest.raises(error) as info:
        call(cell)
    assert_raised_by_rnnkit(info, [cls.__name__, *words])


@pytest.mark.parametrize(
    ("hx", "words"),
    [(torch.zeros(B, H), ["hx to be a tuple (h_0, c_0)", "got Tensor"]),
     ((torch.zeros(B, H),), ["hx to be a tuple (h_0, c_0)", "got tuple"])],
    ids=["tensor", "one-tuple"])
def test_lstm_cell_needs_a_pair_of_states(hx, words):
    with pytest.raises(TypeError) as info:
        rnnkit.LSTMCell(IN, H)(torch.randn(B, IN), hx)
    assert_raised_by_rnnkit(info, ["LSTMCell", *words])


@pytest.mark.parametrize("cls", [rnnkit.RNNCell, rnnkit.GRUCell], ids=lambda c: c.__name__)
def test_single_state_cells_reject_a_tuple(cls):
    with pytest.raises(TypeError) as info:
        cls(IN, H)(torch.randn(B, IN), (torch.zeros(B, H),))
    assert_raised_by_rnnkit(info, [cls.__name__, "hx to be a torch.Tensor", "got tuple"])


CELL_ARGS = [
    ("unknown-init", {"init": "he"}, ValueError, ["init must be one of", "got 'he'"]),
    ("hidden-size-0", {"hidden_size": 0}, ValueError, ["hidden_size to be at least 1", "got 0"]),
    ("hidden-size-negative", {"hidden_size": -3}, ValueError, ["hidden_size to be at least 1"]),
    ("hidden-size-string", {"hidden_size": "5"}, TypeError, ["hidden_size to be an int",
                                                              "got str"]),
    ("input-size-0", {"input_size": 0}, ValueError, ["input_size to be at least 1", "got 0"]),
]


@pytest.mark.parametrize(("kwargs", "error", "words"),
                         [pytest.param(*case[1:], id=case[0]) for case in CELL_ARGS])
@pytest.mark.parametrize("cls", CELLS, ids=lambda c: c.__name__)
def test_cell_rejects_bad_arguments(cls, kwargs, error, words):
    arguments = {"input_size": IN, "hidden_size": H, **kwargs}
    with pytest.raises(error) as info:
        cls(**arguments)
    owner = [] if "init" in kwargs else [cls.__name__]
    assert_raised_by_rnnkit(info, [*owner, *words])
