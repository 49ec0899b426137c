"""Checks on values that users hand to rnnkit.

Every error names the object that complained, what it expected and what it got, so a bad
call fails here rather than deep inside a torch kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def check_positive_int(owner: str, name: str, value: object) -> int:
    """Return ``value`` if it is an int >= 1, else raise naming ``owner`` and ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner} expected {name} to be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{owner} expected {name} to be at least 1, got {value}")
    return value


def check_choice(owner: str, name: str, value: object, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ``ValueError`` listing them."""
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{owner} expected {name} to be one of {listed}, got {value!r}")
    return value  # type: ignore[return-value]


def shape_text(tensor: Tensor) -> str:
    """``(4, 10, 31)`` for a tensor of that shape."""
    dims = ", ".join(str(d) for d in tensor.shape)
    return f"({dims},)" if tensor.dim() == 1 else f"({dims})"


def check_tensor(owner: str, name: str, value: object) -> Tensor:
    """Raise a ``TypeError`` unless ``value`` is a tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{owner} expected {name} to be a torch.Tensor, got {type(value).__name__}")
    return value


def check_input(
    owner: str,
    value: object,
    *,
    features: int,
    batched_dims: int,
    dtype: torch.dtype,
    device: torch.device,
) -> Tensor:
    """Check a sequence or step input: tensor, dimensions, feature size, dtype, device.

    ``batched_dims`` is 3 for a layer's ``(time, batch, features)`` input and 2 for a cell's
    ``(batch, features)``; one fewer dimension is the unbatched form torch.nn also accepts.
    """
    tensor = check_tensor(owner, "input", value)
    if tensor.dim() not in (batched_dims - 1, batched_dims):
        raise ValueError(
            f"{owner} expected input with {batched_dims - 1} (unbatched) or {batched_dims} "
            f"(batched) dimensions, got {tensor.dim()} dimensions with shape {shape_text(tensor)}"
        )
    if tensor.shape[-1] != features:
        raise ValueError(
            f"{owner} expected input with {features} features in its last dimension, "
            f"got shape {shape_text(tensor)}"
        )
    check_dtype_device(owner, "input", tensor, dtype, device)
    return tensor


def check_dtype_device(
    owner: str, name: str, tensor: Tensor, dtype: torch.dtype, device: torch.device
) -> None:
    """Raise unless ``tensor`` has the parameters' dtype and lives on their device."""
    if tensor.dtype != dtype:
        raise TypeError(
            f"{owner} expected {name} of dtype {dtype} (the dtype of its parameters), "
            f"got {tensor.dtype}"
        )
    if tensor.device.type != device.type or (
        device.index is not None and tensor.device.index not in (None, device.index)
    ):
        raise ValueError(
            f"{owner} expected {name} on device {device} (where its parameters are), "
            f"got {tensor.device}"
        )


def check_state(
    owner: str,
    name: str,
    value: object,
    expected: tuple[int, ...],
    dtype: torch.dtype,
    device: torch.device,
) -> Tensor:
    """Check one state tensor against its expected shape, dtype and device."""
    tensor = check_tensor(owner, name, value)
    if tuple(tensor.shape) != expected:
        want = ", ".join(str(d) for d in expected)
        want = f"({want},)" if len(expected) == 1 else f"({want})"
        raise ValueError(
            f"{owner} expected {name} of shape {want}, got shape {shape_text(tensor)}"
        )
    check_dtype_device(owner, name, tensor, dtype, device)
    return tensor


def check_lengths(owner: str, value: object, *, batch: int, time: int) -> Tensor:
    """Check per-sequence lengths and return them as a CPU ``int64`` tensor of shape (batch,).

    Accepts a 1-D integer tensor on any device or a sequence of ints.
    """
    if isinstance(value, (list, tuple)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise TypeError(f"{owner} expected lengths to hold integers, got {value!r}")
        value = torch.tensor(value, dtype=torch.int64)
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{owner} expected lengths to be a 1-D integer tensor, got {type(value).__name__}"
        )
    if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
        raise TypeError(f"{owner} expected lengths to hold integers, got dtype {value.dtype}")
    if value.dim() != 1:
        raise ValueError(
            f"{owner} expected lengths to be 1-D with one entry per sequence, "
            f"got shape {shape_text(value)}"
        )
    if value.numel() != batch:
        raise ValueError(
            f"{owner} expected lengths with {batch} entries (one per sequence in the batch), "
            f"got {value.numel()}"
        )
    lengths = value.detach().to("cpu", torch.int64)
    shortest, longest = int(lengths.min()), int(lengths.max())
    if shortest < 1:
        where = int(torch.argmin(lengths))
        raise ValueError(
            f"{owner} expected every length to be at least 1, got {shortest} for sequence {where}"
        )
    if longest > time:
        where = int(torch.argmax(lengths))
        raise ValueError(
            f"{owner} expected lengths no longer than the time axis ({time} steps), "
            f"got {longest} for sequence {where}"
        )
    return lengths
