"""What a run records of where it ran: threads, precision, versions, the git commit."""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path

import pytest
import torch
from test_trainer import tiny_config

import rnnkit
from rnnkit.cli import main
from rnnkit.tasks.language_model.training import train
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.environment import git_commit

CHECKOUT = Path(__file__).resolve().parents[2]


def expected_commit() -> str | None:
    """HEAD of this checkout (and whether tracked files differ from it), asked of git, when
    rnnkit runs from the checkout's sources; None when it runs from an installed copy (as
    in the wheel check of .ci/run)."""
    if not Path(rnnkit.__file__).resolve().is_relative_to(CHECKOUT / "src"):
        return None
    head = subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    differs = subprocess.run(["git", "-C", str(CHECKOUT), "diff", "--quiet", "HEAD"]
                             ).returncode != 0
    return head + ("+dirty" if differs else "")


def test_every_checkpoint_records_threads_precision_versions_and_commit(
        text_file: Path, tmp_path: Path) -> None:
    result = train(tiny_config(text_file, tmp_path / "run", max_steps=2, precision="bf16"))
    environment = load_checkpoint(tmp_path / "run").trainer_state["environment"]
    assert environment == result.environment
    assert environment["threads"] == torch.get_num_threads()
    assert environment["precision"] == "bf16" and environment["device"] == "cpu"
    assert environment["versions"]["torch"] == torch.__version__
    assert environment["versions"]["python"] == platform.python_version()
    assert environment["git_commit"] == expected_commit()


def test_an_auto_run_records_the_precision_it_chose(text_file: Path, tmp_path: Path) -> None:
    train(tiny_config(text_file, tmp_path / "run", max_steps=2, precision="auto"))
    state = load_checkpoint(tmp_path / "run").trainer_state
    assert state["environment"]["precision"] == state["precision"]["auto"]["chosen"]


def test_rnnkit_train_prints_the_environment_with_its_result(text_file: Path, tmp_path: Path,
                                                             capsys) -> None:
    assert main(["train", "--text-file", str(text_file), "--dataset", "none",
                 "--hidden-size", "8", "--embedding-size", "4", "--max-steps", "2",
                 "--out-dir", str(tmp_path / "run"), "--no-progress", "--no-tensorboard",
                 "--sample-length", "0"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["environment"]["precision"] == "fp32"
    assert result["environment"]["git_commit"] == expected_commit()


def test_without_git_the_commit_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    git_commit.cache_clear()
    monkeypatch.setenv("PATH", "")
    try:
        assert git_commit() is None
    finally:
        git_commit.cache_clear()
