"""Checks on values that users hand to rnnkit.

Every error names the object that complained, what it expected and what it got, so a bad
call fails here rather than deep inside a torch kernel.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import math
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

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


# --- config dataclasses: every field checked where it enters ------------------------------
# A config class lists the allowed values of its fields in a ``RANGES`` class attribute
# (merged over its bases): a rule string such as ``"> 0"``, ``">= 1"``, ``"[0, 1)"`` or
# ``"[1, 65536]"``, or a tuple of allowed strings. :func:`check_fields` then checks every
# field against its type hint (a bool is a bool, an int is not a float or a bool, a float
# is finite) and its rule, and every config raises the same message shape:
# ``TrainConfig: clip_norm must be a finite number > 0 or None, got -1``.

MAX_SIZE = 1 << 16  # widths (hidden, embedding): beyond this a model only exhausts memory
MAX_LAYERS = 256
MAX_BATCH = 1 << 20
MAX_LENGTH = 1 << 24  # sequence lengths and token counts of one window or sample
MAX_SEED = 2**63 - 1


Rule = str | tuple[str, ...]


class ConfigValueError(ValueError):
    """A field of a config holds a value outside what it allows.

    ``owner`` is the config class, ``name`` the field, ``expected`` what was allowed
    (without "or None"; ``optional`` says whether None is allowed too). :meth:`for_file`
    and :meth:`for_flag` say the same thing in the words of a config file or a flag.
    """

    def __init__(self, owner: str, name: str, value: object, expected: str,
                 optional: bool = False) -> None:
        self.owner, self.name, self.value = owner, name, value
        self.expected, self.optional = expected, optional
        super().__init__(f"{owner}: {name} must be {expected}"
                         f"{' or None' if optional else ''}, got {show_value(value)}")

    def for_file(self, path: object, section: str) -> str:
        """``config file PATH: [section] key must be ..., got ...``."""
        return (f"config file {path}: [{section}] {self.name} must be {self.expected}, "
                f"got {show_value(self.value)}")

    def for_flag(self, shown: str | None = None) -> str:
        """``must be ... or none, got ...``, for argparse to put after the flag (``shown``:
        the value as it was typed)."""
        return (f"must be {self.expected}{' or none' if self.optional else ''}, "
                f"got {show_value(self.value) if shown is None else shown}")


class ConfigTypeError(ConfigValueError, TypeError):
    """A field of a config holds a value of the wrong type (also a ``TypeError``)."""


def closest_name(name: str, known: Iterable[str], *, table: bool = False) -> str:
    """`` (did you mean 'hidden_size'?)`` for the known name closest to a misspelt ``name``
    (``[data]`` when ``table``), or ``""`` when none is close: what every recipe reader
    appends to an unknown key or table."""
    match = difflib.get_close_matches(name, list(known), n=1)
    if not match:
        return ""
    return f" (did you mean {f'[{match[0]}]' if table else repr(match[0])}?)"


def unknown_table(table: str, tables: Sequence[str]) -> str:
    """What a recipe reader says of a table it does not read: ``unknown table [optim]
    (did you mean [...]?); this command reads [data], [model], [train]``."""
    listed = ", ".join(f"[{name}]" for name in tables)
    return (f"unknown table [{table}]{closest_name(table, tables, table=True)}; this command "
            f"reads {listed}")


def unknown_key(key: str, table: str, known: Iterable[str]) -> str:
    """What a recipe reader says of a key a table does not hold: ``unknown key 'lr' in
    [model] (did you mean ...?); known keys: ...`` (sorted; ``none`` for an empty table)."""
    names = sorted(known)
    return (f"unknown key {key!r} in [{table}]{closest_name(key, names)}; known keys: "
            f"{', '.join(names) or 'none'}")


def show_value(value: object) -> str:
    """A value as an error message shows it: strings quoted, the rest as Python writes it."""
    if isinstance(value, str):
        return json.dumps(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_fields(config: object) -> None:
    """Check every field of the dataclass ``config`` against its type hint and its rule in
    the ``RANGES`` of its class (and bases); ints given for float fields become floats."""
    owner = type(config).__name__
    hints = type_hints(type(config))
    rules = field_rules(type(config))
    for field in dataclasses.fields(config):  # type: ignore[arg-type]
        if field.name not in hints:
            continue
        value = getattr(config, field.name)
        checked = check_value(owner, field.name, value, hints[field.name],
                              rules.get(field.name))
        if checked is not value:
            object.__setattr__(config, field.name, checked)


def field_rules(cls: type) -> dict[str, Rule]:
    """The ``RANGES`` of ``cls`` merged over its bases (a subclass's rule wins)."""
    rules: dict[str, Rule] = {}
    for klass in reversed(cls.__mro__):
        rules.update(vars(klass).get("RANGES", {}))
    return rules


def check_value(owner: str, name: str, value: object, hint: Any, rule: Rule | None) -> Any:
    """``value`` checked against ``hint`` and ``rule``; raises :class:`ConfigValueError`
    (:class:`ConfigTypeError` for a wrong type) naming ``owner`` and ``name``."""
    base, optional = unwrap_optional(hint)
    expected = describe(base, rule)
    if value is None:
        if optional:
            return None
        raise ConfigTypeError(owner, name, value, expected, optional)
    words = number_words(base)
    if words is not None and isinstance(value, str):  # float | Literal["auto"]: a word
        if value not in words:
            raise ConfigTypeError(owner, name, value, expected, optional)
        return value
    typed = _typed(owner, name, value, number_type(base) if words is not None else base,
                   expected, optional)
    if rule is not None and not _allowed(typed, rule):
        raise ConfigValueError(owner, name, value, expected, optional)
    return typed


def _typed(owner: str, name: str, value: object, base: Any, expected: str,
           optional: bool) -> Any:
    """``value`` if it has type ``base`` (an int stands for a float), else raise."""
    fail = ConfigTypeError(owner, name, value, expected, optional)
    if base is bool:
        if not isinstance(value, bool):
            raise fail
    elif base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail
    elif base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail
        value = float(value)
        if not math.isfinite(value):
            raise ConfigValueError(owner, name, value, expected, optional)
    elif base is str:
        if not isinstance(value, str):
            raise fail
    elif typing.get_origin(base) is tuple and not _is_int_list(value):
        raise fail
    return value


def _is_int_list(value: object) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value)


