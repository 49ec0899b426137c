"""Fixtures of the training tests that plan by the size of their text."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Characters of :func:`quote_text`: split 90/10 by position, 18,000 training characters.
QUOTE_CHARS = 20_000


@pytest.fixture
def quote_text(tmp_path: Path) -> Path:
    """A text file of exactly :data:`QUOTE_CHARS` characters (a line of Hamlet repeated),
    so that the passes a run's steps make over it are known."""
    path = tmp_path / "text.txt"
    words = ("to be or not to be that is the question whether tis nobler in the mind "
             "to suffer the slings and arrows of outrageous fortune\n")
    path.write_text((words * (QUOTE_CHARS // len(words) + 1))[:QUOTE_CHARS])
    return path
