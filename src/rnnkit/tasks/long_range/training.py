"""Train a cell on a long-range task (adding problem, copy task, sequential digits) on the
one loop, and read back what the run measured.

:func:`train_long_range` hands the task (:mod:`rnnkit.tasks.long_range.task`) to
:func:`~rnnkit.training.trainer.fit`, so a long-range run has what every task has: exact
resume, ``--device cuda``, ``--precision``, torchrun, ``log.csv`` and TensorBoard. Every
step's loss and gradient norm before and after clipping are logged, so a run shows both
whether a cell learns across the distance and how its gradients behaved; a loss or gradient
that stops being finite ends the run there (``diverged_at``) instead of raising.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

import torch

from rnnkit.tasks.long_range.config import LongRangeConfig
from rnnkit.tasks.long_range.result import LongRangeResult, save_long_range_result
from rnnkit.tasks.long_range.task import (
    build_task_model,
    long_range_task,
    recall_accuracy_by_position,
    task_data,
)
from rnnkit.training.distributed import process_rank
from rnnkit.training.prepare import start_training
from rnnkit.training.records import read_log
from rnnkit.training.run_folder import claim_run_folder
from rnnkit.training.trainer import TrainingDivergedError, fit
from rnnkit.validation import check_positive_int

# Settings that say where and how visibly a run trains, not what it computes.
NOT_COMPARED = frozenset({"out_dir", "resume", "overwrite", "threads", "progress",
                          "tensorboard"})


def train_long_range(config: LongRangeConfig) -> LongRangeResult:
    """Train ``config.cell`` on ``config.task``; returns the test metric and the curve.

    With ``config.out_dir`` the run folder is kept (and ``result.json`` and ``curve.png``
    written there, :func:`~rnnkit.tasks.long_range.result.save_long_range_result`);
    without, the run trains in a temporary folder that is deleted afterwards.
    """
    if config.out_dir is not None:
        return _train_in(config, Path(config.out_dir))
    with tempfile.TemporaryDirectory(prefix="rnnkit-long-range-") as folder:
        return _train_in(config, Path(folder))


def _train_in(config: LongRangeConfig, out_dir: Path) -> LongRangeResult:
    settings = config.train_settings(str(out_dir))
    main_process = process_rank() == 0
    with claim_run_folder(out_dir, resume=config.resume, overwrite=config.overwrite,
                          main_process=main_process):
        _, device = start_training(settings)
        data = task_data(config)
        model = build_task_model(config).to(device)
        diverged = None
        try:
            figures = fit(model, long_range_task(config, data, model), settings).figures
        except TrainingDivergedError as error:
            figures, diverged = {}, error
        result = LongRangeResult(config, data.metric, figures.get(data.metric, math.nan),
                                 data.baseline, elapsed_s=0.0)
        if config.task == "copy" and diverged is None:
            result.accuracy_by_position = recall_accuracy_by_position(
                model, data.test_batch.to(device))
        if main_process:  # rank 0 alone logs
            _read_curve(result, out_dir / "log.csv", diverged)
        if main_process and config.out_dir is not None:
            save_long_range_result(result, out_dir)
    return result


def _read_curve(result: LongRangeResult, log_file: Path,
                diverged: TrainingDivergedError | None) -> None:
    """Fill ``result``'s curve, training time and (for a run that diverged) its last score
    from the run's ``log.csv``."""
    train_rows, valid_rows = read_log(log_file) if log_file.is_file() else ([], [])
    curve = {int(row["step"]): {"step": int(row["step"]), "train_loss": row["train_loss"],
                                "grad_norm": row["grad_norm"],
                                "clipped_norm": row["clipped_norm"]} for row in train_rows}
    for row in valid_rows:
        curve[int(row["step"])][result.metric] = row[f"val_{result.metric}"]
    result.curve = list(curve.values())
    result.elapsed_s = train_rows[-1]["elapsed_s"] if train_rows else 0.0
    if diverged is not None:
        result.diverged_at = diverged.step
        result.curve.append({"step": diverged.step, "train_loss": diverged.loss,
                             "grad_norm": diverged.grad_norm, "clipped_norm": math.nan})
        if valid_rows:
            result.value = valid_rows[-1][f"val_{result.metric}"]


def train_or_load(config: LongRangeConfig, out_dir: str | Path, *,
                  retrain: bool = False) -> dict[str, Any]:
    """Train and save a run in ``out_dir``, or read it back if ``out_dir`` already holds
    this exact run.

    Returns the saved record (:meth:`LongRangeResult.to_dict`). A record whose configuration
    differs in what it computes (where and how visibly it ran aside) is retrained and
    overwritten, so an interrupted experiment picks up where it stopped and a changed
    setting never reads a stale result.
    """
    saved = Path(out_dir) / "result.json"
    if not retrain and saved.is_file():
        record = json.loads(saved.read_text(encoding="utf-8"))
        if _computed(record.get("config", {})) == _computed(asdict(config)):
            return record
    run = replace(config, out_dir=str(out_dir), resume=False, overwrite=True)
    return train_long_range(run).to_dict()


def _computed(settings: dict[str, Any]) -> dict[str, Any] | None:
    """The settings that decide what a run computes, today's defaults filled in for those a
    record of an older rnnkit lacks; ``None`` for a record that is not a valid config."""
    try:
        config = LongRangeConfig(**{key: value for key, value in settings.items()
                                    if key in {f.name for f in fields(LongRangeConfig)}})
    except (TypeError, ValueError):
        return None
    return {key: value for key, value in asdict(config).items() if key not in NOT_COMPARED}


def train_or_load_each(runs: Sequence[tuple[LongRangeConfig, str | Path]], *, workers: int = 1,
                       threads: int = 1, retrain: bool = False) -> Iterator[dict[str, Any]]:
    """:func:`train_or_load` for many ``(config, out_dir)`` runs, ``workers`` at a time.

    Each run trains in a worker process with ``threads`` torch threads; the records are
    yielded in the order of ``runs`` as they become available.
    """
    check_positive_int("train_or_load_each", "workers", workers)
    check_positive_int("train_or_load_each", "threads", threads)
    configs = [config for config, _ in runs]
    folders = [Path(folder) for _, folder in runs]
    # spawn, not fork: a forked child of a process that has run OpenMP threads can hang.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from pool.map(_train_or_load_in_worker, configs, folders,
                            [threads] * len(runs), [retrain] * len(runs))


def _train_or_load_in_worker(config: LongRangeConfig, folder: Path, threads: int,
                             retrain: bool) -> dict[str, Any]:
    torch.set_num_threads(threads)
    return train_or_load(config, folder, retrain=retrain)