def describe(base: Any, rule: Rule | None) -> str:
    """What a field allows, in words: ``an int >= 1``, ``a finite number in [0, 1)``."""
    if isinstance(rule, tuple):
        return "one of " + ", ".join(json.dumps(choice) for choice in rule)
    words = number_words(base)
    if words is not None:
        return " or ".join([describe(number_type(base), rule),
                            *(json.dumps(word) for word in words)])
    noun = {bool: "a bool (true/false)", int: "an int", float: "a finite number",
            str: "a string"}.get(base, "a list of ints")
    if rule is None:
        return noun
    return f"{noun} in {rule}" if rule[0] in "[(" else f"{noun} {rule}"


def _allowed(value: Any, rule: Rule) -> bool:
    """Whether ``value`` meets ``rule`` (see :func:`describe`)."""
    if isinstance(rule, tuple):
        return value in rule
    if rule[0] in "[(":
        low, high = (float(part) for part in rule[1:-1].split(","))
        above = value >= low if rule[0] == "[" else value > low
        below = value <= high if rule[-1] == "]" else value < high
        return above and below
    operator, _, number = rule.partition(" ")
    bound = float(number)
    return {">": value > bound, ">=": value >= bound, "<": value < bound,
            "<=": value <= bound}[operator]


def unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """``(int, True)`` for ``int | None``; ``(int, False)`` for ``int``; a union of more
    than one type other than None stays a union (``float | Literal["auto"]``)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        base = functools.reduce(lambda union, member: union | member, members)
        return base, len(members) < len(typing.get_args(hint))
    return hint, False


def number_words(base: Any) -> tuple[str, ...] | None:
    """The words a number-or-word field (``float | Literal["auto"]``, ``int |
    Literal["auto"]``) takes besides a number (``("auto",)``), or None for any other type."""
    if typing.get_origin(base) is not typing.Union:
        return None
    return tuple(word for member in typing.get_args(base)
                 if typing.get_origin(member) is typing.Literal
                 for word in typing.get_args(member))


def number_type(base: Any) -> type:
    """The number a number-or-word field holds when it holds no word: ``int`` for
    ``int | Literal["auto"]``, ``float`` for ``float | Literal["auto"]``."""
    return next(member for member in typing.get_args(base)
                if typing.get_origin(member) is not typing.Literal)


def type_name(base: Any) -> str:
    """The type's name as flags show it: ``int``, ``float`` (a number-or-word field shows
    its number's)."""
    return number_type(base).__name__ if number_words(base) is not None else base.__name__


@functools.cache
def type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints(cls)``, worked out once per class."""
    return typing.get_type_hints(cls)
