"""One step of each cell against the docstring equations written out by hand in NumPy.

These cover what torch.nn lacks (peepholes, reset_after=False, the IRNN init) and are an
independent check of what it has. The NumPy code uses per-gate matrices and vectors, never
rnnkit's stacked projections, and sigmoid/tanh from exp.
"""

import numpy as np
import pytest
import torch

import rnnkit
from contract import BATCH, HIDDEN, INPUT, PROJ


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def tanh(a):
    e = np.exp(2.0 * a)
    return (e - 1.0) / (e + 1.0)


def relu(a):
    return np.where(a > 0, a, 0.0)


def numpy_weights(module):
    return {name: p.detach().numpy().copy() for name, p in module.named_parameters()}


def gate(w, name, k, hidden):
    """Block ``k`` of a stacked weight (rows) or bias, as NumPy; zeros for a missing bias."""
    if name not in w:
        return np.zeros(hidden)
    return w[name][k * hidden : (k + 1) * hidden]


def affine(w, k, hidden, x, h):
    """W_i? x + b_i? + W_h? h + b_h? for gate block ``k``, one sequence (vectors)."""
    return (gate(w, "weight_ih", k, hidden) @ x + gate(w, "bias_ih", k, hidden)
            + gate(w, "weight_hh", k, hidden) @ h + gate(w, "bias_hh", k, hidden))


def lstm_numpy(w, x, h, c, hidden, peephole):
    """Gers & Schmidhuber's LSTM: i, f peek at c_{t-1}; o peeks at the new c_t."""
    zeros = np.zeros(hidden)
    w_ci = w.get("weight_ci", zeros) if peephole else zeros
    w_cf = w.get("weight_cf", zeros) if peephole else zeros
    w_co = w.get("weight_co", zeros) if peephole else zeros
    i = sigmoid(affine(w, 0, hidden, x, h) + w_ci * c)
    f = sigmoid(affine(w, 1, hidden, x, h) + w_cf * c)
    g = tanh(affine(w, 2, hidden, x, h))
    c_new = f * c + i * g
    o = sigmoid(affine(w, 3, hidden, x, h) + w_co * c_new)
    h_new = o * tanh(c_new)
    if "weight_hr" in w:
        h_new = w["weight_hr"] @ h_new
    return h_new, c_new


def gru_numpy(w, x, h, hidden, reset_after):
    r = sigmoid(affine(w, 0, hidden, x, h))
    z = sigmoid(affine(w, 1, hidden, x, h))
    x_n = gate(w, "weight_ih", 2, hidden) @ x + gate(w, "bias_ih", 2, hidden)
    w_hn, b_hn = gate(w, "weight_hh", 2, hidden), gate(w, "bias_hh", 2, hidden)
    after = x_n + r * (w_hn @ h + b_hn)  # r gates the recurrent product, b_hn inside
    before = x_n + w_hn @ (r * h) + b_hn  # r gates h before the product, b_hn outside
    n = tanh(after if reset_after else before)
    return (1.0 - z) * n + z * h


def rnn_numpy(w, x, h, hidden, nonlinearity):
    pre = affine(w, 0, hidden, x, h)
    return tanh(pre) if nonlinearity == "tanh" else relu(pre)


def randomize(module, scale=0.7):
    """Draw every parameter (peepholes included) from a wider range than the init does."""
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-scale, scale)


def inputs(batched, state_sizes):
    lead = (BATCH,) if batched else ()
    x = torch.randn(*lead, INPUT, dtype=torch.float64)
    return x, tuple(torch.randn(*lead, size, dtype=torch.float64) for size in state_sizes)


def rows(tensor, batched):
    """A (batch, size) or (size,) tensor as a list of NumPy vectors, one per sequence."""
    array = tensor.detach().numpy()
    return list(array) if batched else [array]


BATCHED = pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])


