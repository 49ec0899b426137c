"""Flags made from config dataclasses: ``--hidden-size`` sets ``[model] hidden_size``,
checked as it is parsed against the field's type and rule. Every task's ``train`` builds its
flags here, so one option has one spelling everywhere."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields, replace
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
    list, and its default: ``for the LSTM (default 1.0)``, ``one of adam, rmsprop, sgd
    (default adam)``."""
    rule = field_rules(cls).get(name)
    what = getattr(cls, "HELP", {}).get(name)
    allowed = f"one of {', '.join(rule)}" if isinstance(rule, tuple) else None
    described = "; ".join(part for part in (what, allowed) if part)
    bound = "(required)" if required else f"(default {default})"
    return f"{described} {bound}" if described else bound


def read_recipe_tables(path: str, classes: dict[str, type]) -> dict[str, dict[str, Any]]:
    """The tables of the TOML recipe ``path`` (a file or a shipped recipe's name), one per
    config class of ``classes`` (section name -> class), every key checked against its
    class: an unknown table or key is named in the error with what is known."""
    from rnnkit.training.config import read_toml

    tables = read_toml(path)
    unknown = set(tables) - set(classes)
    if unknown:
        expected = " and ".join(f"[{name}]" for name in classes)
        raise ValueError(f"config file {path}: unknown table(s) {sorted(unknown)}; a "
                         f"{next(iter(classes))} recipe has {expected}")
    for name, values in tables.items():
        if not isinstance(values, dict):
            raise ValueError(f"config file {path}: [{name}] must be a table of keys, got "
                             f"{type(values).__name__}")
        known = {field.name for field in fields(classes[name])}
        if set(values) - known:
            raise ValueError(f"config file {path}: unknown key(s) "
                             f"{sorted(set(values) - known)} in [{name}]; known keys: "
                             f"{', '.join(sorted(known))}")
    return tables


def configs_from_args(args: argparse.Namespace, classes: dict[str, type]) -> dict[str, Any]:
    """One config per section of ``classes``: its defaults, then the ``--config`` recipe's
    table (its errors name the file and the key), then the flags given."""
    from rnnkit.training.config import replace_section

    recipe = getattr(args, "config", None)
    tables = read_recipe_tables(recipe, classes) if recipe else {}
    configs = {}
    for section, cls in classes.items():
        config = replace_section(cls(), tables.get(section, {}), section, recipe)
        configs[section] = replace(config, **section_values(args, section))
    return configs


def add_config_flag(parser: argparse.ArgumentParser, sections: list[str]) -> None:
    """``--config``: a recipe (a shipped one's name, or a TOML file) with these tables."""
    names = [f"[{section}]" for section in sections]
    tables = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    parser.add_argument("--config", help=f"a recipe with {tables} tables: a shipped one's "
                                         "name (rnnkit recipes) or a TOML file; flags "
                                         "override it")
