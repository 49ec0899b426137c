"""The rnnkit command end to end on a tiny text: train, eval --json, sample, and its errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

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
    assert "unknown key(s) ['hiden_size'] in [model]" in capsys.readouterr().err


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
