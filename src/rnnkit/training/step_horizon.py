"""``max_steps = "auto"``: the step bound that a run's ``max_time`` holds on this machine.

A recipe bounded by minutes still plans by steps: its cosine schedule decays to ``min_lr``
at ``max_steps``, and ``dropout = "auto"`` reads the passes those steps make. Written as a
number, the step bound is one host's speed. The ten-minute Shakespeare recipe was given the
2,700 steps that its first host took in ten minutes; a host 2.4 times as fast ends it by
steps after 4.2 minutes, and a slower one stops it by the clock before its rate has decayed.

With ``max_steps = "auto"`` the run times a few of its own training steps before the first
(forward, loss, backward, clipping and the optimizer's update, in the precision it will
train in, on its model and first batch) and plans ``max_time`` minutes of them. The number
is saved in the run's config: a resume keeps it, and the run's last log line gives the
flags that repeat it to the last digit (its steps, bounded by steps rather than the clock,
with the cosine over the planned steps where the clock stopped it first). The probe leaves
no trace: the weights and every generator are given back
as they were. A host's speed drifts within a run (by up to a third over a hundred steps
on our CPU machines, docs/parallel-rnns.md), so the clock stops some runs before their
plan (at 84-99% of it there, a cosine then 1-7% of the way from its floor to its peak,
which cost nothing measurable) and some end on their plan early. A run under
``torch.compile`` is timed eager.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from rnnkit.engine.denormals import flushed_denormals
from rnnkit.training.auto_precision import PrecisionChoice, choose_task_precision
from rnnkit.training.config import TrainConfig
from rnnkit.training.optimizers import build_optimizer
from rnnkit.training.precision import MixedPrecision
from rnnkit.training.progress import Progress
from rnnkit.training.run import Run
from rnnkit.training.schedule import LearningRateSchedule
from rnnkit.training.task import Task
from rnnkit.training.trainer import train_step

#: Timed steps, after one untimed warm-up step; the median is kept.
PROBE_STEPS = 5


@dataclass(frozen=True)
class StepHorizon:
    """What the probe measured and planned: ``steps`` of ``step_seconds`` each (the median
    of the timed steps, in ``precision``) fill ``max_time`` minutes. ``precision_choice``:
    what ``precision = "auto"`` measured to choose ``precision`` (None when it was given)."""

    steps: int
    step_seconds: float
    precision: str
    max_time: float
    precision_choice: PrecisionChoice | None = None

    def describe(self) -> str:
        """One line for the run's log."""
        return (f"max_steps auto: {self.step_seconds * 1e3:.1f} ms a step ({self.precision}, "
                f"median of {PROBE_STEPS}) plans {self.steps:,} steps in {self.max_time:g} "
                f"minutes")


def steps_in(max_time: float, step_seconds: float) -> int:
    """Whole steps of ``step_seconds`` in ``max_time`` minutes (at least one)."""
    # the small allowance keeps 0.6 s / 0.05 s at 12 steps, not at the 11.999... floats give
    return max(1, math.floor(max_time * 60 / step_seconds + 1e-9))


def plan_step_horizon(model: nn.Module, task: Task, settings: TrainConfig,
                      device: torch.device) -> StepHorizon:
    """Time :data:`PROBE_STEPS` training steps of ``model`` on ``task``'s first batch, in
    ``settings.precision`` (for ``"auto"``, the one :func:`choose_task_precision` picks), and
    plan ``settings.max_time`` minutes of them."""
    if settings.max_time is None:
        raise ValueError("max_steps = 'auto' needs max_time (the minutes to fill)")
    choice = None
    with flushed_denormals(settings.flush_denormals):  # as the run will measure and train
        if settings.precision == "auto":
            choice = choose_task_precision(model, task, device)
        precision = settings.precision if choice is None else choice.chosen
        seconds = measure_step_seconds(model, task, settings, device, precision)
    return StepHorizon(steps_in(settings.max_time, seconds), seconds, precision,
                       settings.max_time, choice)


def measure_step_seconds(model: nn.Module, task: Task, settings: TrainConfig,
                         device: torch.device, precision: str,
                         steps: int = PROBE_STEPS) -> float:
    """Median seconds of the trainer's own step (:func:`~rnnkit.training.trainer.train_step`)
    of ``model`` on ``task``'s first batch under ``precision``, with ``settings``' optimizer
    and clipping (a throwaway optimizer), the state carried from step to step as in
    training, denormals flushed as the run will flush them. The weights and the generators
    are given back as they were."""
    weights = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    optimizer = build_optimizer(model, settings)
    schedule = LearningRateSchedule(optimizer, settings, len(task.batches(0)), steps + 1)
    run = Run(settings, task, model, optimizer, schedule, Progress(),
              MixedPrecision(precision, device), trained=model)
    batch = task.batches(0)[0]
    seconds = []
    with (torch.random.fork_rng(devices=[device] if device.type == "cuda" else []),
          flushed_denormals(settings.flush_denormals)):  # timed as the run will train
        for step in range(steps + 1):  # the first step warms caches and kernels up
            start = time.perf_counter()
            train_step(run, batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if step > 0:
                seconds.append(time.perf_counter() - start)
    model.load_state_dict(weights)
    model.zero_grad(set_to_none=True)
    return statistics.median(seconds)
