"""docs/extending.md's example task, loaded from the page and plugged in beside the
registry's plugins: its command, ``train --task`` and its flag checks work as the page
says."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.cli.registry import PLUGINS
from rnnkit.training.checkpoint import load_checkpoint_config

PAGE = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


@pytest.fixture(scope="module")
def majority(tmp_path_factory):
    """The page's first Python block, imported as a module."""
    code = re.search(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S).group(1)
    path = tmp_path_factory.mktemp("majority") / "majority_commands.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("majority_commands", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_the_example_task_trains_from_its_own_command(majority, capsys, tmp_path) -> None:
    plugins = (*PLUGINS, majority.PLUGIN)
    assert main(["majority", "train", "--max-steps", "300", "--no-progress",
                 "--out-dir", str(tmp_path)], plugins) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 300
    assert result["test_accuracy"] > 0.9  # chance is 0.5


def test_train_task_stands_for_the_example_tasks_command(majority, capsys, tmp_path) -> None:
    plugins = (*PLUGINS, majority.PLUGIN)
    assert main(["train", "--task", "majority", "--max-steps", "2", "--no-progress",
                 "--out-dir", str(tmp_path)], plugins) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2


def test_the_pages_recipe_configures_the_example_task(majority, capsys, tmp_path) -> None:
    recipe = tmp_path / "majority.toml"
    recipe.write_text(re.search(r"```toml\n(.*?)```", PAGE.read_text(encoding="utf-8"),
                                re.S).group(1), encoding="utf-8")
    plugins = (*PLUGINS, majority.PLUGIN)
    assert main(["majority", "train", "--config", str(recipe), "--max-steps", "3",
                 "--no-progress", "--out-dir", str(tmp_path / "run")], plugins) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 3  # the flag wins over [train]
    saved = load_checkpoint_config(tmp_path / "run", tag="latest")["majority"]
    assert (saved["length"], saved["hidden_size"], saved["lr"]) == (15, 32, 0.01)


def test_a_key_in_the_wrong_table_of_its_recipe_is_named(majority, capsys, tmp_path) -> None:
    recipe = tmp_path / "majority.toml"
    recipe.write_text('[task]\nname = "majority"\n[train]\nlength = 15\n', encoding="utf-8")
    assert main(["majority", "train", "--config", str(recipe)],
                (*PLUGINS, majority.PLUGIN)) == 1
    error = capsys.readouterr().err
    assert "majority.toml" in error and "length belongs in [data]" in error


def test_the_example_tasks_flags_are_checked(majority, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["majority", "train", "--max-steps", "0"], (*PLUGINS, majority.PLUGIN))
    assert exit_.value.code == 2
    assert "--max-steps" in capsys.readouterr().err


def test_without_its_plugin_the_command_does_not_exist(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["majority", "train"])
    assert "invalid choice: 'majority'" in capsys.readouterr().err
