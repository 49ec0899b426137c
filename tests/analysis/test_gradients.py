"""Gradient-flow probes against independent computations, and the CLI that runs them.

- ``gradient_vs_distance`` against the NumPy BPTT reference: dL/dh_t is the gradient with
  respect to the initial state of the suffix sequence that starts at h_t (and c_t);
- ``recurrent_jacobian_norms`` against ``torch.autograd.functional.jacobian`` of one
  example's step, reduced by ``numpy.linalg.norm(ord=2)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.analysis.gradients import (
    build_probe_cell,
    gradient_vs_distance,
    probe,
    recurrent_jacobian_norms,
    step,
)
from rnnkit.analysis.reference import gru, lstm, params_from_cell, rnn
from rnnkit.cli import main

BATCH, TIME, INPUT, HIDDEN = 3, 6, 2, 5
REFERENCE = {"rnn_tanh": (rnn, {"nonlinearity": "tanh"}),
             "rnn_relu": (rnn, {"nonlinearity": "relu"}),
             "irnn": (rnn, {"nonlinearity": "relu"}),
             "lstm": (lstm, {}),
             "gru": (gru, {"reset_after": True})}


def _inputs(seed: int = 0) -> torch.Tensor:
    return torch.randn(BATCH, TIME, INPUT, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


def _trajectory(cell: torch.nn.Module, inputs: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
    states, out = None, []
    with torch.no_grad():
        for t in range(inputs.shape[1]):
            states = step(cell, inputs[:, t], states)
            out.append(states)
    return out


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_gradient_vs_distance_matches_the_numpy_reference(name: str) -> None:
    torch.manual_seed(1)
    cell = build_probe_cell(name, INPUT, HIDDEN)
    if name == "irnn":  # zero bias at init: shift it so most ReLU units are active
        with torch.no_grad():
            cell.bias_hh.add_(0.1)
    inputs, readout = _inputs(), torch.randn(HIDDEN, dtype=torch.float64)
    measured = gradient_vs_distance(cell, inputs, readout).numpy()

    module, options = REFERENCE[name]
    params = params_from_cell(cell)
    x, states = inputs.numpy(), _trajectory(cell, inputs)
    grad_last = np.broadcast_to(readout.numpy() / BATCH, (BATCH, HIDDEN))
    expected = []
    for t in range(TIME):
        start = {"h0": states[t][0].numpy()}
        if name == "lstm":
            start["c0"] = states[t][1].numpy()
        if t == TIME - 1:
            expected.append(np.linalg.norm(grad_last, axis=1).mean())
            continue
        # dL/dh_t is the initial-state gradient of the sequence that continues from h_t.
        _, _, cache = module.forward(params, x[:, t + 1:], **start, **options)
        final = (grad_last, np.zeros_like(grad_last)) if name == "lstm" else grad_last
        grads = module.backward(params, cache, grad_final_state=final)
        expected.append(np.linalg.norm(grads.h0, axis=1).mean())
    np.testing.assert_allclose(measured, expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", ["rnn_tanh", "lstm", "gru"])
def test_jacobian_norms_match_autograd_jacobians(name: str) -> None:
    torch.manual_seed(2)
    cell = build_probe_cell(name, INPUT, HIDDEN)
    inputs = _inputs(3)
    measured = recurrent_jacobian_norms(cell, inputs).numpy()
    parts = 2 if name == "lstm" else 1
    previous = [torch.zeros(BATCH, parts * HIDDEN, dtype=torch.float64)]
    previous += [torch.cat(s, dim=-1) for s in _trajectory(cell, inputs)[:-1]]
    expected = []
    for t in range(TIME):
        norms = []
        for b in range(BATCH):
            def one(flat: torch.Tensor, t: int = t, b: int = b) -> torch.Tensor:
                state = tuple(flat.unsqueeze(0).chunk(parts, dim=-1))
                return torch.cat(step(cell, inputs[b:b + 1, t], state), dim=-1).squeeze(0)
            matrix = torch.autograd.functional.jacobian(one, previous[t][b])
            norms.append(np.linalg.norm(matrix.numpy(), ord=2))
        expected.append(np.mean(norms))
    np.testing.assert_allclose(measured, expected, rtol=1e-9)


def test_tanh_rnn_vanishes_where_the_lstm_keeps_orders_of_magnitude_more() -> None:
    tanh = probe("rnn_tanh", length=100, hidden_size=32, batch_size=8, seed=0)
    gated = probe("lstm", length=100, hidden_size=32, batch_size=8, seed=0, forget_bias=1.0)
    assert tanh.first_over_last < 1e-3
    assert gated.first_over_last > 1e3 * tanh.first_over_last


def test_irnn_jacobian_is_the_identity_on_active_units() -> None:
    cell = build_probe_cell("irnn", INPUT, HIDDEN)
    with torch.no_grad():
        cell.weight_ih.fill_(0.0)
        cell.bias_ih.fill_(1.0)  # every unit active and the input constant
    norms = recurrent_jacobian_norms(cell, _inputs())
    np.testing.assert_allclose(norms.numpy(), np.ones(TIME), rtol=1e-12)


def test_probe_is_reproducible_with_a_seed() -> None:
    first = probe("gru", length=5, hidden_size=4, batch_size=2, seed=7)
    again = probe("gru", length=5, hidden_size=4, batch_size=2, seed=7)
    other = probe("gru", length=5, hidden_size=4, batch_size=2, seed=8)
    assert first == again
    assert first.grad_norms != other.grad_norms


@pytest.mark.parametrize("length", [1, 0, -3, 2.5])
def test_impossible_lengths_are_named(length: object) -> None:
    with pytest.raises(ValueError, match="length >= 2"):
        probe("lstm", length=length, hidden_size=4)


def test_unknown_cell_is_named() -> None:
    with pytest.raises(ValueError, match="'lstmm'"):
        probe("lstmm", length=5, hidden_size=4)


def test_inputs_must_be_a_sequence() -> None:
    cell = build_probe_cell("gru", INPUT, HIDDEN)
    with pytest.raises(ValueError, match=r"\(batch, time, input_size\)"):
        gradient_vs_distance(cell, torch.zeros(3, INPUT, dtype=torch.float64))


def test_cli_writes_norms_summary_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "probe"
    status = main(["diagnose", "gradients", "--cell", "rnn_tanh", "--compare", "lstm", "irnn",
                   "--length", "7", "--hidden-size", "4", "--batch-size", "2", "--seed", "3",
                   "--out", str(out)])
    assert status == 0
    norms = json.loads((out / "grad_norms.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert len(norms) == 7 and all(isinstance(v, float) for v in norms)
    assert [entry["cell"] for entry in summary] == ["rnn_tanh", "lstm", "irnn"]
    assert summary[0]["grad_norms"] == norms
    assert (out / "grad_norms.png").read_bytes()[:4] == b"\x89PNG"
    assert "rnn_tanh" in capsys.readouterr().out


def test_cli_rejects_a_short_sequence(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as refused:  # argparse refuses it, naming the flag
        main(["diagnose", "gradients", "--cell", "gru", "--length", "1", "--out",
              str(tmp_path)])
    assert refused.value.code == 2
    assert "--length must be an int in [2, 100000], got 1" in capsys.readouterr().err
