"""The NumPy BPTT reference against rnnkit's modules and against finite differences.

Three independent computations must agree with the hand-derived reference:

- forward: rnnkit's cell stepped in Python, its layer with engine="loop", and its layer on
  torch's fused kernel where torch has the configuration (float64, to 1e-10);
- backward: torch autograd through each of those modules (to 1e-8);
- backward: central finite differences of the reference's own forward pass (~1e-6 relative),
  which checks the derivation without trusting torch at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.analysis.reference import Gradients, gru, lstm, params_from_cell, rnn

BATCH, TIME, INPUT, HIDDEN = 2, 5, 3, 4


@dataclasses.dataclass(frozen=True)
class Case:
    """One cell configuration: how to build it in rnnkit and how to run the reference."""

    name: str
    cell: Callable[..., torch.nn.Module]
    layer: Callable[..., torch.nn.Module]
    module: object  # the reference module: rnn, lstm or gru
    options: dict  # keyword arguments for both rnnkit's constructors and reference.forward
    reference_options: dict
    fused: bool  # whether torch has a fused kernel for this configuration

    @property
    def has_cell_state(self) -> bool:
        return self.module is lstm


CASES = [
    Case("rnn_tanh", rnnkit.RNNCell, rnnkit.RNN, rnn, {"nonlinearity": "tanh"},
         {"nonlinearity": "tanh"}, fused=True),
    Case("rnn_relu", rnnkit.RNNCell, rnnkit.RNN, rnn, {"nonlinearity": "relu"},
         {"nonlinearity": "relu"}, fused=True),
    Case("lstm", rnnkit.LSTMCell, rnnkit.LSTM, lstm, {}, {}, fused=True),
    Case("lstm_peephole", rnnkit.LSTMCell, rnnkit.LSTM, lstm, {"peephole": True}, {},
         fused=False),
    Case("gru", rnnkit.GRUCell, rnnkit.GRU, gru, {"reset_after": True},
         {"reset_after": True}, fused=True),
    Case("gru_original", rnnkit.GRUCell, rnnkit.GRU, gru, {"reset_after": False},
         {"reset_after": False}, fused=False),
]
CASE_IDS = [case.name for case in CASES]
PATHS = ("cell", "loop", "fused")
CASE_PATHS = [
    pytest.param(case, path, id=f"{case.name}-{path}")
    for case in CASES for path in PATHS if path != "fused" or case.fused
]


# --- building and running ---------------------------------------------------------------
def build(case: Case, path: str, *, bias: bool = True, seed: int = 0) -> torch.nn.Module:
    """rnnkit's module for ``case`` in float64: a cell, or a one-layer batch-first layer."""
    torch.manual_seed(seed)
    if path == "cell":
        return case.cell(INPUT, HIDDEN, bias=bias, dtype=torch.float64, **case.options)
    engine = "loop" if path == "loop" else "auto"
    return case.layer(INPUT, HIDDEN, bias=bias, batch_first=True, engine=engine,
                      dtype=torch.float64, **case.options)


def random_inputs(case: Case, seed: int = 1) -> dict[str, np.ndarray]:
    """x, the initial state, and the loss weights G (outputs), G_h (h_T), G_c (c_T)."""
    rng = np.random.default_rng(seed)
    arrays = {
        "x": rng.normal(size=(BATCH, TIME, INPUT)),
        "h0": rng.normal(size=(BATCH, HIDDEN)),
        "G": rng.normal(size=(BATCH, TIME, HIDDEN)),
        "G_h": rng.normal(size=(BATCH, HIDDEN)),
    }
    if case.has_cell_state:
        arrays["c0"] = rng.normal(size=(BATCH, HIDDEN))
        arrays["G_c"] = rng.normal(size=(BATCH, HIDDEN))
    return arrays


def initial_state(case: Case, arrays: dict) -> tuple:
    return (arrays["h0"], arrays["c0"]) if case.has_cell_state else (arrays["h0"],)


def reference_forward(case: Case, params: dict, x: np.ndarray, state: tuple):
    """Reference outputs, final state as a tuple ((h,) or (h, c)), and cache."""
    outputs, final, cache = case.module.forward(params, x, *state, **case.reference_options)
    return outputs, (final if case.has_cell_state else (final,)), cache


