"""Flags made from config dataclasses: ``--hidden-size`` sets ``[model] hidden_size``,
checked as it is parsed against the field's type and rule. Every task's ``train`` builds its
flags here, so one option has one spelling everywhere."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields, replace
from typing import Any

from rnnkit.arguments import field_type
from rnnkit.tasks.recipe import read_task_recipe, recipe_tables
from rnnkit.validation import (
    ConfigValueError,
    field_rules,
    type_hints,
    type_name,
    unwrap_optional,
)


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
                       default=argparse.SUPPRESS, metavar=type_name(base).upper(),
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


def configs_from_args(args: argparse.Namespace, task: str, classes: dict[str, type],
                      base: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """One config per section of ``classes`` (the task's flat config first, then its model
    config, if any): ``base`` values (what the subcommand says) over the defaults, then the
    ``--config`` recipe of ``task`` (:mod:`rnnkit.tasks.recipe`; its errors name the file,
    the table and the key), then the flags given."""
    recipe = getattr(args, "config", None)
    values = read_task_recipe(recipe, task, classes) if recipe else {}
    configs = {}
    for section, cls in classes.items():
        config = cls(**(base or {}).get(section, {}))
        config = _with_recipe_values(config, values.get(section, {}), recipe, cls)
        configs[section] = replace(config, **section_values(args, section))
    return configs


def _with_recipe_values(config: Any, values: dict[str, Any], recipe: str | None,
                        cls: type) -> Any:
    """``config`` with a recipe's values; a bad one is named with the file and its table
    (a class without ``RECIPE_TABLES`` is a model config: ``[model]``)."""
    try:
        return replace(config, **values)
    except ConfigValueError as error:
        tables = recipe_tables(cls) if hasattr(cls, "RECIPE_TABLES") else {}
        table = next((name for name, keys in tables.items() if error.name in keys), "model")
        raise ValueError(error.for_file(recipe, table)) from None
    except ValueError as error:  # a rule between fields
        raise ValueError(f"config file {recipe}: {error}") from None


def add_config_flag(parser: argparse.ArgumentParser, task: str) -> None:
    """``--config``: a recipe of ``task`` (a shipped one's name, or a TOML file)."""
    parser.add_argument("--config", help=f"a {task} recipe ([data] [model] [train], [task] "
                                         f"name = \"{task}\"): a shipped one's name (rnnkit "
                                         "recipes) or a TOML file; flags override it")
