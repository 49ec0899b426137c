"""Generation's LSTM steps in C++ against torch's own LSTM cell: one step from summed gate
pre-activations (the int8 step's activations: the C++ kernel, its in-place twin and the
torch-operator twin), and the in-place layer step of float generation.

For the steps from gates the reference is ``torch._VF.lstm_cell`` with identity input
weights and zero recurrent weights, so that its gate pre-activations are exactly the given
ones; for the layer step, the same cell with random weights.
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


@needs_native
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_in_place_step_from_gates_overwrites_h_and_c_with_torchs_step(dtype) -> None:
    gates, c_prev = random_inputs(dtype)
    expected_h, expected_c = torch_cell_reference(gates, c_prev)
    h, c = torch.full_like(c_prev, 7.0), c_prev.clone()
    buffers = (h.data_ptr(), c.data_ptr())
    native_extension().lstm_gates_step_(gates.clone(), h, c)
    tolerance = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(h, expected_h, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(c, expected_c, rtol=tolerance, atol=tolerance)
    assert (h.data_ptr(), c.data_ptr()) == buffers


@needs_native
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_in_place_layer_step_is_torchs_lstm_cell(dtype) -> None:
    """rnnkit's one-call LSTM layer step (both products, then the activations) against
    ``torch._VF.lstm_cell`` with random weights, over three steps with the state carried
    in the same buffers."""
    generator = torch.Generator().manual_seed(1)
    inputs, size = 6, 4 * HIDDEN
    weight_ih, weight_hh = (torch.randn(size, n, generator=generator, dtype=dtype)
                            for n in (inputs, HIDDEN))
    bias_ih, bias_hh = (torch.randn(size, generator=generator, dtype=dtype) for _ in range(2))
    h, c = (torch.randn(BATCH, HIDDEN, generator=generator, dtype=dtype) for _ in range(2))
    expected = (h.clone(), c.clone())
    gates = [torch.empty(BATCH, size, dtype=dtype) for _ in range(2)]
    for _ in range(3):
        x = torch.randn(BATCH, inputs, generator=generator, dtype=dtype)
        expected = torch._VF.lstm_cell(x, expected, weight_ih, weight_hh, bias_ih, bias_hh)
        native_extension().lstm_cell_step_(x, weight_ih.t(), weight_hh.t(), bias_ih, bias_hh,
                                           h, c, *gates)
    tolerance = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(h, expected[0], rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(c, expected[1], rtol=tolerance, atol=tolerance)
