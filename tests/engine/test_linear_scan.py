"""The linear recurrence h_t = a_t h_{t-1} + b_t on both paths (the log-space scan in torch
operators, rnnkit's C++ loop) against the recurrence run step by step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.engine.linear_scan import linear_scan, scan_states
from rnnkit.engine.native import native_unavailable_reason

NATIVE_REASON = native_unavailable_reason(torch.device("cpu"), torch.float64)
PATHS = [pytest.param(False, id="scan"),
         pytest.param(True, id="native", marks=pytest.mark.skipif(
             NATIVE_REASON is not None, reason=str(NATIVE_REASON)))]


def coefficients(time: int, batch: int = 3, hidden: int = 4, *, seed: int = 0,
                 dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
    """log a in (-inf, 0], b and h_0 of both signs."""
    generator = torch.Generator().manual_seed(seed)
    log_a = torch.nn.functional.logsigmoid(
        torch.randn(time, batch, hidden, generator=generator, dtype=dtype) * 2)
    b = torch.randn(time, batch, hidden, generator=generator, dtype=dtype)
    h_0 = torch.randn(batch, hidden, generator=generator, dtype=dtype)
    return log_a, b, h_0


def numpy_recurrence(log_a: torch.Tensor, b: torch.Tensor, h_0: torch.Tensor) -> np.ndarray:
    """The recurrence as written, one step after another, in NumPy float64."""
    a, b_, h = np.exp(log_a.double().numpy()), b.double().numpy(), h_0.double().numpy()
    states = []
    for step in range(a.shape[0]):
        h = a[step] * h + b_[step]
        states.append(h)
    return np.stack(states)


def torch_recurrence(log_a: torch.Tensor, b: torch.Tensor, h_0: torch.Tensor) -> torch.Tensor:
    h, states = h_0, []
    for step in range(log_a.shape[0]):
        h = torch.exp(log_a[step]) * h + b[step]
        states.append(h)
    return torch.stack(states)


@pytest.mark.parametrize(("time", "chunk"), [(1, 64), (7, 64), (11, 4), (16, 4), (300, 64)])
def test_the_log_space_scan_equals_the_recurrence_step_by_step(time: int, chunk: int) -> None:
    log_a, b, h_0 = coefficients(time)
    states = scan_states(log_a, b, h_0, chunk)
    np.testing.assert_allclose(states.numpy(), numpy_recurrence(log_a, b, h_0),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize("time", [1, 9, 150])
def test_both_paths_equal_the_recurrence_step_by_step(native: bool, time: int) -> None:
    log_a, b, h_0 = coefficients(time, seed=5)
    states = linear_scan(log_a, b, h_0, native=native)
    np.testing.assert_allclose(states.numpy(), numpy_recurrence(log_a, b, h_0),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize("time", [10, 150])
def test_gradients_equal_autograd_through_the_steps(native: bool, time: int) -> None:
    leaves = [t.requires_grad_() for t in coefficients(time, seed=1)]
    weights = torch.randn(time, 3, 4, dtype=torch.float64)
    (linear_scan(*leaves, native=native) * weights).sum().backward()
    scanned = [leaf.grad.clone() for leaf in leaves]
    for leaf in leaves:
        leaf.grad = None
    (torch_recurrence(*leaves) * weights).sum().backward()
    for name, got, leaf in zip(("log_a", "b", "h_0"), scanned, leaves, strict=True):
        torch.testing.assert_close(got, leaf.grad, rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("native", PATHS)
def test_gradcheck(native: bool) -> None:
    leaves = tuple(t.requires_grad_() for t in coefficients(5, 2, 3, seed=2))
    assert torch.autograd.gradcheck(lambda *x: linear_scan(*x, native=native), leaves)


@pytest.mark.parametrize("native", PATHS)
def test_a_step_with_a_one_and_b_zero_leaves_the_state_exactly(native: bool) -> None:
    log_a, b, h_0 = coefficients(6)
    log_a[2:4], b[2:4] = 0.0, 0.0
    states = linear_scan(log_a, b, h_0, native=native)
    torch.testing.assert_close(states[3], states[1], rtol=1e-13, atol=1e-13)


def test_zero_state_and_positive_terms_stay_positive_and_exact() -> None:
    """The paper's log-space form: b > 0 and h_0 = 0, so no negative part is ever needed."""
    log_a, b, h_0 = coefficients(50, seed=3)
    b, h_0 = b.abs(), torch.zeros_like(h_0)
    states = linear_scan(log_a, b, h_0)
    assert bool((states > 0).all())
    np.testing.assert_allclose(states.numpy(), numpy_recurrence(log_a, b, h_0), rtol=1e-10)


@pytest.mark.parametrize(("native", "tolerance"), [(False, 1e-4), (True, 1e-5)],
                         ids=["scan", "native"])
def test_float32_stays_accurate_over_16384_steps(native: bool, tolerance: float) -> None:
    """Strongly closing gates (a near 0) and near-open ones (a near 1) mixed over 16,384
    steps: in float32 both paths stay near the float64 recurrence, relative to the state's
    scale (the log-space scan within 1e-4: its chunks of 64 steps sum logs as large as
    2,500 here; the C++ loop within 1e-5), and finite; so do their gradients."""
    if native and NATIVE_REASON is not None:
        pytest.skip(NATIVE_REASON)
    log_a, b, h_0 = coefficients(16_384, 2, 8, seed=4)
    log_a[:, :, :4] *= 10  # a as small as e^-40 in some units
    log_a[:, :, 4:] /= 100  # memory of hundreds of steps in others
    reference = numpy_recurrence(log_a, b, h_0)
    leaves = [t.float().requires_grad_() for t in (log_a, b, h_0)]
    states = linear_scan(*leaves, native=native)
    scale = np.abs(reference).max(axis=0)
    error = np.abs(states.detach().numpy() - reference).max(axis=0) / scale
    assert error.max() < tolerance, error.max()
    states.sum().backward()
    assert all(bool(torch.isfinite(leaf.grad).all()) for leaf in leaves)
