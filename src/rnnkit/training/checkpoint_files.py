"""Reading a checkpoint's files as untrusted input: confined, capped, checked before use.

A checkpoint may come from a stranger, so every file a load reads is

* opened only where it resolves inside the checkpoint directory: a symlink that leads out
  of it (to ``/dev/zero``, to ``~/.ssh``) is refused, one inside it is followed;
* read only when it is a regular file: not a device, a FIFO (whose open would block) or a
  folder;
* read with a cap: a JSON document past its limit is refused before it is read, and a
  safetensors file's header is read and checked first (dtypes, shapes, and offsets that
  tile the rest of the file exactly), so its declared sizes are what the file holds.

Limits, and why they are generous: Penn Treebank's 10k-word vocabulary is 130 KB of JSON,
a model of 16 GiB is far past anything this toolkit trains.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import Tensor

KIB, MIB, GIB = 1024, 1024**2, 1024**3
POINTER_LIMIT = 64 * KIB  # <tag>.json: four short fields
CONFIG_LIMIT = 1 * MIB  # config.json: a few dataclasses' fields (about 2 KB)
DOCUMENT_LIMIT = 16 * MIB  # vocab.json (a forecast keeps its series there), trainer.json
HEADER_LIMIT = 16 * MIB  # a safetensors header: about 100 bytes a tensor
TENSOR_LIMIT = 16 * GIB  # the tensor data of one safetensors file

# Bytes per element of each safetensors dtype; a dtype missing here is refused.
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E4M3FNUZ": 1, "F8_E5M2": 1,
                "F8_E5M2FNUZ": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4,
                "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8}
_METADATA = "__metadata__"
# O_NOFOLLOW: the path was resolved just before, so a link found now was swapped in since;
# O_NONBLOCK: opening a FIFO would otherwise wait for a writer before fstat can refuse it.
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_BINARY", 0))

Shapes = dict[str, tuple[int, ...]]


class CheckpointError(ValueError):
    """A checkpoint cannot be loaded; the message names the path and the problem."""


# --- opening -----------------------------------------------------------------------------
@contextmanager
def open_confined(path: Path, root: Path) -> Iterator[tuple[BinaryIO, int]]:
    """``(file, size)`` of the regular file ``path``, once it resolves inside ``root``."""
    real = Path(os.path.realpath(path))
    base = Path(os.path.realpath(root))
    if base not in real.parents:
        raise CheckpointError(f"{path} leads to {real}, outside the checkpoint directory "
                              f"{root}: a checkpoint's files must lie inside it")
    try:
        descriptor = os.open(real, _OPEN_FLAGS)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file {path} is missing") from None
    except OSError as error:
        raise CheckpointError(f"cannot read checkpoint file {path}: {error.strerror}") from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise CheckpointError(f"checkpoint file {path} is {_kind(status.st_mode)}, not a "
                              f"regular file: refusing to read it")
    os.set_blocking(descriptor, True)
    with os.fdopen(descriptor, "rb") as file:
        yield file, status.st_size


def _kind(mode: int) -> str:
    kinds = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket")]
    return next((name for test, name in kinds if test(mode)), "not a plain file")


def read_capped(path: Path, root: Path, limit: int) -> bytes:
    """The bytes of ``path`` (confined to ``root``), refused when more than ``limit``."""
    with open_confined(path, root) as (file, size):
        if size > limit:
            raise _too_large(path, size, limit)
        data = file.read(limit + 1)  # a file that grows while read is caught too
    if len(data) > limit:
        raise _too_large(path, len(data), limit)
    return data


def _too_large(path: Path, size: int, limit: int) -> CheckpointError:
    return CheckpointError(f"checkpoint file {path} holds {size:,} bytes or more, past the "
                           f"limit of {size_text(limit)} for this file: refusing to read it")


def size_text(size: int) -> str:
    """``16 GiB``, ``64 KiB``, ``512 bytes``: a limit as people read it."""
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if size >= unit:
            return f"{size / unit:g} {name}"
    return f"{size} bytes"


# --- JSON --------------------------------------------------------------------------------
def read_json(path: Path, root: Path, limit: int) -> Any:
    """The strict JSON document in ``path`` (no NaN or Infinity), read with a cap."""
    return parse_json(read_capped(path, root, limit), path)


def parse_json(data: bytes, path: Path) -> Any:
    """``data`` as strict JSON; errors name ``path`` with the line and column."""
    try:
        return _strict_json(data)
    except ValueError as error:
        raise CheckpointError(f"{path} is not {error}") from None


def _strict_json(data: bytes) -> Any:
    """``data`` as strict JSON, or a ``ValueError`` saying what it is not."""
    text = data.decode("utf-8", errors="replace")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise ValueError(f"valid JSON: {error.msg} at line {error.lineno} column "
                         f"{error.colno}") from None
    except RecursionError:
        raise ValueError("readable JSON: nested too deeply") from None
    except ValueError as error:
        raise ValueError(f"strict JSON: {error}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (non-finite numbers are written as "
                     f"{{\"__float__\": \"inf\"}})")


# --- safetensors -------------------------------------------------------------------------
def read_tensors(path: Path, root: Path, device: torch.device,
                 check: Callable[[Shapes], None] | None = None) -> dict[str, Tensor]:
    """The tensors of the safetensors file ``path``, its header checked first.

    ``check`` receives ``{name: shape}`` from the header before any tensor data is read
    (a caller compares them with the model it will build, and raises to stop the load).
    """
    with open_confined(path, root) as (file, size):
        shapes = _read_header(file, size, path)
        if check is not None:
            check(shapes)
        file.seek(0)
        data = file.read(size)  # the header showed these bytes are exactly its tensors
    if len(data) != size:
        raise unreadable(path, f"it shrank from {size} to {len(data)} bytes while read")
    try:
        tensors = safetensors.torch.load(data)
    except SafetensorError as error:
        raise unreadable(path, str(error)) from None
    except KeyError as error:  # a header dtype safetensors.torch has no torch type for
        raise unreadable(path, f"unsupported dtype {error}") from None
    if device.type == "cpu":
        return tensors
    return {name: tensor.to(device) for name, tensor in tensors.items()}


def unreadable(path: Path, problem: str) -> CheckpointError:
    """The error for a safetensors file that is not one, or one that lies."""
    return CheckpointError(f"{path} is not a readable safetensors file (corrupt or "
                           f"truncated?): {problem}")


def _read_header(file: BinaryIO, size: int, path: Path) -> Shapes:
    """``{name: shape}`` from the header, once its entries account for every byte."""
    prefix = file.read(8)
    if len(prefix) < 8:
        raise unreadable(path, f"{size} bytes, shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", prefix)
    if length > min(HEADER_LIMIT, size - 8):
        raise unreadable(path, f"header length {length:,} is past the file's {size:,} bytes "
                               f"or the limit of {size_text(HEADER_LIMIT)}")
    try:
        header = _strict_json(file.read(length))
    except ValueError as error:
        raise unreadable(path, f"its header is not {error}") from None
    if not isinstance(header, dict):
        raise unreadable(path, "its header is not a JSON object")
    entries = {name: _entry(name, entry, path) for name, entry in header.items()
               if name != _METADATA}
    _check_tiling(entries, size - 8 - length, path)
    return {name: shape for name, (shape, _) in entries.items()}


def _entry(name: str, entry: Any, path: Path) -> tuple[tuple[int, ...], tuple[int, int]]:
    """``(shape, (begin, end))`` of one header entry whose span fits its dtype and shape."""
    if not isinstance(entry, dict) or entry.get("dtype") not in _DTYPE_BYTES:
        dtype = entry.get("dtype") if isinstance(entry, dict) else entry
        raise unreadable(path, f"tensor {name!r} has unsupported dtype {dtype!r}")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not _int_list(shape) or not _int_list(offsets) or len(offsets) != 2:
        raise unreadable(path, f"tensor {name!r} needs a shape and two data_offsets of "
                               f"non-negative integers, got {shape!r} and {offsets!r}")
    declared = math.prod(shape) * _DTYPE_BYTES[entry["dtype"]]
    if offsets[1] - offsets[0] != declared:
        raise unreadable(path, f"tensor {name!r} of shape {tuple(shape)} and dtype "
                               f"{entry['dtype']} takes {declared:,} bytes but its "
                               f"data_offsets {offsets} span {offsets[1] - offsets[0]:,}")
    return tuple(shape), (offsets[0], offsets[1])


def _int_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, int) and not isinstance(item, bool) and item >= 0 for item in value)


def _check_tiling(entries: dict[str, tuple[tuple[int, ...], tuple[int, int]]], data_size: int,
                  path: Path) -> None:
    """The tensors' spans follow each other from 0 to the end of the file, no gap or overlap."""
    end = 0
    for name, (_, (begin, stop)) in sorted(entries.items(), key=lambda item: item[1][1]):
        if begin != end:
            raise unreadable(path, f"tensor {name!r} starts at byte {begin:,} of the data, "
                                   f"expected {end:,} (a gap or an overlap)")
        end = stop
    if end != data_size:
        raise unreadable(path, f"its header declares {end:,} bytes of tensor data but the "
                               f"file holds {data_size:,}")
    if data_size > TENSOR_LIMIT:
        raise CheckpointError(f"{path} holds {data_size:,} bytes of tensors, past the limit "
                              f"of {size_text(TENSOR_LIMIT)}: refusing to read it")
