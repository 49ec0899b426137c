"""Flushing denormal floats in every thread that runs torch's CPU work (the extension's
``flush_denormals``), against ``torch.set_flush_denormal``, which reaches the calling
thread only.

A float32 denormal times one stays denormal unless the thread computing it flushes; a
million-element product is split between both intra-op threads, so every element is a
witness for the thread that computed it.
"""

import platform
from collections.abc import Iterator

import pytest
import torch
from test_kernels import needs_native

from rnnkit.engine.native import OPENMP_FLAGS, native_extension

DENORMAL = 1e-39  # float32's smallest normal is 1.18e-38
x86 = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64", "i386", "i686"),
                         reason="MXCSR flushing is x86's; the extension reports -1 elsewhere")


@pytest.fixture
def flushing_cleared() -> Iterator[None]:
    """No thread flushes denormals after the test, whatever it set."""
    try:
        yield
    finally:
        native_extension().flush_denormals(False)
        torch.set_flush_denormal(False)


def denormals() -> torch.Tensor:
    """A million denormals, made while no thread flushes (made later, they would be 0)."""
    values = torch.full((1 << 20,), DENORMAL)
    assert torch.count_nonzero(values) == 1 << 20
    return values


@needs_native
@x86
@pytest.mark.skipif(not OPENMP_FLAGS, reason="the kernels are built without OpenMP here: "
                    "their parallel loops run on the calling thread only")
@pytest.mark.usefixtures("two_threads", "flushing_cleared")
def test_flushing_reaches_every_intra_op_thread() -> None:
    extension = native_extension()
    assert extension.denormal_flushing_threads() == 0
    values = denormals()
    assert extension.flush_denormals(True) == 2
    assert extension.denormal_flushing_threads() == 2
    assert torch.count_nonzero(values * 1.0) == 0  # both threads' halves flushed
    assert extension.flush_denormals(False) == 0
    assert extension.denormal_flushing_threads() == 0
    assert torch.count_nonzero(values * 1.0) == 1 << 20


@needs_native
@x86
@pytest.mark.skipif(not OPENMP_FLAGS, reason="the kernels are built without OpenMP here")
@pytest.mark.usefixtures("two_threads", "flushing_cleared")
def test_torchs_own_switch_leaves_the_other_intra_op_thread_on_denormals() -> None:
    """Why the extension's helper exists: torch's switch flushes one thread of two."""
    values = denormals()
    assert torch.set_flush_denormal(True)
    assert native_extension().denormal_flushing_threads() == 1
    kept = torch.count_nonzero(values * 1.0)
    assert 0 < kept < 1 << 20
