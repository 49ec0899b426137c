"""A music recipe is ``[data] [model] [train]`` plus ``[task] name = "music"``: ``rnnkit music
train`` reads it, ``rnnkit train`` and ``music train`` each refuse what is not theirs with one
line, and ``rnnkit recipes`` names the command."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import tomllib

from rnnkit.cli import main
from rnnkit.cli.registry import recipe_command
from rnnkit.recipes import RECIPES
from rnnkit.tasks.music.commands import music_configs_from_args
from rnnkit.tasks.music.config import MusicConfig

MUSIC_RECIPES = ("irish_folk", "irish_folk_small", "irish_folk_small_conditioned",
                 "oneills_folk_small")


@pytest.fixture(autouse=True)
def nothing_to_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Were a refusal broken, the command would go on to train: let it stop at once on an
    empty data cache, in a scratch folder, instead of training on the cached tunes."""
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "empty_cache"))
    for name in ("PIP_INDEX_URL", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9/")
    monkeypatch.chdir(tmp_path)


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The command's whole stderr, which must be one line and no traceback."""
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    (line,) = captured.err.strip().splitlines()
    return line


def recipe(tmp_path: Path, text: str) -> str:
    """A recipe file: a ``[data]`` table, then ``text`` (which starts ``[data]``'s keys or
    a table; ``task = ...`` is the top level's, where it goes first)."""
    data = "[data]\ndataset = \"irish_abc\"\n"
    path = tmp_path / "mine.toml"
    path.write_text(text + data if text.startswith("task =") else data + text,
                    encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name", MUSIC_RECIPES)
def test_the_language_model_command_sends_a_music_recipe_to_music(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--config", name]) == 1
    assert error_line(capsys) == (f"rnnkit train: error: config file {name} is a recipe "
                                  f"for 'music', not a language model's (rnnkit train): "
                                  f"rnnkit music train --config {name}")


def test_the_language_model_command_names_the_command_of_a_long_range_recipe(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--config", "adding_lstm_t200"]) == 1
    assert error_line(capsys) == ("rnnkit train: error: config file adding_lstm_t200 is a "
                                  "recipe for 'adding', not a language model's (rnnkit "
                                  "train): rnnkit task adding --config adding_lstm_t200")


def test_the_language_model_command_refuses_a_task_table_without_a_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = recipe(tmp_path, "[task]\ncondition = \"key_meter\"\n")
    assert main(["train", "--config", path]) == 1
    assert error_line(capsys) == (f"rnnkit train: error: config file {path}: its [task] "
                                  f"table names no task (name = \"...\"), and rnnkit train "
                                  f"takes [data], [model] and [train] only")


@pytest.mark.parametrize(("table", "message"), [
    ("[task]\nname = \"classify\"\n",
     " is a recipe for 'classify', not 'music': rnnkit classify train --config {path}"),
    ("[task]\nname = \"adding\"\n",
     " is a recipe for 'adding', not 'music': rnnkit task adding --config {path}"),
    ("[task]\ncondition = \"key_meter\"\n",
     ": [task] must name its task: name = \"music\", got no name"),
    ("[task]\nname = 3\n", ": [task] must name its task: name = \"music\", got 3"),
    ("[task]\nname = \"music\"\nconditon = \"key_meter\"\n",
     ": unknown key 'conditon' in [task] (did you mean 'condition'?); known keys: "
     "condition"),
    ("[task]\nname = \"music\"\nformat = \"abc\"\n",
     ": unknown key 'format' in [task]; known keys: condition"),
    ("[task]\nname = \"music\"\n[optim]\nlr = 1\n",
     ": unknown table [optim]; this command reads [data], [model], [train], [task]"),
    ("task = \"music\"\n", ": [task] must be a table of keys, got str"),
])
def test_music_train_refuses_a_task_table_that_is_not_its_own(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, message: str) -> None:
    path = recipe(tmp_path, table)
    assert main(["music", "train", "--config", path]) == 1
    expected = message.format(path=path)
    assert error_line(capsys) == f"rnnkit music train: error: config file {path}{expected}"


def test_an_old_recipe_with_the_format_in_data_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = recipe(tmp_path, "format = \"abc\"\n")
    assert main(["music", "train", "--config", path]) == 1
    line = error_line(capsys)
    assert line.startswith(f"rnnkit music train: error: config file {path}: unknown key "
                           f"'format' in [data]")


def music_args(*argv: str) -> argparse.Namespace:
    """``rnnkit music train ARGV`` parsed, as its handler gets it."""
    from rnnkit.cli.main import build_parser

    return build_parser().parse_args(["music", "train", *argv])


@pytest.mark.parametrize("name", MUSIC_RECIPES)
def test_every_music_recipe_is_a_music_train_config(name: str) -> None:
    tables = tomllib.loads((RECIPES / f"{name}.toml").read_text(encoding="utf-8"))
    config, music = music_configs_from_args(music_args("--config", name))
    assert set(tables) == {"data", "model", "train", "task"}
    assert music == MusicConfig(**{k: v for k, v in tables["task"].items() if k != "name"})
    assert config.data.dataset == tables["data"]["dataset"]
    assert config.train.out_dir == f"runs/{name}"
    assert recipe_command(name) == "rnnkit music train"


def test_the_condition_flag_overrides_the_recipe() -> None:
    _, music = music_configs_from_args(music_args("--config", "irish_folk_small"))
    assert music.condition is None
    _, music = music_configs_from_args(music_args("--config", "irish_folk_small",
                                                  "--condition", "key_meter"))
    assert music.condition == "key_meter"
    config, music = music_configs_from_args(music_args())  # no recipe: the defaults
    assert music == MusicConfig() and config.data.dataset == "irish_abc"
