"""The C++ kernels' row loops on torch's intra-op threads.

The other kernel tests run at one thread (tests/conftest.py), where a parallel loop and a
serial one cannot be told apart. Here the extension reports how many threads its row loop
ran on, and every kernel runs at two threads on a batch large enough to be split between
them, against the torch-operator kernels (per-thread accumulators and row chunks included).
"""

import pytest
import torch
from test_kernels import KERNELS, kernel_id, kernel_inputs, needs_native, outputs_and_grads
from test_linear_scan import coefficients, torch_recurrence

from rnnkit.engine.linear_scan import linear_scan
from rnnkit.engine.native import OPENMP_FLAGS, native_extension, native_kernel

#: 4 x 64 gate columns: the row loops split 160 rows into chunks of 64 at most, and the
#: linear scan's 160 x 64 lanes into chunks of 2,048.
TIME, BATCH, HIDDEN = 4, 160, 64


@needs_native
@pytest.mark.skipif(not OPENMP_FLAGS, reason="the kernels are built without OpenMP here "
                    "(not Linux, or torch without OpenMP): their row loops are serial")
@pytest.mark.usefixtures("two_threads")
def test_the_row_loop_runs_on_every_intra_op_thread_given_enough_rows():
    extension = native_extension()
    assert extension.for_rows_threads(BATCH, 4 * HIDDEN) == 2
    assert extension.for_rows_threads(1, 4 * HIDDEN) == 1  # one row is not worth a thread
    torch.set_num_threads(1)
    assert extension.for_rows_threads(BATCH, 4 * HIDDEN) == 1


@needs_native
@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
@pytest.mark.parametrize("kernel", KERNELS, ids=kernel_id)
def test_cpp_kernel_at_two_threads_equals_torch_operator_kernel(kernel, ragged):
    inputs = kernel_inputs(kernel, hidden=HIDDEN, batch=BATCH, time=TIME)
    mask = torch.bernoulli(torch.full((BATCH, HIDDEN), 0.6, dtype=torch.float64)) / 0.6
    batch_sizes = [BATCH, BATCH - 7, BATCH // 2, 3] if ragged else None
    values_ops, grads_ops = outputs_and_grads(kernel, inputs, mask, batch_sizes)
    values_cpp, grads_cpp = outputs_and_grads(native_kernel(kernel), inputs, mask, batch_sizes)
    for a, b in zip((*values_ops, *grads_ops), (*values_cpp, *grads_cpp), strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@needs_native
@pytest.mark.usefixtures("two_threads")
def test_cpp_linear_scan_at_two_threads_equals_the_recurrence_and_its_gradients():
    leaves = [t.requires_grad_() for t in coefficients(TIME, BATCH, HIDDEN, seed=6)]
    weights = torch.randn(TIME, BATCH, HIDDEN, dtype=torch.float64)
    states = linear_scan(*leaves, native=True)
    (states * weights).sum().backward()
    scanned = [leaf.grad.clone() for leaf in leaves]
    for leaf in leaves:
        leaf.grad = None
    expected = torch_recurrence(*leaves)
    (expected * weights).sum().backward()
    torch.testing.assert_close(states, expected, rtol=1e-10, atol=1e-12)
    for name, got, leaf in zip(("log_a", "b", "h_0"), scanned, leaves, strict=True):
        torch.testing.assert_close(got, leaf.grad, rtol=1e-10, atol=1e-12, msg=name)
