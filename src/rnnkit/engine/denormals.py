"""Denormal floats flushed to zero while a run trains, and a record of how they were treated.

A vanishing recurrence (a tanh RNN, a GRU over hundreds of steps) fills its backward pass
with float32 denormals, each of which can cost a core a microcode assist: on an Intel Xeon
the tanh RNN's adding-problem step ran 6-10x faster with them flushed, on an AMD EPYC,
which pays little for them, 1.0-1.2x (docs/long-range.md). Flushing
sets flush-to-zero and denormals-are-zero in the thread's MXCSR; each of torch's intra-op
threads keeps its own, and ``torch.set_flush_denormal`` reaches only the calling one. The
C++ extension's ``flush_denormals`` reaches every intra-op thread; where the extension does
not run, torch's switch is the fallback. TensorFlow flushes in its own threads for the
same reason; a flushed value is one below float32's smallest normal, 1.18e-38.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from rnnkit.engine.native import native_extension, native_unavailable_reason

log = logging.getLogger(__name__)

CPU = torch.device("cpu")
DENORMAL = 1e-39  # below float32's smallest normal: flushed to 0 by a thread that flushes

#: How a run treated denormal floats (``run_environment``'s ``denormals``).
KEPT = "kept"
FLUSHED_EVERY_THREAD = "flushed in every thread"
FLUSHED_CALLING_THREAD = "flushed in the calling thread"


@contextmanager
def flushed_denormals(enabled: bool = True) -> Iterator[None]:
    """Flush denormal floats to zero in every thread of torch's CPU work inside the block.

    Not ``enabled``: nothing changes. On leaving, the threads treat denormals as they did
    before (kept, or flushed by the caller's own ``torch.set_flush_denormal``), so blocks
    nest. Where the C++ extension does not run (no compiler, ``RNNKIT_NATIVE=0``), torch's
    switch flushes the calling thread alone, which is all of it at one thread.
    """
    before = denormal_handling()
    if not enabled or before == FLUSHED_EVERY_THREAD:
        yield
        return
    every_thread = native_unavailable_reason(CPU) is None and (
        native_extension().flush_denormals(True) >= 0)  # -1: a CPU without x86's MXCSR
    if not every_thread and not torch.set_flush_denormal(True):
        log.debug("this CPU cannot flush denormals (torch.set_flush_denormal refused)")
    try:
        yield
    finally:
        _restore(before)


def _restore(before: str) -> None:
    """Denormals treated as ``before`` said (a partial flush comes back as torch's switch)."""
    if native_unavailable_reason(CPU) is None:
        native_extension().flush_denormals(False)
    torch.set_flush_denormal(before != KEPT)


def denormal_handling() -> str:
    """How torch's CPU threads treat denormals now: :data:`KEPT`,
    :data:`FLUSHED_EVERY_THREAD` or ``"flushed in k of n threads"`` (torch's switch at
    several threads: ``k`` is 1), each intra-op thread reporting its own MXCSR through the
    C++ extension. Without it, a denormal times one on the calling thread is the witness:
    :data:`KEPT` or :data:`FLUSHED_CALLING_THREAD`.
    """
    if native_unavailable_reason(CPU) is None:
        flushing = native_extension().denormal_flushing_threads()
        if flushing >= 0:  # -1: a CPU without MXCSR, read the witness instead
            return _thread_count_description(flushing, torch.get_num_threads())
    return FLUSHED_CALLING_THREAD if _calling_thread_flushes() else KEPT


def _thread_count_description(flushing: int, threads: int) -> str:
    if flushing == 0:  # the calling thread is thread 0 of every parallel region
        return KEPT
    if flushing >= threads:
        return FLUSHED_EVERY_THREAD
    return f"flushed in {flushing} of {threads} threads"


def _calling_thread_flushes() -> bool:
    # one element: computed on the calling thread, never split among the intra-op threads
    return float(torch.tensor(DENORMAL) * 1.0) == 0.0
