"""One LSTM step from summed gate pre-activations (the int8 generation step's activations):
the C++ kernel and the torch-operator twin against torch's own LSTM cell.

The reference is ``torch._VF.lstm_cell`` with identity input weights and zero recurrent
weights, so that its gate pre-activations are exactly the given ones.
"""

import pytest
import torch

from rnnkit.engine.native import (
    lstm_gates_step_for,
    native_extension,
    native_unavailable_reason,
    torch_lstm_gates_step,
)

NATIVE_REASON = native_unavailable_reason(torch.device("cpu"), torch.float64)
needs_native = pytest.mark.skipif(NATIVE_REASON is not None, reason=str(NATIVE_REASON))
BATCH, HIDDEN = 3, 5


def torch_cell_reference(gates: torch.Tensor, c_prev: torch.Tensor):
    batch, size = gates.shape
    identity = torch.eye(size, dtype=gates.dtype)
    recurrent = torch.zeros(size, size // 4, dtype=gates.dtype)
    hidden = torch.zeros(batch, size // 4, dtype=gates.dtype)
    return torch._VF.lstm_cell(gates, (hidden, c_prev), identity, recurrent, None, None)


def random_inputs(dtype: torch.dtype):
    generator = torch.Generator().manual_seed(0)
    gates = 3 * torch.randn(BATCH, 4 * HIDDEN, generator=generator, dtype=dtype)
    return gates, torch.randn(BATCH, HIDDEN, generator=generator, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("step", [
    pytest.param(lambda gates, c_prev: native_extension().lstm_gates_step(gates, c_prev),
                 id="native", marks=needs_native),
    pytest.param(torch_lstm_gates_step, id="torch-operators"),
])
def test_one_step_from_gates_is_torchs_lstm_cell(step, dtype) -> None:
    gates, c_prev = random_inputs(dtype)
    expected_h, expected_c = torch_cell_reference(gates, c_prev)
    h, c = step(gates.clone(), c_prev)
    tolerance = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(h, expected_h, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(c, expected_c, rtol=tolerance, atol=tolerance)


@needs_native
def test_the_cpu_step_runs_in_cpp() -> None:
    """The step chosen for CPU float32 is the C++ kernel: it activates the gates in place
    (the documented trace of its run); the torch-operator twin leaves them as they were."""
    gates, c_prev = random_inputs(torch.float32)
    given = gates.clone()
    lstm_gates_step_for(gates.device, gates.dtype)(gates, c_prev)
    assert not torch.equal(gates, given)
    torch.testing.assert_close(gates[:, :HIDDEN], torch.sigmoid(given[:, :HIDDEN]))
    untouched = given.clone()
    torch_lstm_gates_step(untouched, c_prev)
    assert torch.equal(untouched, given)
