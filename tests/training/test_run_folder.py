"""Run folders: no silent overwrite, one writer at a time, resume only with settings the saved
state can take, Ctrl-C saves, files follow the umask. Through ``rnnkit train`` (in this
process, or in forked children where a signal, a race or a umask is needed)."""

from __future__ import annotations

import math
import os
import signal
import socket
import stat
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from cli_process import (  # reap_children: an autouse fixture
    FORK,
    assert_log_has_each_step_once,
    finish,
    reap_children,  # noqa: F401
    saved_step,
    start_cli,
    tiny_run,
    wait_for,
)

from rnnkit.cli import main
from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.tasks.forecast.training import ForecastConfig, train_forecast
from rnnkit.training.checkpoint import SAVE_PAUSE_VARIABLE, load_checkpoint
from rnnkit.training.run_folder import RunFolderError, claim_run_folder


def train(capsys: pytest.CaptureFixture, argv: list[str]) -> tuple[int, str]:
    """``rnnkit <argv>`` in this process: its status and what it wrote to stderr."""
    capsys.readouterr()
    status = main(argv)
    return status, capsys.readouterr().err


def test_a_run_folder_is_kept_unless_resume_or_overwrite(text_file: Path, tmp_path: Path,
                                                         capsys) -> None:
    out_dir = tmp_path / "run"
    assert train(capsys, tiny_run(text_file, out_dir, "--max-steps", "4"))[0] == 0
    (out_dir / "notes.txt").write_text("mine", encoding="utf-8")
    (out_dir / "data").mkdir()
    (out_dir / "data" / "x.csv").write_text("1,2\n", encoding="utf-8")
    first = load_checkpoint(out_dir).path

    status, error = train(capsys, tiny_run(text_file, out_dir, "--max-steps", "2"))
    assert status == 1
    assert str(out_dir) in error and "resume" in error and "overwrite" in error
    assert load_checkpoint(out_dir).path == first and saved_step(out_dir, "latest") == 4

    status, error = train(capsys, tiny_run(text_file, out_dir, "--max-steps", "2", "--resume",
                                           "--overwrite"))
    assert status == 1 and "resume and overwrite exclude each other" in error

    assert train(capsys, tiny_run(text_file, out_dir, "--max-steps", "2", "--overwrite"))[0] == 0
    assert saved_step(out_dir, "latest") == 2 and saved_step(out_dir, "best") == 2
    assert_log_has_each_step_once(out_dir / "log.csv", 2)
    assert (out_dir / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (out_dir / "data" / "x.csv").exists()

    assert train(capsys, tiny_run(text_file, out_dir, "--max-steps", "4", "--resume"))[0] == 0
    assert saved_step(out_dir, "latest") == 4
    assert_log_has_each_step_once(out_dir / "log.csv", 4)


def test_a_task_run_folder_is_kept_unless_overwrite(tmp_path: Path) -> None:
    config = ForecastConfig(window=12, max_epochs=1, season=12, arima=False, out_dir=str(tmp_path),
                            progress=False, device="cpu", threads=1)
    model = ForecasterConfig(hidden_size=8)
    series = [5.0 + math.sin(2 * math.pi * t / 12) for t in range(120)]
    train_forecast(config, model, series)
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(RunFolderError, match=r"already holds a run.*overwrite"):
        train_forecast(config, model, series)
    config = replace(config, overwrite=True)
    (tmp_path / "results.json").unlink()
    train_forecast(config, model, series)
    assert (tmp_path / "results.json").exists() and (tmp_path / "notes.txt").exists()
    load_checkpoint(tmp_path, tag="best")


def test_a_locked_run_folder_is_refused_naming_its_holder(text_file: Path, tmp_path: Path,
                                                          capsys) -> None:
    out_dir = tmp_path / "run"
    with claim_run_folder(out_dir, resume=False, overwrite=False):
        status, error = train(capsys, tiny_run(text_file, out_dir, "--max-steps", "2"))
    assert status == 1
    assert f"run folder {out_dir} is in use by process {os.getpid()} on " \
           f"{socket.gethostname()}" in error
    assert Path(sys.argv[0]).name in error and "started at" in error
    assert not (out_dir / "log.csv").exists()  # the refused run wrote nothing
    assert train(capsys, tiny_run(text_file, out_dir, "--max-steps", "2"))[0] == 0  # released


def test_two_trainings_on_one_folder_lose_nothing(text_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    go = FORK.Event()
    # Saves that pause keep the winner busy while the other one tries the folder.
    children = [start_cli(tiny_run(text_file, out_dir, "--max-steps", "6"),
                          tmp_path / f"child-{index}.log", start=go,
                          env={SAVE_PAUSE_VARIABLE: "0.1"}) for index in range(2)]
    go.set()
    codes = [finish(child) for child in children]
    assert sorted(codes) == [0, 1], codes
    winner = children[codes.index(0)]
    refused = (tmp_path / f"child-{codes.index(1)}.log").read_text(encoding="utf-8")
    assert f"in use by process {winner.pid}" in refused or "already holds a run" in refused
    assert saved_step(out_dir, "latest") == 6 and saved_step(out_dir, "best") == 6
    assert_log_has_each_step_once(out_dir / "log.csv", 6)
    named = {load_checkpoint(out_dir).path.name, load_checkpoint(out_dir, tag="best").path.name}
    assert {path.name for path in out_dir.glob("save-*")} == named


def test_resume_refuses_changes_the_saved_state_cannot_take(text_file: Path, tmp_path: Path,
                                                            capsys) -> None:
    out_dir = tmp_path / "run"
    assert train(capsys, tiny_run(text_file, out_dir, "--max-steps", "2"))[0] == 0
    status, error = train(capsys, tiny_run(text_file, out_dir, "--max-steps", "4", "--resume",
                                           "--optimizer", "sgd", "--hidden-size", "24",
                                           "--batch-size", "2"))
    assert status == 1
    for difference in ("train.optimizer: saved 'adam', now 'sgd'",
                       "model.hidden_size: saved 16, now 24", "train.batch_size: saved 4, now 2"):
        assert difference in error
    assert saved_step(out_dir, "latest") == 2

    assert train(capsys, tiny_run(text_file, out_dir, "--max-steps", "4", "--resume",
                                  "--lr", "0.01"))[0] == 0
    saved = load_checkpoint(out_dir)
    assert saved.config["train"]["lr"] == 0.01
    assert saved.trainer_state["resumes"][-1]["step"] == 2
    assert saved.trainer_state["resumes"][-1]["changed"] == {"train.lr": [0.002, 0.01],
                                                             "train.max_steps": [2, 4]}


def test_ctrl_c_saves_latest_and_resume_goes_on_exactly(text_file: Path, tmp_path: Path,
                                                        capsys) -> None:
    out_dir, log_path = tmp_path / "run", tmp_path / "child.log"
    child = start_cli(tiny_run(text_file, out_dir, "--max-steps", "100000"), log_path)
    wait_for(lambda: (out_dir / "best.json").exists(), child, log_path, what="a save")
    os.kill(child.pid, signal.SIGINT)
    assert finish(child) == 130
    step = saved_step(out_dir, "latest")
    assert sorted(path.name for path in out_dir.glob("*.json")) == ["best.json", "latest.json"]
    said = log_path.read_text(encoding="utf-8")
    assert f"interrupted at step {step}: saved latest in {out_dir}" in said

    assert train(capsys, tiny_run(text_file, out_dir, "--max-steps", str(step + 2),
                                  "--resume"))[0] == 0
    whole = tmp_path / "whole"
    assert train(capsys, tiny_run(text_file, whole, "--max-steps", str(step + 2)))[0] == 0
    resumed, uninterrupted = load_checkpoint(out_dir), load_checkpoint(whole)
    assert resumed.trainer_state["progress"]["step"] == step + 2
    for name, tensor in uninterrupted.model_state.items():
        assert torch.equal(resumed.model_state[name], tensor), name


def test_a_second_ctrl_c_inside_that_save_leaves_the_previous_one(text_file: Path,
                                                                  tmp_path: Path) -> None:
    out_dir, log_path = tmp_path / "run", tmp_path / "child.log"
    child = start_cli(tiny_run(text_file, out_dir, "--max-steps", "100000"), log_path,
                      env={SAVE_PAUSE_VARIABLE: "0.3"})
    wait_for(lambda: (out_dir / "latest.json").exists(), child, log_path, what="a save")
    named = {load_checkpoint(out_dir).path.name, load_checkpoint(out_dir, tag="best").path.name}
    os.kill(child.pid, signal.SIGINT)
    wait_for(lambda: [path for path in out_dir.glob("save-*/trainer.json")
                      if path.parent.name not in named], child, log_path, what="the save")
    os.kill(child.pid, signal.SIGINT)  # while that save waits to switch its pointer
    assert finish(child) == 130
    assert "saved latest" not in log_path.read_text(encoding="utf-8")
    saved_step(out_dir, "latest")  # both load: the previous saves
    saved_step(out_dir, "best")


@pytest.mark.parametrize("umask", [0o022, 0o077], ids=["022", "077"])
def test_files_follow_the_umask(text_file: Path, tmp_path: Path, umask: int) -> None:
    out_dir, log_path = tmp_path / "run", tmp_path / "child.log"
    child = start_cli(tiny_run(text_file, out_dir, "--max-steps", "2"), log_path, umask=umask)
    assert finish(child) == 0, log_path.read_text(encoding="utf-8")
    modes = {str(path.relative_to(out_dir)): stat.S_IMODE(path.stat().st_mode)
             for path in [out_dir, *out_dir.rglob("*")]}
    expected = {name: (0o777 if (out_dir / name).is_dir() else 0o666) & ~umask
                for name in modes}
    assert modes == expected
    assert {"latest.json", "log.csv"} <= set(modes)


def test_overwrite_reads_no_large_or_linked_json_as_a_pointer(tmp_path: Path) -> None:
    """A user's JSON beside the run, too large to be a pointer or a link, is neither read
    nor removed, even when its content would parse as a pointer."""
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    (out_dir / "log.csv").write_text("step,train_loss\n1,2.0\n")
    pointer = ('{"kind": "rnnkit-checkpoint", "tag": "big", "folder": "save-0000001", '
               '"format_version": 1}')
    (out_dir / "big.json").write_text(pointer + " " * (70 * 1024))
    (tmp_path / "elsewhere.json").write_text(pointer)
    (out_dir / "linked.json").symlink_to(tmp_path / "elsewhere.json")
    with claim_run_folder(out_dir, resume=False, overwrite=True):
        pass
    assert not (out_dir / "log.csv").exists()
    assert (out_dir / "big.json").exists() and (out_dir / "linked.json").is_symlink()
