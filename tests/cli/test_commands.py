"""The rnnkit command end to end on a tiny text: train, eval --json, sample, and its errors."""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

import pytest

from rnnkit.cells.catalog import CELL_NAMES
from rnnkit.cli import build_parser, main
from rnnkit.tasks.language_model.commands import config_from_args


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    rng = random.Random(1)
    path = tmp_path / "text.txt"
    path.write_text("".join(rng.choice("abcde fgh\n") for _ in range(6000)), encoding="utf-8")
    return path


@pytest.fixture
def trained(text_file: Path, tmp_path: Path) -> Path:
    out_dir = tmp_path / "run"
    status = main(["train", "--text-file", str(text_file), "--out-dir", str(out_dir),
                   "--hidden-size", "16", "--embedding-size", "8", "--batch-size", "4",
                   "--seq-len", "16", "--max-steps", "6", "--eval-every", "3",
                   "--no-progress", "--no-tensorboard", "--sample-length", "5"])
    assert status == 0
    return out_dir


def test_flags_override_the_config_file(tmp_path: Path) -> None:
    config_file = tmp_path / "run.toml"
    config_file.write_text('[model]\nhidden_size = 99\nnum_layers = 3\n[train]\nlr = 0.5\n')
    args = build_parser().parse_args(["train", "--config", str(config_file), "--hidden-size",
                                      "7", "--clip-norm", "none", "--no-tie-weights"])
    config = config_from_args(args)
    assert config.model.hidden_size == 7          # flag beats file
    assert config.model.num_layers == 3           # file beats default
    assert config.train.lr == 0.5
    assert config.train.clip_norm is None
    assert config.model.embedding_size == 128     # default


def test_unknown_key_in_a_config_file(tmp_path: Path, capsys) -> None:
    config_file = tmp_path / "run.toml"
    config_file.write_text("[model]\nhiden_size = 99\n")
    assert main(["train", "--config", str(config_file)]) == 1
    assert ("unknown key 'hiden_size' in [model] (did you mean 'hidden_size'?); known keys: "
            in capsys.readouterr().err)


def test_a_misspelt_table_of_a_config_file_gets_the_closest_name(tmp_path: Path,
                                                                 capsys) -> None:
    config_file = tmp_path / "run.toml"
    config_file.write_text("[dat]\nlevel = \"char\"\n")
    assert main(["train", "--config", str(config_file)]) == 1
    assert ("unknown table [dat] (did you mean [data]?); this command reads [data], [model], "
            "[train]" in capsys.readouterr().err)


