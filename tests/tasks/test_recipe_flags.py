"""Every task's train command takes --config in the one recipe format: the recipe sits
between the config defaults and the flags, and a wrong table, key, task or value is named
in one line with the file and the closest valid name."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnkit.cli import build_parser, main
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.tasks.flags import configs_from_args
from rnnkit.tasks.seq2seq.g2p import G2PConfig
from rnnkit.tasks.seq2seq.translation import TranslationConfig

PAIR_TASKS = [("g2p", G2PConfig), ("translation", TranslationConfig)]


@pytest.mark.parametrize(("task", "config_class"), PAIR_TASKS)
def test_defaults_then_the_recipe_then_the_flags(task: str, config_class: type,
                                                 tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f"[data]\nvalid_fraction = 0.2\n[model]\nhidden_size = 24\n"
                      f"[train]\nbatch_size = 7\nlr = 0.5\n[task]\nname = \"{task}\"\n"
                      f"teacher_forcing = 0.75\n", encoding="utf-8")
    args = build_parser().parse_args([task, "train", "--config", str(recipe), "--lr", "0.25"])
    configs = configs_from_args(args, task, {task: config_class, "model": Seq2SeqConfig})
    assert (configs[task].batch_size, configs[task].lr) == (7, 0.25)  # file, then the flag
    assert configs[task].max_epochs == config_class().max_epochs  # neither: the default
    assert (configs[task].valid_fraction, configs[task].teacher_forcing) == (0.2, 0.75)
    assert configs["model"].hidden_size == 24


def test_a_long_range_recipe_then_the_flags(tmp_path: Path) -> None:
    from rnnkit.tasks.long_range.config import LongRangeConfig

    recipe = tmp_path / "recipe.toml"
    recipe.write_text("[data]\nlength = 12\n[model]\ncell = \"gru\"\n[train]\nlr = 0.5\n"
                      "[task]\nname = \"adding\"\ntarget = 0.01\n", encoding="utf-8")
    args = build_parser().parse_args(["task", "adding", "--config", str(recipe),
                                      "--hidden-size", "9"])
    config = configs_from_args(args, "adding", {"long_range": LongRangeConfig},
                               base={"long_range": {"task": "adding"}})["long_range"]
    assert (config.task, config.length, config.cell, config.lr) == ("adding", 12, "gru", 0.5)
    assert (config.target, config.hidden_size) == (0.01, 9)


TASK_HEADER = {"g2p": '[task]\nname = "g2p"\n', "classify": '[task]\nname = "classify"\n',
               "adding": '[task]\nname = "adding"\n'}
COMMANDS = {"g2p": ["g2p", "train"], "classify": ["classify", "train"],
            "adding": ["task", "adding"]}


@pytest.mark.parametrize(("task", "text", "message"), [
    ("g2p", "[datta]\nx = 1\n", "unknown table [datta] (did you mean [data]?); this command reads "
                                "[data], [model], [train], [task]"),
    ("g2p", "[model]\nhidden = 8\n", "unknown key 'hidden' in [model] (did you mean "
                                     "'hidden_size'?); known keys: "),
    ("classify", "[train]\nmin_count = 1\n", "min_count belongs in [data], not in [train]"),
    ("classify", "[train]\nvalidate_every = 2\n",
     "validate_every is now eval_every_epochs (in [train])"),
    ("classify", "[train]\nepochs = 2\n", "epochs is now max_epochs (in [train])"),
    ("classify", "[task]\nname = \"classify\"\nword_dropot = 0.1\n",
     "unknown key 'word_dropot' in [task] (did you mean 'word_dropout'?)"),
    ("g2p", "[train]\nlr = -1\n", "[train] lr must be a finite number > 0, got -1"),
    ("classify", "[data]\nvalid_fraction = 0.6\ntest_fraction = 0.5\n",
     "valid_fraction + test_fraction must be below 1"),
    ("adding", "[model]\ncell = \"elman\"\n", "[model] cell must be one of"),
    ("adding", "[train]\nclip_value = 1.0\n", "choose clip_norm or clip_value, not both"),
])
def test_a_wrong_table_key_or_value_is_named_in_one_line(task: str, text: str, message: str,
                                                         tmp_path: Path, capsys) -> None:
    recipe = tmp_path / "recipe.toml"
    header = "" if text.startswith("[task]") else TASK_HEADER[task]
    recipe.write_text(header + text, encoding="utf-8")
    assert main([*COMMANDS[task], "--config", str(recipe)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"config file {recipe}" in error, error
    assert message in error, error


@pytest.mark.parametrize(("recipe", "command", "message"), [
    ("rotten_tomatoes_bilstm", ["tag", "train"],
     "is a recipe for 'classify', not 'tag': rnnkit classify train --config "
     "rotten_tomatoes_bilstm"),
    ("adding_lstm_t200", ["g2p", "train"],
     "is a recipe for 'adding', not 'g2p': rnnkit task adding --config adding_lstm_t200"),
    ("zaremba_small", ["task", "copy"],
     "a copy recipe names its task ([task] name = \"copy\"); a recipe without one is a "
     "language model's: rnnkit train --config zaremba_small"),
])
def test_a_recipe_for_another_task_names_its_command(recipe: str, command: list[str],
                                                     message: str, capsys) -> None:
    assert main([*command, "--config", recipe]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error, error