@BATCHED
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize(
    ("peephole", "proj"),
    [(True, 0), (True, PROJ), (False, 0), (False, PROJ)],
    ids=["peephole", "peephole-proj", "plain", "proj"])
def test_lstm_step_matches_numpy(peephole, proj, bias, batched):
    torch.manual_seed(0)
    cell = rnnkit.LSTMCell(INPUT, HIDDEN, bias, proj_size=proj, peephole=peephole,
                           dtype=torch.float64)
    randomize(cell)
    x, (h, c) = inputs(batched, (proj or HIDDEN, HIDDEN))
    h_new, c_new = cell(x, (h, c))
    w = numpy_weights(cell)
    for b, (xb, hb, cb) in enumerate(zip(rows(x, batched), rows(h, batched), rows(c, batched),
                                         strict=True)):
        want_h, want_c = lstm_numpy(w, xb, hb, cb, HIDDEN, peephole)
        np.testing.assert_allclose(rows(h_new, batched)[b], want_h, rtol=0, atol=1e-12)
        np.testing.assert_allclose(rows(c_new, batched)[b], want_c, rtol=0, atol=1e-12)


def test_peephole_output_gate_uses_the_new_cell_state():
    """With only w_co non-zero the o gate must see c_t, not c_{t-1}: the two differ here."""
    torch.manual_seed(1)
    cell = rnnkit.LSTMCell(INPUT, HIDDEN, peephole=True, dtype=torch.float64)
    randomize(cell)
    with torch.no_grad():
        cell.weight_ci.zero_()
        cell.weight_cf.zero_()
        cell.weight_co.fill_(3.0)
    x, (h, c) = inputs(True, (HIDDEN, HIDDEN))
    h_new, c_new = cell(x, (h, c))
    w = numpy_weights(cell)
    want = [lstm_numpy(w, xb, hb, cb, HIDDEN, True)[0] for xb, hb, cb in zip(
        x.numpy(), h.numpy(), c.numpy(), strict=True)]
    np.testing.assert_allclose(h_new.detach().numpy(), np.stack(want), rtol=0, atol=1e-12)
    # The same cell with the old c_{t-1} in the o gate gives something clearly different.
    old = [sigmoid(affine(w, 3, HIDDEN, xb, hb) + 3.0 * cb) * tanh(cn) for xb, hb, cb, cn in zip(
        x.numpy(), h.numpy(), c.numpy(), c_new.detach().numpy(), strict=True)]
    assert np.abs(np.stack(old) - h_new.detach().numpy()).max() > 1e-3


@BATCHED
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("reset_after", [True, False], ids=["reset_after", "reset_before"])
def test_gru_step_matches_numpy(reset_after, bias, batched):
    torch.manual_seed(0)
    cell = rnnkit.GRUCell(INPUT, HIDDEN, bias, reset_after=reset_after, dtype=torch.float64)
    randomize(cell)
    x, (h,) = inputs(batched, (HIDDEN,))
    h_new = cell(x, h)
    w = numpy_weights(cell)
    for b, (xb, hb) in enumerate(zip(rows(x, batched), rows(h, batched), strict=True)):
        want = gru_numpy(w, xb, hb, HIDDEN, reset_after)
        np.testing.assert_allclose(rows(h_new, batched)[b], want, rtol=0, atol=1e-12)


def test_gru_forms_differ_on_the_same_weights():
    """reset_after changes the function, so the test above can tell the two apart."""
    torch.manual_seed(2)
    after = rnnkit.GRUCell(INPUT, HIDDEN, dtype=torch.float64)
    randomize(after)
    before = rnnkit.GRUCell(INPUT, HIDDEN, reset_after=False, dtype=torch.float64)
    before.load_state_dict(after.state_dict())
    x, (h,) = inputs(True, (HIDDEN,))
    assert (after(x, h) - before(x, h)).abs().max() > 1e-3


