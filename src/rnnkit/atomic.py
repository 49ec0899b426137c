"""Write files so that a reader sees the old content or the new, never half of either.

Every file rnnkit saves (checkpoints, vocabularies, cached data, logs it finishes) goes
through here: the bytes go to a temporary file in the same folder, are flushed and fsynced,
and the temporary file is renamed over the target. A rename within one file system is atomic
on POSIX and Windows, so an interrupted save leaves the previous file untouched.

A process killed mid-write leaves its temporary file, ``.<name>.<8 random hex>.tmp``
(:data:`TEMPORARY_NAME`); the next run that claims the folder deletes it
(:mod:`rnnkit.training.run_folder`). Files get the mode the umask allows (``0644`` under
umask 022), like any file the user creates: ``tempfile.mkstemp`` would make them ``0600``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

# Hex names, and the [a-z0-9_] of mkstemp that earlier versions used.
TEMPORARY_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically; creates missing parent folders.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a" / "b.bin"
    >>> atomic_write_bytes(target, b"hello").read_bytes()
    b'hello'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = _create_temporary(target)
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


def _create_temporary(target: Path) -> tuple[int, Path]:
    """A new file next to ``target``, open for writing, named ``.<name>.<hex>.tmp``.

    ``os.open`` with mode 0o666 lets the kernel apply the umask, which ``mkstemp`` (0600)
    would not; ``O_EXCL`` makes the name ours alone, and a clash draws another name.
    """
    while True:
        temporary = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(temporary, _CREATE_FLAGS, 0o666), temporary
        except FileExistsError:
            continue


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Replace ``path`` with ``text`` encoded as UTF-8, atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, document: Any) -> Path:
    """Replace ``path`` with ``document`` as indented JSON (no NaN or infinity), atomically."""
    return atomic_write_text(path, json.dumps(document, indent=2, allow_nan=False) + "\n")
