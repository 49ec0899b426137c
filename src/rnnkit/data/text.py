"""Reading a user's text file and splitting a text into training and validation parts."""

from __future__ import annotations

import os
from pathlib import Path


def read_utf8(path: str | os.PathLike, what: str = "text file") -> str:
    """The whole file as text; a missing, unreadable or non-UTF-8 file is named in the
    error with ``what`` it is (``CSV file``, ``config file``) and what was wrong."""
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"{what} {str(file)!r} does not exist")
    if not file.is_file():
        raise ValueError(f"{what} {str(file)!r} is not a regular file")
    try:
        data = file.read_bytes()
    except OSError as error:
        raise ValueError(f"{what} {str(file)!r} cannot be read: {error.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{what} {str(file)!r} is not UTF-8: byte {data[error.start]:#04x} at offset "
            f"{error.start} does not decode"
        ) from None


def load_text_file(path: str | os.PathLike) -> str:
    """The whole file as text, with clear errors for a missing, empty or non-UTF-8 file."""
    file = Path(path)
    text = read_utf8(file)
    if not text.strip():
        raise ValueError(f"text file {str(file)!r} is empty (it holds no text to train on)")
    return text


def split_text(text: str, valid_fraction: float = 0.1) -> dict[str, str]:
    """The first ``1 - valid_fraction`` of the text for training, the rest for validation.

    The split is by position, not at random, so that no validation sentence also sits in
    the training text (the convention of char-rnn and nanoGPT).

    >>> split_text("abcdefghij", 0.2)
    {'train': 'abcdefgh', 'valid': 'ij'}
    """
    if not 0 < valid_fraction < 1:
        raise ValueError(f"expected valid_fraction in (0, 1), got {valid_fraction}")
    cut = round(len(text) * (1 - valid_fraction))
    if cut < 2 or len(text) - cut < 2:
        raise ValueError(
            f"a text of {len(text)} characters is too short to split with valid_fraction "
            f"{valid_fraction}: each part needs at least 2 characters"
        )
    return {"train": text[:cut], "valid": text[cut:]}
