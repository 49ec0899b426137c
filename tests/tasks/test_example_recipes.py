"""The task recipes that ship with rnnkit are in the one format ([data] [model] [train]
[task]) and build their task's two configs."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from rnnkit.tasks.classify.commands import COMMAND as CLASSIFY
from rnnkit.tasks.forecast.commands import COMMAND as FORECAST
from rnnkit.tasks.recipe import recipe_tables
from rnnkit.tasks.seq2seq.g2p import G2PConfig
from rnnkit.tasks.seq2seq.translation import TranslationConfig
from rnnkit.tasks.tag.commands import COMMAND as TAG
from rnnkit.tasks.task_commands import read_task_config
from rnnkit.training.config import read_toml
from rnnkit.training.example_training import ExampleTrainingConfig

TASKS = {task.name: task for task in (CLASSIFY, TAG, FORECAST)}

RECIPES = {"rotten_tomatoes_bilstm": "classify", "pos_oanc_tagger": "tag",
           "wnut16_tagger": "tag", "airline_forecast": "forecast",
           "sunspots_forecast": "forecast"}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_task_recipe_builds_its_two_configs(name: str) -> None:
    task = TASKS[RECIPES[name]]
    assert set(read_toml(name)) <= {"data", "model", "train", "task"}
    values = read_task_config(name, task)
    config = replace(task.config(), **values[task.name])
    replace(task.model_config(), **values["model"])
    assert config.out_dir.startswith("runs/")


@pytest.mark.parametrize("config_class", [*(task.config for task in TASKS.values()),
                                          G2PConfig, TranslationConfig])
def test_only_the_shared_training_settings_sit_in_train(config_class: type) -> None:
    """A task's own knob must be placed in [data] or [task]: [train] is the same for every
    example task."""
    shared = {field.name for field in fields(ExampleTrainingConfig)}
    assert recipe_tables(config_class)["train"] == shared
