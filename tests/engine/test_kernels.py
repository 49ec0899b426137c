"""The scan kernels one by one: C++ against torch operators, both against finite differences.

The layer tests compare whole layers with the Python loop; here each kernel pair meets on
the same inputs, ragged batches and recurrent masks included, so the torch-operator kernels
(the path on GPUs and without a compiler) are held to the same 1e-10 as the C++ ones.
"""

import os
import subprocess
import sys

import pytest
import torch

from rnnkit.engine.gru import GRUKernel
from rnnkit.engine.layernorm import LayerNormGRUKernel, LayerNormLSTMKernel
from rnnkit.engine.lstm import LSTMKernel
from rnnkit.engine.native import native_kernel, native_unavailable_reason
from rnnkit.engine.rnn import RNNKernel
from rnnkit.engine.scan import scan

NATIVE_REASON = native_unavailable_reason(torch.device("cpu"), torch.float64)
needs_native = pytest.mark.skipif(NATIVE_REASON is not None, reason=str(NATIVE_REASON))

TIME, BATCH, HIDDEN = 5, 4, 3
RAGGED = [4, 4, 3, 1, 1]


def kernel_inputs(kernel, dtype=torch.float64, hidden=HIDDEN, batch=BATCH, seed=0, time=TIME):
    """Random xproj, state and params for ``kernel`` (leaves that require grad)."""
    torch.manual_seed(seed)
    gates = {LSTMKernel: 4, LayerNormLSTMKernel: 4, GRUKernel: 3, LayerNormGRUKernel: 3,
             RNNKernel: 1}[type(kernel)]
    shapes = {
        LSTMKernel: [(gates * hidden, hidden)] + ([(hidden,)] * 3 if getattr(
            kernel, "peephole", False) else []),
        GRUKernel: [(gates * hidden, hidden)] + ([(hidden,)] if getattr(
            kernel, "reset_after", False) else []),
        RNNKernel: [(hidden, hidden)],
        LayerNormLSTMKernel: [(4 * hidden, hidden), (4 * hidden,), (4 * hidden,), (hidden,),
                              (hidden,)],
        LayerNormGRUKernel: [(3 * hidden, hidden), (3 * hidden,), (3 * hidden,), (hidden,)],
    }[type(kernel)]
    leaf = lambda *shape: torch.randn(*shape, dtype=dtype).requires_grad_()  # noqa: E731
    xproj = leaf(time, batch, gates * hidden)
    state = tuple(leaf(batch, hidden) for _ in range(kernel.state_count))
    params = tuple(leaf(*shape) for shape in shapes)
    return xproj, state, params


def outputs_and_grads(kernel, inputs, mask, batch_sizes):
    xproj, state, params = inputs
    output, final = scan(kernel, xproj, state, params, mask, batch_sizes)
    torch.manual_seed(9)
    # Loss weights drawn in float64 whatever the dtype, so float32 and float64 runs match.
    loss = sum((t * torch.randn(t.shape, dtype=torch.float64).to(t.dtype)).sum()
               for t in (output, *final))
    grads = torch.autograd.grad(loss, [xproj, *state, *params])
    return (output, *final), grads


KERNELS = [LSTMKernel(False), LSTMKernel(True), GRUKernel(True), GRUKernel(False),
           RNNKernel("tanh"), RNNKernel("relu"), LayerNormLSTMKernel(), LayerNormGRUKernel()]


def kernel_id(kernel):
    return repr(kernel)


