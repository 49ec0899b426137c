"""Argparse types that check a flag's value as it is parsed, so argparse names the flag.

The rules are :mod:`rnnkit.validation`'s (``"> 0"``, ``"[0, 1)"``, a tuple of choices), so
a flag says what it allows in the same words as the config field behind it::

    rnnkit eval: error: --window must be an int in [1, 16777216], got 0
"""

from __future__ import annotations

import argparse
import re
import typing
from collections.abc import Callable
from typing import Any

from rnnkit.validation import (
    MAX_BATCH,
    MAX_LENGTH,
    MAX_SEED,
    ConfigValueError,
    Rule,
    check_value,
    field_rules,
    number_type,
    number_words,
    show_value,
    type_hints,
    type_name,
    unwrap_optional,
)

ValueParser = Callable[[str], Any]


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose errors read ``--flag must be ..., got ...`` rather than
    ``argument --flag: must be ...`` (the subcommands' parsers are of this class too)."""

    def error(self, message: str) -> typing.NoReturn:
        message = re.sub(r"^argument ([^:]+): must be ", r"\1 must be ", message)
        super().error(message)


def value_type(base: type, rule: Rule | None = None, *, optional: bool = False,
               owner: str = "flag", name: str = "value") -> ValueParser:
    """An argparse ``type`` that reads a ``base`` (int, float, str) from the text and checks
    it against ``rule``; ``optional`` also accepts ``none``."""
    hint: Any = base | None if optional else base

    def parse(text: str) -> Any:
        if optional and text.strip().lower() == "none":
            return None
        value = _convert(base, text)
        try:
            return check_value(owner, name, value, hint, rule)
        except ConfigValueError as error:
            typed_number = value is not _UNREADABLE and base is not str
            shown = text.strip() if typed_number else show_value(text)
            raise argparse.ArgumentTypeError(error.for_flag(shown)) from None

    parse.__name__ = type_name(base)  # argparse names the type in its own messages
    return parse


def field_type(cls: type, name: str) -> ValueParser:
    """The argparse ``type`` of the flag of field ``name`` of config class ``cls``: its
    type hint and its rule in ``cls.RANGES``."""
    base, optional = unwrap_optional(type_hints(cls)[name])
    return value_type(base, field_rules(cls).get(name), optional=optional,
                      owner=cls.__name__, name=name)


_UNREADABLE = object()


def _convert(base: type, text: str) -> Any:
    """``text`` as a ``base``, or :data:`_UNREADABLE` (the check then names the text)."""
    if base is str:
        return text
    words = number_words(base)
    if words is not None:  # float | Literal["auto"], int | Literal["auto"]
        return text.strip() if text.strip() in words else _convert(number_type(base), text)
    if typing.get_origin(base) is tuple:  # a list of ints: "2000,5000", or "" for none
        parts = [part.strip() for part in text.split(",") if part.strip()]
        return tuple(int(part) for part in parts) if all(
            re.fullmatch(r"-?\d+", part) for part in parts) else _UNREADABLE
    try:
        if base is int:
            return int(text.strip())
        if base is float:
            return float(text.strip())
    except ValueError:
        return _UNREADABLE
    return text


def positive_int(maximum: int | None = None) -> ValueParser:
    """An int >= 1 (and at most ``maximum``)."""
    return value_type(int, ">= 1" if maximum is None else f"[1, {maximum}]")


def finite_float(rule: str | None = None, *, optional: bool = False) -> ValueParser:
    """A finite float, within ``rule`` if given (``"> 0"``, ``"(0, 1]"``)."""
    return value_type(float, rule, optional=optional)


SEED = value_type(int, f"[0, {MAX_SEED}]")
LENGTH = positive_int(MAX_LENGTH)
BATCH = positive_int(MAX_BATCH)
BEAM = positive_int(1024)
STREAMS = positive_int(4096)
TEMPERATURE = finite_float(">= 0")  # 0: greedy, the most likely token each step
TOP_P = finite_float("(0, 1]")
OPTIONAL_TOP_K = value_type(int, ">= 1", optional=True)
CHECKPOINT_TAGS = ("latest", "best")


def checkpoint_tag(text: str) -> str:
    """A checkpoint tag (``latest``, ``best``, ...): a name that is safe as a file name."""
    from rnnkit.training.checkpoint import check_tag

    try:
        check_tag(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a checkpoint tag such as latest or best (letters, digits, '_', '.' or "
            f"'-', 64 characters at most), got {text!r}") from None
    return text


checkpoint_tag.__name__ = "tag"
