"""Flags made from config dataclasses: ``--hidden-size`` sets ``[model] hidden_size``,
checked as it is parsed against the field's type and rule. Every task's ``train`` builds its
flags here, so one option has one spelling everywhere."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from typing import Any

from rnnkit.arguments import field_type
from rnnkit.validation import field_rules, type_hints, unwrap_optional


def add_dataclass_flags(parser: argparse.ArgumentParser, section: str, cls: type,
                        skip: set[str] | frozenset[str] = frozenset()) -> None:
    """One ``--field-name`` flag per field of ``cls``, stored as ``"<section>.<field>"``."""
    group = parser.add_argument_group(f"[{section}]")
    hints = type_hints(cls)
    for field in fields(cls):
        if field.name not in skip:
            required = (field.default is MISSING and field.default_factory is MISSING)
            _add_field_flag(group, cls, section, field.name, hints[field.name], field.default,
                            required)


def section_values(args: argparse.Namespace, section: str) -> dict[str, Any]:
    """The flags of ``section`` that were given on the command line."""
    values = {}
    for dest, value in vars(args).items():
        prefix, _, name = dest.partition(".")
        if prefix == section and name:
            values[name] = value
    return values


def _add_field_flag(group: Any, cls: type, section: str, name: str, hint: Any,
                    default: Any, required: bool) -> None:
    """The flag of one field: checked as it is parsed against the field's type and rule;
    a field without a default is a required flag."""
    flag = "--" + name.replace("_", "-")
    dest = f"{section}.{name}"
    base, _ = unwrap_optional(hint)
    help_text = _help_text(cls, name, default, required)
    if base is bool:
        group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction,
                           default=argparse.SUPPRESS, help=help_text)
        return
    group.add_argument(flag, dest=dest, type=field_type(cls, name), required=required,
                       default=argparse.SUPPRESS, metavar=base.__name__.upper(),
                       help=help_text)


def _help_text(cls: type, name: str, default: Any, required: bool) -> str:
    """What the field is (``cls.HELP``, where given), its allowed values when they are a
    list, and its default: ``sequence length T; (default 100)``."""
    rule = field_rules(cls).get(name)
    what = getattr(cls, "HELP", {}).get(name)
    allowed = f"one of {', '.join(rule)}" if isinstance(rule, tuple) else None
    described = "; ".join(part for part in (what, allowed) if part)
    bound = "(required)" if required else f"(default {default})"
    return f"{described} {bound}" if described else bound
