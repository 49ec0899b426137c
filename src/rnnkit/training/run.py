"""The live objects of a training run, as :func:`~rnnkit.training.prepare.prepare_run`
builds them and :func:`~rnnkit.training.trainer.training_loop` moves them on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from rnnkit.training.config import TrainConfig
from rnnkit.training.distributed import Distributed
from rnnkit.training.precision import MixedPrecision
from rnnkit.training.progress import Progress
from rnnkit.training.schedule import LearningRateSchedule
from rnnkit.training.task import Task


@dataclass
class Run:
    """The live objects of a run, built by :func:`prepare_run`."""

    settings: TrainConfig
    task: Task
    model: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: LearningRateSchedule
    progress: Progress
    precision: MixedPrecision
    trained: nn.Module  # what the step calls: the model, or it wrapped by DDP and compile
    distributed: Distributed = field(default_factory=Distributed)
    averaged: AveragedModel | None = None  # the moving average of the weights, if kept
    state: Any = None  # the recurrent state carried to the next batch of the epoch
    step_lr: float | None = None  # the rate the last step took (the schedule's is the next)
    history: list[dict[str, Any]] = field(default_factory=list)
    resumes: list[dict[str, Any]] = field(default_factory=list)  # when and what changed

    @property
    def judged(self) -> nn.Module:
        """The model that is validated and saved: the weight average when one is kept."""
        return self.model if self.averaged is None else self.averaged.module

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device
