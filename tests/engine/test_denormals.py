"""Flushing denormal floats in every thread that runs torch's CPU work (the extension's
``flush_denormals``, and the block the trainer wraps a run in), against
``torch.set_flush_denormal``, which reaches the calling thread only.

A float32 denormal times one stays denormal unless the thread computing it flushes; a
million-element product is split between both intra-op threads, so every element is a
witness for the thread that computed it.
"""

import os
import platform
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
import torch
from test_kernels import needs_native

from rnnkit.engine.denormals import (
    FLUSHED_CALLING_THREAD,
    FLUSHED_EVERY_THREAD,
    KEPT,
    denormal_handling,
    flushed_denormals,
)
from rnnkit.engine.native import OPENMP_FLAGS, native_extension

DENORMAL = 1e-39  # float32's smallest normal is 1.18e-38
x86 = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64", "i386", "i686"),
                         reason="MXCSR flushing is x86's; the extension reports -1 elsewhere")


def on_two_flushable_threads(test: Callable) -> Callable:
    """``test`` at two intra-op threads, each able to flush (the built extension, x86's
    MXCSR, kernels built with OpenMP), no thread flushing after it."""
    openmp = pytest.mark.skipif(not OPENMP_FLAGS, reason="the kernels are built without "
                                "OpenMP here: their parallel loops run on the calling "
                                "thread only")
    fixtures = pytest.mark.usefixtures("two_threads", "flushing_cleared")
    return needs_native(x86(openmp(fixtures(test))))


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


@on_two_flushable_threads
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


@on_two_flushable_threads
def test_torchs_own_switch_leaves_the_other_intra_op_thread_on_denormals() -> None:
    """Why the extension's helper exists: torch's switch flushes one thread of two."""
    values = denormals()
    assert torch.set_flush_denormal(True)
    assert native_extension().denormal_flushing_threads() == 1
    kept = torch.count_nonzero(values * 1.0)
    assert 0 < kept < 1 << 20


def flushed_count(values: torch.Tensor) -> int:
    """How many of ``values`` (denormals) come out of a product as zero: what flushing does."""
    return (1 << 20) - int(torch.count_nonzero(values * 1.0))


@on_two_flushable_threads
def test_the_block_flushes_in_every_thread_and_keeps_denormals_after() -> None:
    values = denormals()
    assert denormal_handling() == KEPT
    with flushed_denormals():
        assert denormal_handling() == FLUSHED_EVERY_THREAD
        assert flushed_count(values) == 1 << 20
        with flushed_denormals():  # an inner block leaves the outer one's flushing on
            pass
        assert denormal_handling() == FLUSHED_EVERY_THREAD
    assert denormal_handling() == KEPT
    assert flushed_count(values) == 0


@on_two_flushable_threads
def test_the_block_gives_back_the_callers_own_switch_and_keeps_it_after_an_error() -> None:
    assert torch.set_flush_denormal(True)
    assert denormal_handling() == "flushed in 1 of 2 threads"
    with pytest.raises(KeyError), flushed_denormals():
        assert denormal_handling() == FLUSHED_EVERY_THREAD
        raise KeyError("a run that fails")
    assert denormal_handling() == "flushed in 1 of 2 threads"


@needs_native
@x86
@pytest.mark.usefixtures("two_threads", "flushing_cleared")
def test_a_block_not_enabled_changes_nothing() -> None:
    values = denormals()
    with flushed_denormals(enabled=False):
        assert denormal_handling() == KEPT
        assert flushed_count(values) == 0


@x86
def test_without_the_extension_torchs_switch_flushes_the_calling_thread() -> None:
    """RNNKIT_NATIVE=0 (or no compiler): the fallback, read through the calling thread's
    witness, in a process of its own (the extension's choice is made once per process)."""
    code = ("import torch\n"
            "from rnnkit.engine.denormals import denormal_handling, flushed_denormals\n"
            "values = torch.full((4,), 1e-39)\n"
            "before = denormal_handling()\n"
            "with flushed_denormals():\n"
            "    inside, zeros = denormal_handling(), int((values * 1.0 == 0).sum())\n"
            "print(before, '|', inside, '|', zeros, '|', denormal_handling())\n")
    environment = {key: value for key, value in os.environ.items() if key != "CI"}
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**environment, "RNNKIT_NATIVE": "0"}, timeout=300,
                             check=True).stdout.strip()
    assert printed == f"{KEPT} | {FLUSHED_CALLING_THREAD} | 4 | {KEPT}"
