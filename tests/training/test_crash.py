"""A real crash test: training processes killed with SIGKILL, 20 times, at random moments
and inside saves; after every kill both checkpoints load and the next ``--resume`` carries
on from them, and what the kill left behind is pruned.

Each trial starts a child (``--resume`` after the first) that trains a tiny language model
checkpointing every 2 steps, waits until it has saved ``latest`` once (so every trial
advances the run), then kills it in one of three ways, in a seeded order:

- ``random``: after a seeded random delay;
- ``writing``: the moment a new save folder appears (while its files are being written);
- ``paused``: with ``RNNKIT_TEST_SAVE_PAUSE`` set, while a complete save folder waits for
  its pointer to switch (the kill lands inside the save for certain).

The children are forked from this process, so none of them pays torch's import again.
"""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

from cli_process import (  # reap_children: an autouse fixture
    assert_log_has_each_step_once,
    finish,
    reap_children,  # noqa: F401
    saved_step,
    start_cli,
    tiny_run,
    wait_for,
)

from rnnkit.atomic import TEMPORARY_NAME
from rnnkit.training.checkpoint import SAVE_PAUSE_VARIABLE

KILLS = {"random": 8, "writing": 6, "paused": 6}
LONG = "100000"  # max_steps of a child that is going to be killed


def pointed(out_dir: Path, tag: str) -> str | None:
    """The save folder ``tag`` names, or ``None`` before the first save."""
    try:
        return json.loads((out_dir / f"{tag}.json").read_text(encoding="utf-8"))["folder"]
    except (OSError, ValueError, KeyError):
        return None  # not written yet


def unnamed_saves(out_dir: Path, *, complete: bool = False) -> list[Path]:
    """Save folders no pointer names (``complete``: only those with every file written)."""
    named = {pointed(out_dir, "latest"), pointed(out_dir, "best")}
    folders = [path for path in out_dir.glob("save-*") if path.name not in named]
    if complete:
        folders = [path for path in folders if (path / "trainer.json").exists()]
    return folders


def temporary_files(out_dir: Path) -> list[Path]:
    return [path for path in out_dir.rglob(".*.tmp") if TEMPORARY_NAME.fullmatch(path.name)]


def kill_one(mode: str, rng: random.Random, argv: list[str], out_dir: Path,
             log_path: Path) -> None:
    """Start a child, let it save once, kill it as ``mode`` says."""
    env = {SAVE_PAUSE_VARIABLE: "0.3"} if mode == "paused" else {}
    before = pointed(out_dir, "latest")
    child = start_cli(argv, log_path, env=env)
    try:
        wait_for(lambda: pointed(out_dir, "latest") not in (None, before)
                 and pointed(out_dir, "best"), child, log_path, what="a first save")
        if mode == "random":
            child.join(rng.uniform(0.0, 0.4))
        else:
            wait_for(lambda: unnamed_saves(out_dir, complete=mode == "paused"), child,
                     log_path, what="a save in progress")
        assert child.exitcode is None, log_path.read_text(encoding="utf-8")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.join()
    assert child.exitcode == -signal.SIGKILL


def test_training_survives_sigkill_at_random_and_inside_saves(text_file: Path,
                                                              tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    rng = random.Random(21)
    modes = [mode for mode, count in KILLS.items() for _ in range(count)]
    rng.shuffle(modes)
    step, leftovers, inside_saves = 0, [], 0
    for trial, mode in enumerate(modes):
        resume = ["--resume"] if trial else []
        log_path = tmp_path / f"trial-{trial}.log"
        kill_one(mode, rng, tiny_run(text_file, out_dir, "--max-steps", LONG, *resume),
                 out_dir, log_path)
        # The temporary files the previous kill left (their names are random, never reused)
        # were pruned when this child claimed the folder.
        assert not [path for path in leftovers if path.exists()], (trial, leftovers)
        assert saved_step(out_dir, "latest") > step, (trial, mode)  # resume carried on
        step = saved_step(out_dir, "latest")
        saved_step(out_dir, "best")  # loads
        orphans = unnamed_saves(out_dir)
        inside_saves += bool(orphans)
        assert mode != "paused" or orphans, "a paused kill must land between folder and pointer"
        # A kill while the pointer itself was written would leave this; plant one to be sure.
        planted = out_dir / f".latest.json.{trial:08x}.tmp"
        planted.write_text("{\"half", encoding="utf-8")
        leftovers = temporary_files(out_dir)
    assert inside_saves >= KILLS["paused"]

    last = tmp_path / "last.log"
    argv = tiny_run(text_file, out_dir, "--max-steps", str(step + 3), "--resume")
    assert finish(start_cli(argv, last)) == 0, last.read_text(encoding="utf-8")
    assert saved_step(out_dir, "latest") == step + 3
    assert not temporary_files(out_dir) and not unnamed_saves(out_dir)
    assert_log_has_each_step_once(out_dir / "log.csv", step + 3)