@needs_native
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
@pytest.mark.parametrize("kernel", KERNELS, ids=kernel_id)
def test_cpp_kernel_equals_torch_operator_kernel(kernel, ragged, masked):
    inputs = kernel_inputs(kernel)
    mask = torch.bernoulli(torch.full((BATCH, HIDDEN), 0.6, dtype=torch.float64)) / 0.6 \
        if masked else None
    batch_sizes = RAGGED if ragged else None
    native = native_kernel(kernel)
    assert type(native) is not type(kernel)
    values_ops, grads_ops = outputs_and_grads(kernel, inputs, mask, batch_sizes)
    values_cpp, grads_cpp = outputs_and_grads(native, inputs, mask, batch_sizes)
    for a, b in zip((*values_ops, *grads_ops), (*values_cpp, *grads_cpp), strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@needs_native
@pytest.mark.parametrize("kernel", KERNELS, ids=kernel_id)
def test_cpp_kernel_equals_torch_operator_kernel_over_a_long_ragged_sequence(kernel):
    """70 steps of 4 rows: the C++ backward folds dW_hh 64 steps at a time at this batch,
    so the fold runs twice, once over a partial chunk, with rows finishing inside each."""
    time = 70
    inputs = kernel_inputs(kernel, time=time)
    batch_sizes = [4] * 20 + [3] * 30 + [2] * 15 + [1] * 5
    mask = torch.bernoulli(torch.full((BATCH, HIDDEN), 0.6, dtype=torch.float64)) / 0.6
    values_ops, grads_ops = outputs_and_grads(kernel, inputs, mask, batch_sizes)
    values_cpp, grads_cpp = outputs_and_grads(native_kernel(kernel), inputs, mask, batch_sizes)
    for a, b in zip((*values_ops, *grads_ops), (*values_cpp, *grads_cpp), strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)


@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
@pytest.mark.parametrize("kernel", KERNELS, ids=kernel_id)
def test_torch_operator_kernels_pass_gradcheck(kernel, ragged):
    xproj, state, params = kernel_inputs(kernel, hidden=2, batch=BATCH)
    mask = torch.tensor([[1.5, 0.0], [0.0, 1.5], [1.5, 1.5], [1.5, 0.0]], dtype=torch.float64)
    batch_sizes = RAGGED if ragged else None

    def run(xproj, *tensors):
        count = kernel.state_count
        output, final = scan(kernel, xproj, tensors[:count], tensors[count:], mask,
                             batch_sizes)
        return (output, *final)

    assert torch.autograd.gradcheck(run, (xproj, *state, *params))


@needs_native
@pytest.mark.parametrize("kernel", KERNELS, ids=kernel_id)
def test_cpp_kernels_pass_gradcheck(kernel):
    xproj, state, params = kernel_inputs(kernel, hidden=2)
    native = native_kernel(kernel)

    def run(xproj, *tensors):
        count = native.state_count
        output, final = scan(native, xproj, tensors[:count], tensors[count:], None, RAGGED)
        return (output, *final)

    assert torch.autograd.gradcheck(run, (xproj, *state, *params))


@needs_native
@pytest.mark.parametrize("kernel", KERNELS, ids=kernel_id)
def test_cpp_float32_with_a_large_weight_matches_float64(kernel):
    """Hidden 512 crosses the size where the C++ kernels switch to oneDNN's packed weights."""
    hidden, batch = 512, 6
    inputs64 = kernel_inputs(kernel, hidden=hidden, batch=batch)
    with torch.no_grad():
        for tensors in (inputs64[1], inputs64[2]):
            for t in tensors:
                t.mul_(0.05)
    inputs32 = tuple(
        x.detach().float().requires_grad_() if isinstance(x, torch.Tensor)
        else tuple(t.detach().float().requires_grad_() for t in x)
        for x in inputs64)
    batch_sizes = [6, 6, 5, 3, 1]
    values64, grads64 = outputs_and_grads(kernel, inputs64, None, batch_sizes)
    values32, grads32 = outputs_and_grads(native_kernel(kernel), inputs32, None, batch_sizes)
    for a, b in zip((*values32, *grads32), (*values64, *grads64), strict=True):
        torch.testing.assert_close(a.double(), b, atol=2e-4, rtol=2e-4)


def test_without_the_cpp_kernels_layers_fall_back_to_torch_operators():
    code = ("import rnnkit, torch; layer = rnnkit.LSTM(3, 4, peephole=True); "
            "layer(torch.randn(2, 1, 3)); print(layer.backend); print(rnnkit.explain(layer))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "RNNKIT_NATIVE": "0"}, check=True)
    backend, explanation = result.stdout.splitlines()
    assert backend == "rnnkit-scan"
    assert "RNNKIT_NATIVE=0" in explanation
