"""The recipes that ship with rnnkit: TOML configurations, named by their file's stem.

``rnnkit train --config shakespeare_char`` reads ``shakespeare_char.toml`` from this
package, so a user who installed the wheel names a recipe without a path; a path (or any
existing file) is read as it is. ``rnnkit recipes`` lists them, a line each.
"""

from __future__ import annotations

from pathlib import Path

import tomllib

RECIPES = Path(__file__).resolve().parent


def recipe_names() -> tuple[str, ...]:
    """The recipes in this package, sorted."""
    return tuple(sorted(path.stem for path in RECIPES.glob("*.toml")))


def config_path(config: str | Path) -> Path:
    """The file ``--config`` names: a file that exists or anything that looks like a path
    (a ``/`` or a ``.toml`` suffix) as given, otherwise the shipped recipe of that name.

    Example:
        >>> config_path("shakespeare_char").name
        'shakespeare_char.toml'
    """
    text = str(config)
    if Path(text).is_file() or "/" in text or text.endswith(".toml"):
        return Path(text)
    if text in recipe_names():
        return RECIPES / f"{text}.toml"
    raise ValueError(f"--config {text!r} is neither a file nor a recipe; the recipes are "
                     f"{', '.join(recipe_names())} (rnnkit recipes lists them)")


def recipe_summary(name: str) -> str:
    """The first line of the recipe's opening comment."""
    for line in (RECIPES / f"{name}.toml").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def recipe_task(name: str) -> str | None:
    """The task the shipped recipe ``name`` is for (its ``[task] name``), or ``None`` for a
    language model's recipe (no ``[task]`` table)."""
    tables = tomllib.loads((RECIPES / f"{name}.toml").read_text(encoding="utf-8"))
    task = tables.get("task", {}).get("name")
    return None if task is None else str(task)
