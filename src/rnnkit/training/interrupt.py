"""Ctrl-C during training: finish the step, save ``latest``, then stop.

A ``KeyboardInterrupt`` raised in the middle of a step would leave the weights updated and
the step counter not, so saving there would not resume exactly. While training, the first
SIGINT only asks the loop to stop at the next step boundary (where it saves ``latest`` and
raises :class:`TrainingInterrupted`); a second SIGINT raises ``KeyboardInterrupt`` at once.
That may land inside the save, which is atomic (:mod:`rnnkit.training.checkpoint`): the
previous ``latest`` stays whole.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType

log = logging.getLogger(__name__)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C after saving ``latest``; the message says where."""


class InterruptRequest:
    """Whether Ctrl-C was pressed since the loop started listening."""

    def __init__(self) -> None:
        self.requested = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """SIGINT handler: the first asks to stop, the second leaves at once."""
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("Ctrl-C: stopping after this step and saving latest (Ctrl-C again to "
                    "leave without saving)")


@contextlib.contextmanager
def deferred_interrupt(enabled: bool = True) -> Iterator[InterruptRequest]:
    """Listen for SIGINT as :class:`InterruptRequest` inside the block.

    Not ``enabled`` (several ranks, which could not agree on the step to stop at) or off the
    main thread (where no signal handler can be set), Ctrl-C raises as usual and the request
    is never set.
    """
    request = InterruptRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = signal.signal(signal.SIGINT, request.handle)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)