def test_eval_prints_json_with_both_measurements(trained: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(trained), "--json", "--window", "32"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unit"] == "character"
    assert report["perplexity"] == pytest.approx(2.718281828 ** report["loss"], rel=1e-9)
    assert report["bits_per_character"] == pytest.approx(report["loss"] / 0.6931471805599453)
    assert "window32_loss" in report and report["window32_loss"] > 0


def test_sample_is_deterministic_with_a_seed(trained: Path, capsys) -> None:
    capsys.readouterr()
    arguments = ["sample", "--checkpoint", str(trained), "--prime", "ab", "--length", "40",
                 "--seed", "3"]
    main(arguments)
    first = capsys.readouterr().out
    main(arguments)
    assert capsys.readouterr().out == first
    assert first.startswith("ab") and len(first.rstrip("\n")) >= 40


def test_prime_with_unknown_characters(trained: Path, capsys) -> None:
    assert main(["sample", "--checkpoint", str(trained), "--prime", "xyz"]) == 1
    error = capsys.readouterr().err
    assert "'x'" in error and "rnnkit sample: error" in error


def test_missing_checkpoint(tmp_path: Path, capsys) -> None:
    assert main(["eval", "--checkpoint", str(tmp_path / "nothing")]) == 1
    assert str(tmp_path / "nothing") in capsys.readouterr().err


def test_unknown_dataset(tmp_path: Path, capsys) -> None:
    assert main(["train", "--dataset", "no_such_corpus", "--max-steps", "1",
                 "--out-dir", str(tmp_path / "x")]) == 1
    error = capsys.readouterr().err
    assert "no_such_corpus" in error and "shakespeare" in error


def test_empty_text_file(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["train", "--text-file", str(empty), "--max-steps", "1",
                 "--out-dir", str(tmp_path / "x")]) == 1
    error = capsys.readouterr().err
    assert "empty" in error and "empty.txt" in error


CELL_COMMANDS = [["train"], ["music", "train"], ["g2p", "train"], ["translation", "train"],
                 ["classify", "train"], ["tag", "train"], ["forecast", "train"],
                 ["task", "adding"], ["task", "copy"], ["task", "digits"],
                 ["diagnose", "gradients"]]


def listed_cells(help_text: str) -> tuple[str, ...]:
    """The cell names a command's --help lists for --cell, in either form argparse shows:
    ``--cell {a,b}`` (choices) or ``--cell STR  one of a, b (default a)`` (config flags,
    ``(required)`` where the field has no default)."""
    text = " ".join(help_text.split())
    choices = re.search(r"--cell \{([^}]*)\}", text)
    if choices:
        return tuple(choices.group(1).split(","))
    listed = re.search(r"--cell STR one of (.*?) \((?:default|required)", text)
    return tuple(listed.group(1).split(", "))


@pytest.mark.parametrize("command", CELL_COMMANDS, ids=" ".join)
def test_every_command_lists_the_catalogues_cells(command: list[str], capsys) -> None:
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    assert listed_cells(capsys.readouterr().out) == CELL_NAMES


def commands_with_a_cell(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    if any("--cell" in action.option_strings for action in parser._actions):
        yield list(path)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield from commands_with_a_cell(subparser, (*path, name))


def test_every_command_with_a_cell_is_in_the_list_above() -> None:
    """A new command with --cell must join CELL_COMMANDS (and so the test above)."""
    assert sorted(commands_with_a_cell(build_parser())) == sorted(CELL_COMMANDS)


def test_train_takes_the_irnn_and_saves_it(text_file: Path, tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "irnn"
    assert main(["train", "--text-file", str(text_file), "--out-dir", str(out_dir),
                 "--cell", "irnn", "--hidden-size", "16", "--embedding-size", "8",
                 "--batch-size", "4", "--seq-len", "16", "--max-steps", "3",
                 "--eval-every", "3", "--no-progress", "--no-tensorboard",
                 "--sample-length", "5"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["steps"] == 3
    saved = json.loads((out_dir / "latest.json").read_text(encoding="utf-8"))
    config = json.loads((out_dir / saved["folder"] / "config.json").read_text())
    assert config["model"]["cell"] == "irnn"
    assert main(["sample", "--checkpoint", str(out_dir), "--length", "5", "--seed", "1"]) == 0


def test_irnn_with_another_init_is_refused_in_one_line(text_file: Path, tmp_path: Path,
                                                       capsys) -> None:
    assert main(["train", "--text-file", str(text_file), "--out-dir", str(tmp_path / "x"),
                 "--cell", "irnn", "--init", "orthogonal"]) == 1
    assert capsys.readouterr().err.strip() == (
        "rnnkit train: error: ModelConfig: cell='irnn' fixes init='identity', "
        "got init='orthogonal'")


# Another spelling of an option some command once had, and the one name it has now.
RETIRED_SPELLINGS = {"--hidden": "--hidden-size", "--steps": "--max-steps",
                     "--delay": "--length", "--epochs": "--max-epochs"}


def option_strings(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        for option in action.option_strings:
            yield " ".join(path), option
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield from option_strings(subparser, (*path, name))


def test_one_option_has_one_name_in_every_command() -> None:
    options = set(option_strings(build_parser()))
    assert {(command, option) for command, option in options
            if option in RETIRED_SPELLINGS} == set()
    spelled = {option for _, option in options}
    assert set(RETIRED_SPELLINGS.values()) <= spelled
