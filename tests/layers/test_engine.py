"""rnnkit's scan engine against its slow twin, the Python loop over cell steps.

Every engine configuration runs stacked, bidirectional, over equal lengths, ``lengths`` and
a PackedSequence, in float64; outputs, final states and every gradient must agree with the
loop to 1e-10. A profiler spy proves the scan ran; explain() must name the path.
"""

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from torch.profiler import ProfilerActivity, profile

import rnnkit
from contract import (
    HIDDEN,
    INPUT,
    SEQUENCES,
    TIME,
    assert_close,
    assert_runs_agree,
    forward_and_grads,
    fused_ops_in,
    random_layer_state,
)
from rnnkit.cells.layernorm import layer_norm_gru_step, layer_norm_lstm_step
from rnnkit.layers.dropout import draw_dropout

ENGINE_CONFIGS = [
    ("lstm_peephole", rnnkit.LSTM, {"peephole": True}),
    ("lstm_layernorm", rnnkit.LSTM, {"layer_norm": True}),
    ("lstm_forced", rnnkit.LSTM, {"engine": "rnnkit"}),
    ("gru_reset_before", rnnkit.GRU, {"reset_after": False}),
    ("gru_layernorm", rnnkit.GRU, {"layer_norm": True}),
    ("gru_forced", rnnkit.GRU, {"engine": "rnnkit"}),
    ("rnn_tanh_forced", rnnkit.RNN, {"engine": "rnnkit"}),
    ("rnn_relu_identity_forced", rnnkit.RNN, {"engine": "rnnkit", "nonlinearity": "relu",
                                              "init": "identity"}),
]
DROPOUT_CONFIGS = [
    ("lstm_recurrent_dropout", rnnkit.LSTM, {"recurrent_dropout": 0.3}),
    ("lstm_peephole_both_dropouts", rnnkit.LSTM, {"peephole": True, "recurrent_dropout": 0.3,
                                                  "weight_dropout": 0.4}),
    ("lstm_layernorm_recurrent_dropout", rnnkit.LSTM, {"layer_norm": True,
                                                       "recurrent_dropout": 0.3}),
    ("gru_recurrent_dropout", rnnkit.GRU, {"recurrent_dropout": 0.3}),
    ("gru_reset_before_recurrent_dropout", rnnkit.GRU, {"reset_after": False,
                                                        "recurrent_dropout": 0.3}),
    ("gru_layernorm_weight_dropout", rnnkit.GRU, {"layer_norm": True, "weight_dropout": 0.4,
                                                  "recurrent_dropout": 0.2}),
    ("rnn_recurrent_dropout", rnnkit.RNN, {"recurrent_dropout": 0.3}),
]


def twins(cls, kwargs, bidirectional, training=False):
    """The layer on its default path and a copy on the loop, same weights."""
    torch.manual_seed(0)
    fast = cls(INPUT, HIDDEN, num_layers=2, bidirectional=bidirectional, dtype=torch.float64,
               **kwargs)
    slow_kwargs = {**kwargs, "engine": "loop"}
    slow = cls(INPUT, HIDDEN, num_layers=2, bidirectional=bidirectional, dtype=torch.float64,
               **slow_kwargs)
    slow.load_state_dict(fast.state_dict())
    return fast.train(training), slow.train(training)


def agree(fast, slow, sequence, seed=5):
    """Run both with the same random draws; compare outputs, states and gradients."""
    torch.manual_seed(1)
    x = torch.randn(TIME, 3, INPUT, dtype=torch.float64)
    parts = random_layer_state(fast)
    torch.manual_seed(seed)
    fast_run = forward_and_grads(fast, x, parts, sequence)
    torch.manual_seed(seed)
    assert_runs_agree(fast_run, forward_and_grads(slow, x, parts, sequence))


@pytest.mark.parametrize("sequence", SEQUENCES)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize(("cls", "kwargs"), [pytest.param(*c[1:], id=c[0]) for c in ENGINE_CONFIGS])
def test_engine_equals_the_loop(cls, kwargs, bidirectional, sequence):
    fast, slow = twins(cls, kwargs, bidirectional)
    assert fast.backend.startswith("rnnkit")
    agree(fast, slow, sequence)
    assert fast.backend.startswith("rnnkit") and slow.backend == "loop"


