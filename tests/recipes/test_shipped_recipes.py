"""The recipes that ship inside the package: named without a path, listed by
``rnnkit recipes``, every one a valid configuration of the command it names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib

from rnnkit.cli import build_parser, main
from rnnkit.recipes import RECIPES, config_path, recipe_names
from rnnkit.tasks.classify.commands import COMMAND as CLASSIFY
from rnnkit.tasks.flags import configs_from_args
from rnnkit.tasks.forecast.commands import COMMAND as FORECAST
from rnnkit.tasks.long_range.config import LongRangeConfig
from rnnkit.tasks.music.commands import music_configs_from_args
from rnnkit.tasks.tag.commands import COMMAND as TAG
from rnnkit.training.config import TrainConfig, load_config_file, read_toml

TASKS = {task.name: task for task in (CLASSIFY, TAG, FORECAST)}

SHIPPED = sorted(path.stem for path in RECIPES.glob("*.toml"))


def test_the_recipes_are_the_packages_toml_files() -> None:
    assert recipe_names() == tuple(SHIPPED) and len(SHIPPED) >= 14
    assert RECIPES.parts[-2:] == ("rnnkit", "recipes")


def test_rnnkit_recipes_lists_each_with_its_command_a_line_each(capsys) -> None:
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == SHIPPED
    commands = {line.split()[0]: re.match(r"\S+\s+(rnnkit(?: \w+)?(?: train| \w+))",
                                          line).group(1) for line in lines}
    assert commands["shakespeare_char"] == "rnnkit train"
    assert commands["rotten_tomatoes_bilstm"] == "rnnkit classify train"
    assert commands["pos_oanc_tagger"] == "rnnkit tag train"
    assert commands["airline_forecast"] == "rnnkit forecast train"
    assert commands["adding_lstm_t200"] == "rnnkit task adding"
    assert commands["irish_folk_small_conditioned"] == "rnnkit music train"  # [task] name
    assert "character LSTM on Shakespeare" in dict(zip(SHIPPED, lines, strict=True))[
        "shakespeare_char"]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_recipe_is_a_valid_config_of_its_command(name: str) -> None:
    tables = tomllib.loads((RECIPES / f"{name}.toml").read_text(encoding="utf-8"))
    assert set(tables) <= {"data", "model", "train", "task"}
    task = tables.get("task", {}).get("name")
    if task == "music":  # a language model with a [task] table the music loader reads
        args = build_parser().parse_args(["music", "train", "--config", name])
        config, _ = music_configs_from_args(args)
        assert config.train.out_dir.startswith("runs/")
    elif task is None:
        config = load_config_file(name)  # by name, as --config NAME reads it
        assert config.train.out_dir.startswith("runs/")
    elif task in TASKS:
        args = build_parser().parse_args([task, "train", "--config", name])
        configs = configs_from_args(args, task, {task: TASKS[task].config,
                                                 "model": TASKS[task].model_config})
        assert configs[task].out_dir.startswith("runs/")
    else:
        args = build_parser().parse_args(["task", task, "--config", name])
        config = configs_from_args(args, task, {"long_range": LongRangeConfig},
                                   base={"long_range": {"task": task}})["long_range"]
        assert config.out_dir.startswith("runs/")


def clock_bound_cosine_recipes() -> dict[str, TrainConfig]:
    """The language-model recipes bounded by minutes alone whose rate decays by a cosine,
    each with its training settings."""
    found = {}
    for name in SHIPPED:
        if "task" in tomllib.loads((RECIPES / f"{name}.toml").read_text(encoding="utf-8")):
            continue
        train = load_config_file(name).train
        if train.schedule == "cosine" and train.max_time and not train.max_epochs:
            found[name] = train
    return found


def test_a_recipe_bound_by_the_clock_plans_its_cosine_on_the_host() -> None:
    # A horizon written as a number is one host's steps: the minGRU recipes' fixed 1,500
    # left a faster host at min_lr for more than half of its ten minutes
    # (docs/parallel-rnns.md). The steps the minutes hold must be planned where the run runs.
    recipes = clock_bound_cosine_recipes()
    assert {"shakespeare_char_long", "shakespeare_char_30min", "shakespeare_char_mingru",
            "shakespeare_char_mingru_long", "shakespeare_char_minlstm",
            "shakespeare_char_minlstm_long"} <= set(recipes)
    for name, train in recipes.items():
        assert (name, train.max_steps, train.decay_steps) == (name, "auto", None)


def test_a_path_is_read_as_a_file_and_a_name_as_a_recipe(tmp_path: Path, monkeypatch) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text("[train]\nmax_steps = 7\n", encoding="utf-8")
    assert load_config_file(mine).train.max_steps == 7
    assert config_path("zaremba_small") == RECIPES / "zaremba_small.toml"
    assert read_toml("zaremba_small") == read_toml(RECIPES / "zaremba_small.toml")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "zaremba_small").write_text("[train]\nmax_steps = 3\n", encoding="utf-8")
    assert load_config_file("zaremba_small").train.max_steps == 3  # a file of yours wins


def test_an_unknown_recipe_is_refused_with_the_list(capsys) -> None:
    assert main(["train", "--config", "shakespeare"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("rnnkit train: error: --config 'shakespeare' is neither a file "
                            "nor a recipe; the recipes are adding_lstm_t200, airline_forecast, ")
    assert error.endswith("zaremba_small (rnnkit recipes lists them)")
    assert main(["train", "--config", "missing.toml"]) == 1
    assert "missing.toml" in capsys.readouterr().err


def test_a_folder_named_like_a_recipe_does_not_hide_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "zaremba_small").mkdir()  # e.g. a run folder
    assert config_path("zaremba_small") == RECIPES / "zaremba_small.toml"
