"""Music runs saved by an older rnnkit, whose config kept the music settings in ``[data]``
(``format = "abc"``, ``condition``): ``music generate``, ``sample``, ``eval`` and ``--resume``
read them, the settings moved to the run's ``task`` table."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.inference import load_language_model
from rnnkit.tasks.music.config import MusicConfig, saved_music_config
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import upgrade_saved_config

JIG = "X:1\nT:Jig\nM:6/8\nL:1/8\nK:D Major\nA|dfa agf|efg e2c|d3 d2:|\n"
REEL = "X:2\nT:Reel\nM:C|\nL:1/8\nK:G Major\nB|GABc dBGB|cBAG A4:|\n"


def tiny(tunes: Path, out_dir: Path, *extra: str) -> list[str]:
    """``rnnkit music train`` of a tiny model: a few steps, quiet."""
    return ["music", "train", "--text-file", str(tunes), "--out-dir", str(out_dir),
            "--hidden-size", "16", "--embedding-size", "8", "--num-layers", "1",
            "--batch-size", "4", "--seq-len", "32", "--max-steps", "4", "--eval-every", "4",
            "--eval-max-tokens", "256", "--sample-length", "5", "--no-progress",
            "--no-tensorboard", *extra]


def make_old(run: Path) -> None:
    """Rewrite every save of ``run`` as an older rnnkit wrote it: the music settings in
    ``[data]``, no ``task`` table."""
    for path in run.rglob("config.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        task = document.pop("task")
        document["data"] |= {"format": "abc", "condition": task["condition"]}
        path.write_text(json.dumps(document), encoding="utf-8")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A conditional and a plain music run in the old layout, the tune file they read, and
    the conditional run's ``rnnkit eval`` figures before it was rewritten."""
    folder = tmp_path_factory.mktemp("old_music")
    tunes = folder / "tunes.abc"
    tunes.write_text("\n".join([JIG, REEL] * 12), encoding="utf-8")
    assert main(tiny(tunes, folder / "conditional", "--condition", "key_meter")) == 0
    assert main(tiny(tunes, folder / "plain")) == 0
    figures = folder / "figures.json"
    figures.write_text(json.dumps(evaluate(folder / "conditional")), encoding="utf-8")
    for name in ("conditional", "plain"):
        make_old(folder / name)
    return {"conditional": folder / "conditional", "plain": folder / "plain",
            "tunes": tunes, "figures": figures}


def evaluate(run: Path) -> dict:
    """``rnnkit eval --json`` of ``run``: its figures on its own data."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["eval", "--checkpoint", str(run), "--window", "32", "--json"]) == 0
    return json.loads(printed.getvalue())


def test_the_old_layout_is_what_an_older_rnnkit_wrote(runs: dict[str, Path]) -> None:
    saved = load_checkpoint(runs["conditional"], trainer=False).config
    assert "task" not in saved
    assert (saved["data"]["format"], saved["data"]["condition"]) == ("abc", "key_meter")


@pytest.mark.parametrize(("name", "condition"), [("conditional", "key_meter"),
                                                 ("plain", None)])
def test_an_old_runs_music_settings_are_read_from_its_task_table(
        runs: dict[str, Path], name: str, condition: str | None) -> None:
    loaded = load_language_model(runs[name], device="cpu")
    assert loaded.task == {"format": "abc", "condition": condition}
    assert saved_music_config(loaded.task) == MusicConfig(condition=condition)
    assert not hasattr(loaded.config.data, "format")


def test_an_old_plain_text_run_needs_no_task_table() -> None:
    old = {"data": {"dataset": "shakespeare", "format": "text", "condition": None},
           "model": {}, "train": {}}
    assert upgrade_saved_config(old) == {"data": {"dataset": "shakespeare"}, "model": {},
                                         "train": {}}
    assert upgrade_saved_config({"model": {}, "classify": {}}) == {"model": {}, "classify": {}}


def test_music_generate_meets_a_request_with_an_old_runs_conditioning_vector(
        runs: dict[str, Path], tmp_path: Path) -> None:
    assert main(["music", "generate", "--checkpoint", str(runs["conditional"]), "--n", "1",
                 "--out", str(tmp_path / "tunes"), "--key", "D", "--meter", "6/8",
                 "--max-length", "100", "--no-midi", "--no-progress"]) == 0
    summary = json.loads((tmp_path / "tunes" / "summary.json").read_text(encoding="utf-8"))
    assert summary["settings"]["condition"] == "vector" and summary["generated"] == 1


def test_sample_reads_an_old_run_and_refuses_an_old_conditional_one(
        runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample", "--checkpoint", str(runs["plain"]), "--prime", "X:",
                 "--length", "5"]) == 0
    assert capsys.readouterr().out.startswith("X:")
    assert main(["sample", "--checkpoint", str(runs["conditional"]), "--length", "5"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("rnnkit sample: error: this checkpoint is a conditional model")


def test_eval_scores_an_old_run_on_its_tunes_as_before(runs: dict[str, Path]) -> None:
    before = json.loads(runs["figures"].read_text(encoding="utf-8"))
    assert evaluate(runs["conditional"]) == before


def test_resume_continues_an_old_run_and_saves_todays_layout(
        runs: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["conditional"], run)
    assert main([*tiny(runs["tunes"], run, "--condition", "key_meter", "--resume"),
                 "--max-steps", "6", "--eval-every", "6"]) == 0
    saved = load_checkpoint(run)
    assert saved.trainer_state["progress"]["step"] == 6
    assert saved.config["task"] == {"name": "music", "condition": "key_meter"}
    assert "format" not in saved.config["data"]


def test_resume_of_an_old_run_compares_its_music_settings(
        runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["conditional"], run)
    assert main(tiny(runs["tunes"], run, "--resume")) == 1  # without its condition
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "(task.condition: saved 'key_meter', now None)" in line
    plain = ["train", *tiny(runs["tunes"], run, "--resume")[2:]]  # the language model's
    assert main(plain) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "(task: saved {'format': 'abc', 'condition': 'key_meter'}, now None)" in line
