"""Everything a run needs before its first step: :func:`start_training` (threads, seeds,
the process group, before the model is built) and :func:`prepare_run` (optimizer, schedule,
precision, the DDP wrapper; on resume, the run restored from its ``latest`` checkpoint)."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from rnnkit.training.auto_precision import choose_task_precision
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.distributed import Distributed, start_distributed
from rnnkit.training.environment import resolve_device, seed_everything
from rnnkit.training.optimizers import build_optimizer, weight_average
from rnnkit.training.precision import (
    PRECISIONS,
    MixedPrecision,
    check_precision_supported,
    precision_note,
)
from rnnkit.training.progress import Progress
from rnnkit.training.resume import restore_run
from rnnkit.training.resume_check import check_resumable, resume_record
from rnnkit.training.run import Run
from rnnkit.training.schedule import LearningRateSchedule
from rnnkit.training.stopping import planned_steps
from rnnkit.training.task import Task
from rnnkit.training.trained_module import trained_module

log = logging.getLogger(__name__)


def start_training(settings: TrainConfig) -> tuple[Distributed, torch.device]:
    """Threads, seeds and (under torchrun) the process group; returns this process's place
    and the device to build the model on. Call before building the model, so that every
    rank starts from the same weights."""
    if settings.threads:
        torch.set_num_threads(settings.threads)
    seed_everything(settings.seed)
    return start_distributed(resolve_device(settings.device))


def prepare_run(model: nn.Module, task: Task, settings: TrainConfig,
                distributed: Distributed | None = None) -> Run:
    """Optimizer, schedule, precision and the DDP wrapper around ``model``; on resume, the
    run restored from ``settings.out_dir``'s ``latest`` checkpoint."""
    distributed = distributed or Distributed()
    device = next(model.parameters()).device
    if settings.max_steps == "auto":
        raise ValueError("max_steps = 'auto' is planned before the model is built (rnnkit "
                         "train and music train plan it, rnnkit.training.step_horizon); "
                         "this run got it unplanned: give a number of steps")
    if settings.precision != "auto":
        check_precision_supported(settings.precision, device)
    if distributed.is_main and (note := precision_note(settings.precision, device)):
        log.warning(note)
    resume_from = load_checkpoint(settings.out_dir) if settings.resume else None
    changes = None if resume_from is None else check_resumable(
        resume_from.config, task.saved_config(), settings.out_dir)
    task.bind(distributed)
    precision, auto = _precision(settings, model, task, device, distributed, resume_from)
    if distributed.rank:
        seed_everything(settings.seed + distributed.rank)  # own dropout masks per rank
    optimizer = build_optimizer(model, settings)
    per_epoch = len(task.batches(0))
    schedule = LearningRateSchedule(optimizer, settings, per_epoch,
                                    planned_steps(settings, per_epoch))
    run = Run(settings, task, model, optimizer, schedule, Progress(),
              MixedPrecision(precision, device, auto),
              trained=trained_module(model, distributed, settings, ddp=task.forward_only),
              distributed=distributed,
              averaged=weight_average(model, settings.average_decay))
    if resume_from is not None:
        restore_run(run, resume_from)
        run.resumes.append(resume_record(run.progress.step, changes))
    return run


def _precision(settings: TrainConfig, model: nn.Module, task: Task, device: torch.device,
               distributed: Distributed, resume_from: Any
               ) -> tuple[str, dict[str, Any] | None]:
    """The precision the run trains in, and what ``auto`` measured (None otherwise): a
    resumed run keeps the choice it started with, so that it resumes exactly."""
    if settings.precision != "auto":
        return settings.precision, None
    saved = None if resume_from is None else resume_from.trainer_state.get(
        "precision", {}).get("auto")
    if saved is not None:
        if distributed.is_main:
            log.info("precision: %s, as precision auto chose when the run started",
                        saved["chosen"])
        return saved["chosen"], saved
    choice = choose_task_precision(model, task, device)
    chosen = choice.chosen
    if distributed.enabled:  # every rank trains in rank 0's choice
        (index,) = distributed.main_values([PRECISIONS.index(chosen)], device)
        chosen = PRECISIONS[int(index)]
    if distributed.is_main:
        log.info(choice.describe())
    return chosen, {**choice.to_dict(), "chosen": chosen}
