"""The task recipes that ship with rnnkit name only real fields, and a recipe with a wrong
key or table is refused with the name of what is wrong."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rnnkit.tasks.examples.commands import TASKS, read_task_config

RECIPES = {"rotten_tomatoes_bilstm": "classify", "pos_oanc_tagger": "tag",
           "wnut16_tagger": "tag", "airline_forecast": "forecast",
           "sunspots_forecast": "forecast"}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_task_recipe_builds_its_two_configs(name: str) -> None:
    task = TASKS[RECIPES[name]]
    tables = read_task_config(name, task)
    config = replace(task.config(), **tables[task.name])
    replace(task.model_config(), **tables["model"])
    assert config.out_dir.startswith("runs/")


def test_a_wrong_key_or_table_is_named(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text("[forecast]\nwindow = 4\n[model]\nhidden = 8\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['hidden'\] in \[model\]"):
        read_task_config(str(recipe), TASKS["forecast"])
    recipe.write_text("[classify]\nepochs = 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown table\(s\) \['classify'\]"):
        read_task_config(str(recipe), TASKS["tag"])
