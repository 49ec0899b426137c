"""The cross-task tests (every task resumes, every task on two processes) reuse the tiny runs
each task's own tests define (``tiny_config``, made-up data): this puts those tests' folders
on the import path. pytest would put each there only once it had collected it, and the
two-process worker runs outside pytest."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
FOLDERS = (*(TESTS / "tasks" / task for task in ("classify", "tag", "forecast", "seq2seq",
                                                 "long_range")),
           TESTS / "training")


def add_task_test_folders() -> None:
    """Make ``import test_classification`` (and the others) work from anywhere."""
    for folder in map(str, FOLDERS):
        if folder not in sys.path:
            sys.path.insert(0, folder)
