"""``rnnkit recipes``: the shipped recipes, a line each: its name, the command that trains
it (``--config NAME``) and the first line of its comment."""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

from rnnkit.recipes import recipe_names, recipe_summary


def add_commands(commands: Any, recipe_command: Callable[[str], str]) -> None:
    """Register ``recipes`` on the top-level subparsers; ``recipe_command`` names the
    command that trains a recipe (the CLI's registry knows the tasks' commands)."""
    recipes = commands.add_parser("recipes", help="list the recipes that ship with rnnkit")
    recipes.set_defaults(handler=functools.partial(run_recipes, recipe_command=recipe_command))


def run_recipes(args: argparse.Namespace, recipe_command: Callable[[str], str]) -> int:
    names = recipe_names()
    width = max(len(name) for name in names)
    commands = {name: recipe_command(name) for name in names}
    command_width = max(len(command) for command in commands.values())
    for name in names:
        print(f"{name:<{width}}  {commands[name]:<{command_width}}  {recipe_summary(name)}")
    return 0
