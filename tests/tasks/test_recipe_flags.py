"""Every task's train command takes --config: its recipe's tables sit between the config
defaults and the flags, and a wrong table, key or value is named with the file."""

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
    recipe.write_text(f"[{task}]\nbatch_size = 7\nlr = 0.5\n[model]\nhidden_size = 24\n",
                      encoding="utf-8")
    args = build_parser().parse_args([task, "train", "--config", str(recipe), "--lr", "0.25"])
    configs = configs_from_args(args, {task: config_class, "model": Seq2SeqConfig})
    assert (configs[task].batch_size, configs[task].lr) == (7, 0.25)  # file, then the flag
    assert configs[task].max_epochs == config_class().max_epochs  # neither: the default
    assert configs["model"].hidden_size == 24


@pytest.mark.parametrize("task", ["g2p", "translation"])
def test_a_wrong_table_key_or_value_in_the_recipe_is_named(task: str, tmp_path: Path,
                                                           capsys) -> None:
    recipe = tmp_path / "recipe.toml"
    cases = {
        "[data]\nx = 1\n": f"unknown table(s) ['data']; a {task} recipe has [{task}] and "
                           "[model]",
        "[model]\nhidden = 8\n": "unknown key(s) ['hidden'] in [model]",
        f"[{task}]\nlr = -1\n": f"[{task}] lr",
    }
    for text, message in cases.items():
        recipe.write_text(text, encoding="utf-8")
        assert main([task, "train", "--config", str(recipe)]) == 1
        error = capsys.readouterr().err
        assert f"config file {recipe}" in error and message in error, error