def reference_gradients(case: Case, params: dict, arrays: dict) -> Gradients:
    _, _, cache = reference_forward(case, params, arrays["x"], initial_state(case, arrays))
    final = (arrays["G_h"], arrays["G_c"]) if case.has_cell_state else arrays["G_h"]
    return case.module.backward(params, cache, arrays["G"], final)


def reference_loss(case: Case, params: dict, arrays: dict) -> float:
    """L = Σ outputs ⊙ G + Σ h_T ⊙ G_h (+ Σ c_T ⊙ G_c), on the reference forward pass."""
    outputs, final, _ = reference_forward(case, params, arrays["x"], initial_state(case, arrays))
    loss = np.sum(outputs * arrays["G"]) + np.sum(final[0] * arrays["G_h"])
    if case.has_cell_state:
        loss += np.sum(final[1] * arrays["G_c"])
    return float(loss)


def run_torch(module: torch.nn.Module, path: str, x: torch.Tensor, state: tuple):
    """Run rnnkit's module; return outputs (batch, time, hidden) and the final state tuple."""
    if path == "cell":
        outputs = []
        for t in range(x.shape[1]):
            result = module(x[:, t], state if len(state) == 2 else state[0])
            state = result if isinstance(result, tuple) else (result,)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1), state
    hx = tuple(s.unsqueeze(0) for s in state)  # (layers * directions = 1, batch, hidden)
    outputs, final = module(x, hx if len(hx) == 2 else hx[0])
    final = final if isinstance(final, tuple) else (final,)
    expected_backend = "loop" if path == "loop" else "torch-fused"
    assert module.backend == expected_backend, "the test ran another path than it names"
    return outputs, tuple(s.squeeze(0) for s in final)


def torch_gradients(case: Case, module: torch.nn.Module, path: str, arrays: dict) -> dict:
    """Autograd gradients of the same loss through rnnkit's module, by reference names."""
    x = torch.tensor(arrays["x"], requires_grad=True)
    state = tuple(torch.tensor(s, requires_grad=True) for s in initial_state(case, arrays))
    outputs, final = run_torch(module, path, x, state)
    loss = (outputs * torch.tensor(arrays["G"])).sum()
    loss = loss + (final[0] * torch.tensor(arrays["G_h"])).sum()
    if case.has_cell_state:
        loss = loss + (final[1] * torch.tensor(arrays["G_c"])).sum()
    module.zero_grad()
    loss.backward()
    grads = {name.removesuffix("_l0"): p.grad.numpy() for name, p in module.named_parameters()}
    grads["x"], grads["h0"] = x.grad.numpy(), state[0].grad.numpy()
    if case.has_cell_state:
        grads["c0"] = state[1].grad.numpy()
    return grads


def flatten(grads: Gradients) -> dict[str, np.ndarray]:
    flat = {**grads.params, "x": grads.x, "h0": grads.h0}
    if grads.c0 is not None:
        flat["c0"] = grads.c0
    return flat


def finite_differences(case: Case, params: dict, arrays: dict, eps: float = 1e-6) -> dict:
    """Central differences of the reference loss for every parameter, x and initial state."""
    targets = {**{name: params[name] for name in params},
               **{name: arrays[name] for name in ("x", "h0", "c0") if name in arrays}}
    numeric = {}
    for name, array in targets.items():
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + eps
            plus = reference_loss(case, params, arrays)
            array[index] = saved - eps
            minus = reference_loss(case, params, arrays)
            array[index] = saved
            grad[index] = (plus - minus) / (2 * eps)
        numeric[name] = grad
    return numeric


# --- forward ----------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "path"), CASE_PATHS)
def test_forward_matches_rnnkit(case, path):
    module = build(case, path)
    arrays = random_inputs(case)
    state = initial_state(case, arrays)
    with torch.no_grad():
        outputs, final = run_torch(module, path, torch.tensor(arrays["x"]),
                                   tuple(torch.tensor(s) for s in state))
    ref_outputs, ref_final, _ = reference_forward(case, params_from_cell(module), arrays["x"],
                                                  state)
    np.testing.assert_allclose(ref_outputs, outputs.numpy(), rtol=0, atol=1e-10)
    for ref, ours in zip(ref_final, final, strict=True):
        np.testing.assert_allclose(ref, ours.numpy(), rtol=0, atol=1e-10)