@BATCHED
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_step_matches_numpy(nonlinearity, batched):
    torch.manual_seed(0)
    cell = rnnkit.RNNCell(INPUT, HIDDEN, nonlinearity=nonlinearity, dtype=torch.float64)
    randomize(cell)
    x, (h,) = inputs(batched, (HIDDEN,))
    h_new = cell(x, h)
    w = numpy_weights(cell)
    for b, (xb, hb) in enumerate(zip(rows(x, batched), rows(h, batched), strict=True)):
        want = rnn_numpy(w, xb, hb, HIDDEN, nonlinearity)
        np.testing.assert_allclose(rows(h_new, batched)[b], want, rtol=0, atol=1e-12)


@BATCHED
def test_irnn_step_is_relu_of_input_projection_plus_previous_state(batched):
    """init="identity" with relu: W_hh = I and zero biases, so h' = relu(W_ih x + h)."""
    torch.manual_seed(0)
    cell = rnnkit.RNNCell(INPUT, HIDDEN, nonlinearity="relu", init="identity",
                          dtype=torch.float64)
    x, (h,) = inputs(batched, (HIDDEN,))
    h_new = cell(x, h)
    w = numpy_weights(cell)
    np.testing.assert_array_equal(w["weight_hh"], np.eye(HIDDEN))
    for b, (xb, hb) in enumerate(zip(rows(x, batched), rows(h, batched), strict=True)):
        np.testing.assert_allclose(rows(h_new, batched)[b], relu(w["weight_ih"] @ xb + hb),
                                   rtol=0, atol=1e-12)
        np.testing.assert_allclose(rows(h_new, batched)[b],
                                   rnn_numpy(w, xb, hb, HIDDEN, "relu"), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [(rnnkit.LSTMCell, {"peephole": True}), (rnnkit.LSTMCell, {"peephole": True, "proj_size": 3}),
     (rnnkit.GRUCell, {"reset_after": False}),
     (rnnkit.RNNCell, {"nonlinearity": "relu", "init": "identity"})],
    ids=["lstm-peephole", "lstm-peephole-proj", "gru-reset-before", "irnn"])
def test_pure_step_functions_match_the_cells(cls, kwargs):
    """The functional steps (lstm_step, gru_step, rnn_step) give the cell's result."""
    from rnnkit.cells.gru import gru_step
    from rnnkit.cells.lstm import lstm_step
    from rnnkit.cells.rnn import rnn_step

    torch.manual_seed(0)
    cell = cls(INPUT, HIDDEN, dtype=torch.float64, **kwargs)
    randomize(cell)
    w = numpy_weights(cell)
    sizes = (kwargs.get("proj_size") or HIDDEN, HIDDEN) if cls is rnnkit.LSTMCell else (HIDDEN,)
    x, parts = inputs(True, sizes)
    weights = dict(cell.named_parameters())
    projection = x @ weights["weight_ih"].T + weights["bias_ih"]
    if cls is rnnkit.LSTMCell:
        got = lstm_step(projection, parts, weights, peephole=True)
        want = [lstm_numpy(w, xb, hb, cb, HIDDEN, True) for xb, hb, cb in zip(
            x.numpy(), parts[0].numpy(), parts[1].numpy(), strict=True)]
        want = (np.stack([a for a, _ in want]), np.stack([b for _, b in want]))
    elif cls is rnnkit.GRUCell:
        got = gru_step(projection, parts, weights, reset_after=False)
        want = (np.stack([gru_numpy(w, xb, hb, HIDDEN, False)
                          for xb, hb in zip(x.numpy(), parts[0].numpy(), strict=True)]),)
    else:
        got = rnn_step(projection, parts, weights, nonlinearity="relu")
        want = (np.stack([rnn_numpy(w, xb, hb, HIDDEN, "relu")
                          for xb, hb in zip(x.numpy(), parts[0].numpy(), strict=True)]),)
    for g, expected in zip(got, want, strict=True):
        np.testing.assert_allclose(g.detach().numpy(), expected, rtol=0, atol=1e-12)
