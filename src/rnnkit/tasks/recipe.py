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

from rnnkit.validation import unknown_key, unknown_table

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
        check_keys(table, keys, tables, where, getattr(flat, "RENAMED", {}))
        target = "model" if table == "model" and "model" in sections else section
        values[target].update(keys)
    return values


def _check_tables(recipe: dict[str, Any], where: str) -> None:
    for table, keys in recipe.items():
        if table not in TABLES:
            raise ValueError(f"{where}: {unknown_table(table, TABLES)}")
        if not isinstance(keys, dict):
            raise ValueError(f"{where}: [{table}] must be a table of keys, got "
                             f"{type(keys).__name__}")


def _check_task_name(recipe: dict[str, Any], task: str, where: str, path: str) -> None:
    """A recipe for another task (or a language model: no ``[task]``) names its command."""
    if "task" not in recipe:
        raise ValueError(f"{where}: a {task} recipe names its task ([task] name = "
                         f"\"{task}\"); a recipe without one is a language model's: "
                         f"rnnkit train --config {path}")
    check_recipe_task(recipe["task"].get("name"), task, where, path)


class RecipeForAnotherTaskError(ValueError):
    """A recipe handed to a command that does not train it. ``task`` is the task it names;
    the CLI, which knows every task's command, words it with :meth:`naming`."""

    def __init__(self, where: str, task: str, reader: str, path: str) -> None:
        self.where, self.task, self.reader, self.path = where, task, reader, path
        super().__init__(f"{where} is a recipe for {task!r}, not {reader}; train it with "
                         f"the command of {task!r} (rnnkit recipes lists them)")

    def naming(self, command: str) -> str:
        """The message with the command that trains the recipe."""
        return (f"{self.where} is a recipe for {self.task!r}, not {self.reader}: "
                f"{command} --config {self.path}")


def check_recipe_task(named: object, task: str | None, where: str, path: str) -> None:
    """A recipe's ``[task] name`` against the command reading it, ``task`` (``None``:
    ``rnnkit train``, which takes no ``[task]`` table at all). A recipe for another task is
    refused naming the command that trains it; a name that names no task, saying what the
    command expects. ``where`` names the file, ``path`` is how ``--config`` named it."""
    if task is not None and named == task:
        return
    if isinstance(named, str) and named.isidentifier():
        reader = repr(task) if task is not None else "a language model's (rnnkit train)"
        raise RecipeForAnotherTaskError(where, named, reader, path)
    if task is None:
        raise ValueError(f"{where}: its [task] table names no task (name = \"...\"), and "
                         "rnnkit train takes [data], [model] and [train] only")
    raise ValueError(f"{where}: [task] must name its task: name = \"{task}\", got "
                     f"{'no name' if named is None else repr(named)}")


def check_keys(table: str, keys: dict[str, Any], tables: dict[str, frozenset[str]],
               where: str, renamed: dict[str, str] | None = None) -> None:
    """Each key of ``table`` among ``tables[table]``: a key of another table is refused
    naming that table, any other with the closest valid name. ``renamed`` maps an older
    rnnkit's names to today's."""
    renamed = renamed or {}
    for key in keys:
        if key in tables.get(table, frozenset()):
            continue
        if key in renamed:
            home = next(name for name, known in tables.items() if renamed[key] in known)
            raise ValueError(f"{where}: {key} is now {renamed[key]} (in [{home}])")
        home = next((name for name, known in tables.items() if key in known), None)
        if home is not None:
            raise ValueError(f"{where}: {key} belongs in [{home}], not in [{table}]")
        raise ValueError(f"{where}: {unknown_key(key, table, tables.get(table, frozenset()))}")