# --- backward against autograd --------------------------------------------------------
@pytest.mark.parametrize(("case", "path"), CASE_PATHS)
def test_gradients_match_autograd(case, path):
    module = build(case, path)
    arrays = random_inputs(case)
    expected = torch_gradients(case, module, path, arrays)
    found = flatten(reference_gradients(case, params_from_cell(module), arrays))
    assert set(found) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(found[name], value, rtol=1e-8, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gradients_without_bias_match_autograd(case):
    module = build(case, "loop", bias=False)
    arrays = random_inputs(case, seed=2)
    expected = torch_gradients(case, module, "loop", arrays)
    found = flatten(reference_gradients(case, params_from_cell(module), arrays))
    assert "bias_ih" not in found
    assert set(found) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(found[name], value, rtol=1e-8, atol=1e-10, err_msg=name)


# --- backward against finite differences ------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gradients_match_finite_differences(case):
    params = params_from_cell(build(case, "cell", seed=3))
    arrays = random_inputs(case, seed=4)
    found = flatten(reference_gradients(case, params, arrays))
    numeric = finite_differences(case, params, arrays)
    assert set(found) == set(numeric)
    for name, value in numeric.items():
        assert np.any(value != 0), f"{name}: the loss does not depend on it, the check is void"
        np.testing.assert_allclose(found[name], value, rtol=1e-6, atol=1e-8, err_msg=name)


def test_missing_incoming_gradients_count_as_zero():
    case = CASES[2]  # lstm
    params = params_from_cell(build(case, "cell"))
    arrays = random_inputs(case)
    _, _, cache = reference_forward(case, params, arrays["x"], initial_state(case, arrays))
    zeros = np.zeros((BATCH, HIDDEN))
    implicit = lstm.backward(params, cache, arrays["G"])
    explicit = lstm.backward(params, cache, arrays["G"], (zeros, zeros))
    for name, value in flatten(explicit).items():
        np.testing.assert_array_equal(flatten(implicit)[name], value, err_msg=name)


def test_configurations_are_different_functions():
    """Guards the comparisons above: each option the reference takes changes its output."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=(BATCH, TIME, INPUT))
    gru_params = params_from_cell(build(CASES[4], "cell"))
    after, _, _ = gru.forward(gru_params, x, reset_after=True)
    before, _, _ = gru.forward(gru_params, x, reset_after=False)
    assert np.abs(after - before).max() > 1e-3
    peep = params_from_cell(build(CASES[3], "cell"))
    plain = {name: value for name, value in peep.items() if not name.startswith("weight_c")}
    assert np.abs(lstm.forward(peep, x)[0] - lstm.forward(plain, x)[0]).max() > 1e-3
    rnn_params = params_from_cell(build(CASES[0], "cell"))
    with_tanh = rnn.forward(rnn_params, x, nonlinearity="tanh")[0]
    with_relu = rnn.forward(rnn_params, x, nonlinearity="relu")[0]
    assert np.abs(with_tanh - with_relu).max() > 1e-3


# --- params_from_cell -----------------------------------------------------------------
def test_params_from_cell_copies_float64_by_cell_name():
    layer = rnnkit.LSTM(INPUT, HIDDEN, peephole=True)  # float32 parameters
    params = params_from_cell(layer)
    assert set(params) == {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_ci",
                           "weight_cf", "weight_co"}
    assert all(value.dtype == np.float64 for value in params.values())
    params["weight_hh"][:] = 0.0
    assert layer.weight_hh_l0.abs().sum() > 0, "params must be copies"


@pytest.mark.parametrize("kwargs", [{"num_layers": 2}, {"bidirectional": True}],
                         ids=["two_layers", "bidirectional"])
def test_params_from_cell_refuses_several_cells(kwargs):
    with pytest.raises(ValueError, match="single-layer, single-direction"):
        params_from_cell(rnnkit.GRU(INPUT, HIDDEN, **kwargs))


# --- input errors ---------------------------------------------------------------------
@pytest.fixture
def gru_params():
    return params_from_cell(build(CASES[4], "cell"))


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((TIME, INPUT)), r"x to be 3-D \(batch, time, input_size\)"),
        (np.zeros((BATCH, TIME, INPUT + 1)), "input_size=3"),
        (np.zeros((BATCH, 0, INPUT)), "at least one time step"),
        (np.zeros((0, TIME, INPUT)), "at least one sequence"),
        ("not numbers", "numeric array"),
    ],
    ids=["two_dims", "features", "no_time", "no_batch", "text"],
)
def test_bad_input_is_named(gru_params, x, message):
    with pytest.raises(ValueError, match=message):
        gru.forward(gru_params, x)


def test_bad_state_and_gradients_are_named(gru_params):
    x = np.zeros((BATCH, TIME, INPUT))
    with pytest.raises(ValueError, match=r"h0 of shape \(2, 4\)"):
        gru.forward(gru_params, x, np.zeros((BATCH, HIDDEN + 1)))
    _, _, cache = gru.forward(gru_params, x)
    with pytest.raises(ValueError, match=r"grad_outputs of shape \(2, 5, 4\)"):
        gru.backward(gru_params, cache, np.zeros((BATCH, HIDDEN)))
    with pytest.raises(ValueError, match="grad_final_state of shape"):
        gru.backward(gru_params, cache, None, np.zeros((BATCH, TIME, HIDDEN)))
    with pytest.raises(ValueError, match="expected the GRUCache"):
        gru.backward(gru_params, object())
    other = params_from_cell(rnnkit.GRUCell(INPUT + 1, HIDDEN))
    with pytest.raises(ValueError, match="to match the cache"):
        gru.backward(other, cache)
    with pytest.raises(ValueError, match=r"pair \(grad_h, grad_c\)"):
        lstm_params = params_from_cell(build(CASES[2], "cell"))
        lstm.backward(lstm_params, lstm.forward(lstm_params, x)[2], None, np.zeros(3))


def test_bad_params_are_named(gru_params):
    x = np.zeros((BATCH, TIME, INPUT))
    with pytest.raises(ValueError, match="expected params to contain 'weight_hh'"):
        gru.forward({"weight_ih": gru_params["weight_ih"]}, x)
    with pytest.raises(ValueError, match=r"weight_hh of shape \(hidden, hidden\)"):
        rnn.forward(gru_params, x)  # a GRU's weights are not an RNN's
    with pytest.raises(ValueError, match=r"weight_hh of shape \(4 \* hidden, hidden\)"):
        lstm.forward(gru_params, x)
    with pytest.raises(ValueError, match="both bias_ih and bias_hh or neither"):
        gru.forward({k: v for k, v in gru_params.items() if k != "bias_hh"}, x)
    with pytest.raises(ValueError, match=r"bias_ih of shape \(12,\)"):
        gru.forward({**gru_params, "bias_ih": np.zeros(4)}, x)
    with pytest.raises(ValueError, match=r"weight_ih of shape \(12, input_size\)"):
        gru.forward({**gru_params, "weight_ih": np.zeros((4, INPUT))}, x)
    with pytest.raises(ValueError, match="unexpected parameters"):
        gru.forward({**gru_params, "weight_ci": np.zeros(HIDDEN)}, x)
    with pytest.raises(ValueError, match="nonlinearity 'tanh' or 'relu'"):
        rnn.forward(params_from_cell(build(CASES[0], "cell")), x, nonlinearity="sigmoid")


def test_bad_lstm_params_are_named():
    x = np.zeros((BATCH, TIME, INPUT))
    peep = params_from_cell(build(CASES[3], "cell"))
    with pytest.raises(ValueError, match="all three peephole weights"):
        lstm.forward({k: v for k, v in peep.items() if k != "weight_co"}, x)
    with pytest.raises(ValueError, match=r"weight_ci of shape \(4,\)"):
        lstm.forward({**peep, "weight_ci": np.zeros(HIDDEN + 1)}, x)
    projected = params_from_cell(rnnkit.LSTM(INPUT, HIDDEN, proj_size=2))
    with pytest.raises(ValueError, match="projection"):
        lstm.forward(projected, x)
