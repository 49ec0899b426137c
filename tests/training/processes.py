"""The environment of a child process (torchrun, ``python -m rnnkit``) in a test.

A child must import the rnnkit under test, not whichever one the interpreter would find on
its own: run from a git worktree with ``PYTHONPATH=src`` (a relative path) and a virtual
environment whose editable install points at another checkout, a child started in a
temporary folder would otherwise import that other checkout and test its code instead.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import rnnkit


def child_environment(**extra: str) -> dict[str, str]:
    """``os.environ`` with the tested rnnkit first on ``PYTHONPATH``, one thread, ``extra``;
    a child killed by a signal prints every thread's Python stack (``faulthandler``), so
    that a rare abort says where it happened."""
    source = str(Path(rnnkit.__file__).resolve().parents[1])
    inherited = os.environ.get("PYTHONPATH")
    path = source if not inherited else source + os.pathsep + inherited
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1",
            "PYTHONFAULTHANDLER": "1", **extra}


def failure_output(result: subprocess.CompletedProcess, limit: int = 6000) -> str:
    """A failed child's stderr for an assertion message: all of it when short, else its
    first and last ``limit // 2`` characters (under torchrun the failing rank's own lines
    come first and torchrun's report of it last)."""
    if len(result.stderr) <= limit:
        return result.stderr
    half = limit // 2
    return f"{result.stderr[:half]}\n[...]\n{result.stderr[-half:]}"