@pytest.mark.parametrize("sequence", SEQUENCES)
@pytest.mark.parametrize(("cls", "kwargs"),
                         [pytest.param(*c[1:], id=c[0]) for c in DROPOUT_CONFIGS])
def test_engine_equals_the_loop_with_dropout_in_training(cls, kwargs, sequence):
    fast, slow = twins(cls, kwargs, bidirectional=True, training=True)
    agree(fast, slow, sequence)
    assert fast.backend.startswith("rnnkit")


@pytest.mark.parametrize(("cls", "kwargs"), [pytest.param(*c[1:], id=c[0]) for c in ENGINE_CONFIGS])
def test_spy_sees_the_scan_and_no_torch_kernel(cls, kwargs):
    torch.manual_seed(0)
    layer = cls(INPUT, HIDDEN, dtype=torch.float64, **kwargs)
    x = torch.randn(TIME, 2, INPUT, dtype=torch.float64, requires_grad=True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        layer(x)[0].sum().backward()
    names = {event.name for event in prof.events()}
    assert "_Scan" in names and "_ScanBackward" in names
    assert fused_ops_in(lambda: layer(x)) == set()


def test_recurrent_dropout_leaves_torch_kernel_only_in_training():
    layer = rnnkit.GRU(INPUT, HIDDEN, recurrent_dropout=0.5)
    assert layer.backend.startswith("rnnkit")
    assert "recurrent_dropout" in rnnkit.explain(layer)
    layer.eval()
    assert layer.backend == "torch-fused"
    x = torch.randn(TIME, 2, INPUT)
    plain = rnnkit.GRU(INPUT, HIDDEN)
    plain.load_state_dict(layer.state_dict())
    assert_close(layer(x)[0], plain.eval()(x)[0], 1e-6, "eval output without dropout")


def test_dropout_draws_one_mask_per_sequence_and_keep_scaled_values():
    torch.manual_seed(0)
    weights = {(0, 0): {"weight_hh": torch.ones(8, 4, dtype=torch.float64)}}
    draws = draw_dropout(weights, batch=3, hidden=4, recurrent=0.5, weight=0.25,
                         like=torch.ones(1, dtype=torch.float64))
    mask = draws.masks[0, 0]
    assert mask.shape == (3, 4)
    assert set(mask.unique().tolist()) <= {0.0, 2.0}
    dropped = draws.weights[0, 0]["weight_hh"]
    assert set(dropped.unique().tolist()) <= {0.0, 4.0 / 3.0}
    assert weights[0, 0]["weight_hh"].eq(1).all()  # the parameter itself is untouched


def test_training_forwards_differ_with_recurrent_dropout_and_not_without():
    x = torch.randn(TIME, 2, INPUT)
    layer = rnnkit.LSTM(INPUT, HIDDEN, peephole=True, recurrent_dropout=0.5)
    assert not torch.equal(layer(x)[0], layer(x)[0])
    layer.recurrent_dropout = 0.0
    assert torch.equal(layer(x)[0], layer(x)[0])


def test_explain_names_every_path():
    model = torch.nn.ModuleDict({
        "fused": rnnkit.LSTM(4, 8),
        "scan": rnnkit.GRU(4, 8, reset_after=False),
        "loop": rnnkit.LSTM(4, 8, peephole=True, proj_size=2),
    })
    lines = rnnkit.explain(model).splitlines()
    assert lines[0].startswith("fused: torch-fused")
    assert lines[1].startswith("scan: rnnkit-") and "reset_after=False" in lines[1]
    assert lines[2].startswith("loop: loop") and "proj_size" in lines[2]


@pytest.mark.parametrize(("cls", "kwargs", "message"), [
    (rnnkit.LSTM, {"layer_norm": True, "peephole": True}, "does not combine"),
    (rnnkit.GRU, {"layer_norm": True, "reset_after": False}, "requires reset_after=True"),
    (rnnkit.LSTM, {"recurrent_dropout": 1.0}, "recurrent_dropout in [0, 1)"),
    (rnnkit.GRU, {"weight_dropout": -0.1}, "weight_dropout in [0, 1)"),
])
def test_engine_options_reject_bad_values(cls, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(")", r"\)")):
        cls(INPUT, HIDDEN, **kwargs)


# --- the layer-normalized steps against a NumPy derivation -------------------------------
def _np_layer_norm(x, gain, shift, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gain + shift


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _random_weights(gates, hidden, inputs, cell_norm, rng):
    shapes = {"weight_ih": (gates * hidden, inputs), "weight_hh": (gates * hidden, hidden),
              "bias_ih": (gates * hidden,), "bias_hh": (gates * hidden,),
              "ln_ih_weight": (gates * hidden,), "ln_ih_bias": (gates * hidden,),
              "ln_hh_weight": (gates * hidden,), "ln_hh_bias": (gates * hidden,)}
    if cell_norm:
        shapes.update(ln_cell_weight=(hidden,), ln_cell_bias=(hidden,))
    return {name: rng.normal(size=shape) for name, shape in shapes.items()}


def test_layer_norm_lstm_step_matches_numpy():
    rng = np.random.default_rng(0)
    w = _random_weights(4, 3, 2, True, rng)
    x, h, c = rng.normal(size=(5, 2)), rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    gates = (_np_layer_norm(x @ w["weight_ih"].T, w["ln_ih_weight"], w["ln_ih_bias"])
             + _np_layer_norm(h @ w["weight_hh"].T, w["ln_hh_weight"], w["ln_hh_bias"])
             + w["bias_ih"] + w["bias_hh"])
    i, f, g, o = np.split(gates, 4, axis=1)
    c_next = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    h_next = _sigmoid(o) * np.tanh(_np_layer_norm(c_next, w["ln_cell_weight"],
                                                  w["ln_cell_bias"]))
    tw = {k: torch.from_numpy(v) for k, v in w.items()}
    projection = F.layer_norm(torch.from_numpy(x) @ tw["weight_ih"].T, (12,),
                              tw["ln_ih_weight"], tw["ln_ih_bias"]) + tw["bias_ih"]
    h_t, c_t = layer_norm_lstm_step(projection, (torch.from_numpy(h), torch.from_numpy(c)), tw)
    np.testing.assert_allclose(h_t.numpy(), h_next, atol=1e-12)
    np.testing.assert_allclose(c_t.numpy(), c_next, atol=1e-12)


def test_layer_norm_gru_step_matches_numpy():
    rng = np.random.default_rng(1)
    w = _random_weights(3, 3, 2, False, rng)
    x, h = rng.normal(size=(5, 2)), rng.normal(size=(5, 3))
    xs = _np_layer_norm(x @ w["weight_ih"].T, w["ln_ih_weight"], w["ln_ih_bias"]) + w["bias_ih"]
    hs = _np_layer_norm(h @ w["weight_hh"].T, w["ln_hh_weight"], w["ln_hh_bias"]) + w["bias_hh"]
    (x_r, x_z, x_n), (a_r, a_z, a_n) = np.split(xs, 3, axis=1), np.split(hs, 3, axis=1)
    r, z = _sigmoid(x_r + a_r), _sigmoid(x_z + a_z)
    n = np.tanh(x_n + r * a_n)
    expected = (1 - z) * n + z * h
    tw = {k: torch.from_numpy(v) for k, v in w.items()}
    (h_t,) = layer_norm_gru_step(torch.from_numpy(xs), (torch.from_numpy(h),), tw)
    np.testing.assert_allclose(h_t.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize(("cls", "kwargs"), [pytest.param(*c[1:], id=c[0]) for c in ENGINE_CONFIGS])
def test_a_nan_spreads_through_its_own_sequence_only(cls, kwargs):
    """The C++ kernels are built with -ffast-math; a diverged input must still show as NaN
    (trainers stop on a non-finite loss), and must not leak into other sequences."""
    torch.manual_seed(0)
    layer = cls(INPUT, HIDDEN, **kwargs)
    x = torch.randn(TIME, 2, INPUT, requires_grad=True)
    with torch.no_grad():
        x[2, 0, 1] = float("nan")
    output, _ = layer(x)
    assert torch.isnan(output[2:, 0]).all()
    assert torch.isfinite(output[:2, 0]).all() and torch.isfinite(output[:, 1]).all()
    output[:, 1].sum().backward()
    assert torch.isfinite(x.grad[:, 1]).all()
