"""The environment of a child process (torchrun, ``python -m rnnkit``) in a test.

A child must import the rnnkit under test, not whichever one the interpreter would find on
its own: run from a git worktree with ``PYTHONPATH=src`` (a relative path) and a virtual
environment whose editable install points at another checkout, a child started in a
temporary folder would otherwise import that other checkout and test its code instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import rnnkit


def child_environment(**extra: str) -> dict[str, str]:
    """``os.environ`` with the tested rnnkit first on ``PYTHONPATH``, one thread, ``extra``."""
    source = str(Path(rnnkit.__file__).resolve().parents[1])
    inherited = os.environ.get("PYTHONPATH")
    path = source if not inherited else source + os.pathsep + inherited
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", **extra}
