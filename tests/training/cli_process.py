"""Run ``rnnkit`` in a child process that a test can kill, interrupt or race.

The child is forked from the test process, which has imported torch and rnnkit already, so
it starts in milliseconds instead of the seconds a fresh interpreter spends importing torch;
it is still a separate process, killed with real signals. Its stdout and stderr go to a
file. What a training imports lazily (``torch._dynamo`` with the first optimizer, 6 s;
matplotlib for the learning curve, 3 s) is imported here once, before any fork.
"""

from __future__ import annotations

import csv
import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch._dynamo  # noqa: F401 - imported once here rather than in every child
from tqdm import tqdm

from rnnkit.cli import main
from rnnkit.plotting import pyplot
from rnnkit.training.checkpoint import load_checkpoint

pyplot()  # matplotlib, once

FORK = multiprocessing.get_context("fork")
_started: list[multiprocessing.process.BaseProcess] = []


@pytest.fixture(autouse=True)
def reap_children() -> Iterator[None]:
    """Kill what a failed test left running (a child told to train 100,000 steps)."""
    yield
    while _started:
        child = _started.pop()
        if child.exitcode is None:
            child.kill()
            child.join()


def tiny_run(text: Path, out_dir: Path, *extra: str) -> list[str]:
    """``rnnkit train`` arguments of a tiny language model that checkpoints every 2 steps."""
    return ["train", "--text-file", str(text), "--out-dir", str(out_dir),
            "--hidden-size", "16", "--embedding-size", "8", "--num-layers", "1",
            "--batch-size", "4", "--seq-len", "16", "--eval-every", "2", "--log-every", "1",
            "--eval-max-tokens", "200", "--threads", "1", "--device", "cpu",
            "--no-progress", "--no-tensorboard", "--sample-length", "5", *extra]


def start_cli(argv: list[str], log_path: Path, *, env: dict[str, str] | None = None,
              umask: int | None = None, start: Any = None) -> multiprocessing.Process:
    """Start ``rnnkit <argv>`` in a forked child; ``start`` (an event) holds it back until
    set. Its exit code is ``main``'s return value."""
    child = FORK.Process(target=_run_cli, args=(argv, str(log_path), env or {}, umask, start))
    child.start()
    _started.append(child)
    return child


def _run_cli(argv: list[str], log_path: str, env: dict[str, str], umask: int | None,
             start: Any) -> None:
    descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the child
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    for handler in list(logging.root.handlers):  # pytest's capture handlers: log to the file
        logging.root.removeHandler(handler)
    # tqdm's class lock is a multiprocessing lock the fork shares with this test process,
    # and every bar takes it, a disabled one too. A child killed while holding it would
    # leave it held: the next child, and the test process, would wait on it for ever.
    tqdm.set_lock(threading.RLock())
    os.environ.update(env)
    if umask is not None:
        os.umask(umask)
    if start is not None:
        start.wait()
    sys.exit(main(argv))


def wait_for(condition: Callable[[], Any], child: multiprocessing.Process | None,
             log_path: Path | None = None, timeout: float = 60.0, what: str = "") -> Any:
    """Poll ``condition`` every 2 ms until it is true; fail if ``child`` ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        if child is not None and child.exitcode is not None:
            log = log_path.read_text(encoding="utf-8") if log_path else ""
            raise AssertionError(f"child ended with {child.exitcode} while waiting for {what}:"
                                 f"\n{log}")
        time.sleep(0.002)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def finish(child: multiprocessing.Process, timeout: float = 120.0) -> int:
    """Wait for ``child`` to end; its exit code."""
    child.join(timeout)
    assert child.exitcode is not None, "child did not finish"
    return child.exitcode


def saved_step(out_dir: Path, tag: str) -> int:
    """The step of the save ``tag`` names (loading it whole, as a resume would)."""
    return load_checkpoint(out_dir, tag=tag).trainer_state["progress"]["step"]


def assert_log_has_each_step_once(csv_path: Path, last_step: int) -> None:
    """Training rows for steps 1..last_step, each once; every row in step order."""
    with csv_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    steps = [int(row["step"]) for row in rows]
    assert steps == sorted(steps)
    assert [int(row["step"]) for row in rows if row["train_loss"]] == list(
        range(1, last_step + 1))
