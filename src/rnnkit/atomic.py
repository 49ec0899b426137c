"""Write files so that a reader sees the old content or the new, never half of either.

Every file rnnkit saves (checkpoints, vocabularies, cached data, logs it finishes) goes
through here: the bytes go to a temporary file in the same folder, are flushed and fsynced,
and the temporary file is renamed over the target. A rename within one file system is atomic
on POSIX and Windows, so an interrupted save leaves the previous file untouched.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically; creates missing parent folders.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a" / "b.bin"
    >>> atomic_write_bytes(target, b"hello").read_bytes()
    b'hello'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                         dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Replace ``path`` with ``text`` encoded as UTF-8, atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, document: Any) -> Path:
    """Replace ``path`` with ``document`` as indented JSON (no NaN or infinity), atomically."""
    return atomic_write_text(path, json.dumps(document, indent=2, allow_nan=False) + "\n")
