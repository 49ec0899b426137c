"""The one recipe format of the tasks: ``[data] [model] [train]``, plus ``[task]``.

A recipe names its task in ``[task]`` (``name = "classify"``) next to the task's own knobs;
``[data]`` says what the task reads, ``[model]`` the network, ``[train]`` the optimization
and the run (the same keys for every task). A task's command keeps its settings in one
flat dataclass (its flags are its fields, ``--lr``, ``--min-count``) whose
``RECIPE_TABLES`` says which fields sit in ``[data]`` and ``[task]`` (and ``[model]``, when
the model's settings are among them); ``[train]`` holds the rest. A separate model config
takes ``[model]`` whole.

An unknown table or key is refused with the closest valid name, and a key in the wrong
table with the table it belongs in; a recipe for another task names the command that
trains it.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from rnnkit.validation import closest_name

TABLES = ("data", "model", "train", "task")


def recipe_tables(flat: type) -> dict[str, frozenset[str]]:
    """The keys each recipe table holds of the flat config class ``flat``: its
    ``RECIPE_TABLES`` and, under ``train``, every other field (``task``, the field a
    command fills from its subcommand, aside)."""
    declared = {table: frozenset(keys) for table, keys in flat.RECIPE_TABLES.items()}
    placed = frozenset().union(*declared.values())
    rest = frozenset(field.name for field in fields(flat)) - placed - {"task"}
    return {**declared, "train": rest}


def read_task_recipe(path: str, task: str, sections: dict[str, type]) -> dict[str, dict[str, Any]]:
    """The values of the recipe at ``path`` (a file or a shipped recipe's name) for the
    command of ``task``, by config section: ``sections`` maps section names to classes,
    the first the task's flat config, the optional ``"model"`` a model config that takes
    ``[model]`` whole. Raises ``ValueError`` naming the file, the table and the key."""
    from rnnkit.training.config import read_toml

    recipe = read_toml(path)
    where = f"config file {path}"
    _check_tables(recipe, where)
    _check_task_name(recipe, task, where, path)
    section, flat = next(iter(sections.items()))
    tables = recipe_tables(flat)
    if "model" in sections:
        tables["model"] = frozenset(field.name for field in fields(sections["model"]))
    values: dict[str, dict[str, Any]] = {name: {} for name in sections}
    for table, keys in recipe.items():
        keys = {key: value for key, value in keys.items() if not (table == "task"
                                                                   and key == "name")}
        _check_keys(table, keys, tables, where, getattr(flat, "RENAMED", {}))
        target = "model" if table == "model" and "model" in sections else section
        values[target].update(keys)
    return values


def _check_tables(recipe: dict[str, Any], where: str) -> None:
    for table, keys in recipe.items():
        if table not in TABLES:
            raise ValueError(f"{where}: unknown table [{table}]"
                             f"{closest_name(table, TABLES, table=True)}; "
                             f"this command reads {', '.join(f'[{name}]' for name in TABLES)}")
        if not isinstance(keys, dict):
            raise ValueError(f"{where}: [{table}] must be a table of keys, got "
                             f"{type(keys).__name__}")


def _check_task_name(recipe: dict[str, Any], task: str, where: str, path: str) -> None:
    """A recipe for another task (or a language model: no ``[task]``) names its command."""
    named = recipe.get("task", {}).get("name")
    if named == task:
        return
    if named is None:
        raise ValueError(f"{where}: a {task} recipe names its task ([task] name = "
                         f"\"{task}\"); a recipe without one is a language model's: "
                         f"rnnkit train --config {path}")
    from rnnkit.recipes import task_command

    raise ValueError(f"{where} is a recipe for {named!r}, not {task!r}: "
                     f"{task_command(str(named))} --config {path}")


def _check_keys(table: str, keys: dict[str, Any], tables: dict[str, frozenset[str]],
                where: str, renamed: dict[str, str]) -> None:
    """Each key in its table; ``renamed`` maps an older rnnkit's names to today's."""
    for key in keys:
        if key in tables.get(table, frozenset()):
            continue
        if key in renamed:
            home = next(name for name, known in tables.items() if renamed[key] in known)
            raise ValueError(f"{where}: {key} is now {renamed[key]} (in [{home}])")
        home = next((name for name, known in tables.items() if key in known), None)
        if home is not None:
            raise ValueError(f"{where}: {key} belongs in [{home}], not in [{table}]")
        known = sorted(tables.get(table, frozenset()))
        raise ValueError(f"{where}: unknown key {key!r} in [{table}]"
                         f"{closest_name(key, known)}; known keys: {', '.join(known) or 'none'}")

