"""The training loop for models trained on batches of examples: pairs (G2P, translation),
and later labelled sequences.

The language-model trainer (:mod:`rnnkit.training.trainer`) walks one long token stream
with a carried state; an example task instead visits batches of independent examples, and
is judged once an epoch on held-out ones. What varies by task comes in as functions:
``batches`` (one epoch's batches, shuffled by the epoch's seed), ``loss_of`` (a model's
mean loss on a batch), ``validate`` (the held-out figures of a model), ``error_of`` (the
figure to minimize, which picks the best epoch and drives the rate decay) and ``save`` (a
checkpoint with the task's vocabularies). The loop is:

    for each epoch: batches -> loss -> backward -> clip -> step (-> average)
                    validate -> decay the rate on a plateau -> save latest (and best)

With ``average_decay`` d > 0 the loop also keeps an exponential moving average of the
weights, ``average = d * average + (1 - d) * weights`` after every step (Polyak averaging,
Keras' ``use_ema``), and it is the average that is validated and saved: it sits nearer the
middle of the region that the last few thousand noisy steps wandered over, so the epoch
chosen on validation depends less on where the last step happened to land (on Rotten
Tomatoes it narrowed the spread over seeds without raising the mean: docs/tasks.md).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from rnnkit.training.clipping import clip_gradients
from rnnkit.training.trainer import resolve_device, seed_everything
from rnnkit.validation import MAX_BATCH, MAX_SEED, Rule, check_fields

log = logging.getLogger(__name__)


class Batch(Protocol):
    """What the loop needs of a batch: to move to a device and to say how many examples."""

    def to(self, device: torch.device) -> Batch: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class ExampleTrainingConfig:
    """Optimization and bounds of an example task (task configs add their own fields)."""

    batch_size: int = 64
    lr: float = 2e-3
    lr_decay: float = 1.0  # times the rate after 2 epochs without a 1% better validation
    warmup_steps: int = 0  # batches over which the rate rises linearly to lr
    clip_norm: float = 5.0
    max_epochs: int = 10
    max_steps: int | None = None  # optimizer steps in all; the run validates where it stops
    max_time: float | None = None  # minutes of training, evaluation excluded
    validate_every: int = 1  # epochs between validations (and checkpoints); the last is
    average_decay: float = 0.0  # > 0: judge and save a moving average of the weights
    seed: int = 1337
    out_dir: str = "runs/examples"
    overwrite: bool = False  # replace the run in out_dir (rnnkit.training.run_folder)
    progress: bool = True
    device: str = "auto"
    threads: int | None = None

    # Task configs add their own fields' rules; check_fields merges them over these.
    RANGES: ClassVar[dict[str, Rule]] = {
        "batch_size": f"[1, {MAX_BATCH}]", "lr": "> 0", "lr_decay": "(0, 1]",
        "warmup_steps": ">= 0", "clip_norm": "> 0", "max_epochs": ">= 1", "max_steps": ">= 1",
        "max_time": "> 0",
        "validate_every": ">= 1", "average_decay": "[0, 1)", "seed": f"[0, {MAX_SEED}]",
        "device": ("auto", "cpu", "cuda"), "threads": "[1, 4096]",
        "split_seed": f"[0, {MAX_SEED}]", "valid_fraction": "(0, 1)",
        "test_fraction": "(0, 1)"}

    # Keys a run folder of an older rnnkit holds under another name, and today's name.
    RENAMED: ClassVar[dict[str, str]] = {"epochs": "max_epochs"}

    @classmethod
    def from_saved(cls, values: dict[str, Any]) -> Self:
        """The config a run folder saved, its renamed keys read under today's names."""
        values = dict(values)
        for old, new in cls.RENAMED.items():
            if old in values and new not in values:
                values[new] = values.pop(old)
        return cls(**values)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_fields(self)
        valid, test = getattr(self, "valid_fraction", 0.0), getattr(self, "test_fraction", 0.0)
        if valid + test >= 1.0:
            raise ValueError(f"{owner}: valid_fraction + test_fraction must be below 1 (the "
                             f"rest trains), got {valid} + {test}")


def start_run(config: ExampleTrainingConfig) -> torch.device:
    """Threads and seeds of a run; returns the device it trains on."""
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    return resolve_device(config.device)


@dataclass
class TrainedExamples:
    """What :func:`train_on_examples` did: one row per epoch and the seconds it trained."""

    history: list[dict[str, Any]]
    trained_s: float


def train_on_examples(model: nn.Module, config: ExampleTrainingConfig, *,
                      batches: Callable[[int], Sequence[Batch]],
                      loss_of: Callable[[nn.Module, Batch], Tensor],
                      validate: Callable[[nn.Module], dict[str, float]],
                      error_of: Callable[[dict[str, float]], float],
                      save: Callable[[nn.Module, list[dict[str, Any]], str], None]
                      ) -> TrainedExamples:
    """Train ``model`` (see the module docstring); checkpoints ``latest`` every epoch and
    ``best`` whenever ``error_of(validate(model))`` is the lowest yet. With
    ``average_decay`` the averaged weights are validated and saved, and copied into
    ``model`` when training ends."""
    averaged = _weight_average(model, config.average_decay)
    judged = model if averaged is None else averaged.module
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    # A gain under 1% of the error (relative) does not count: G2P's validation error
    # creeps down by a tenth of a point an epoch long after the rate should have dropped.
    schedule = (torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=config.lr_decay, patience=1, threshold=0.01, threshold_mode="rel")
                if config.lr_decay < 1.0 else None)
    history: list[dict[str, Any]] = []
    best, trained_s, steps = math.inf, 0.0, 0
    for epoch in range(config.max_epochs):
        budget_s = None if config.max_time is None else config.max_time * 60 - trained_s
        seconds, steps = _train_epoch(model, optimizer, batches(epoch), loss_of, config,
                                      epoch, steps, budget_s, averaged)
        trained_s += seconds
        out_of_time = config.max_time is not None and trained_s >= config.max_time * 60
        out_of_steps = config.max_steps is not None and steps >= config.max_steps
        stopped = out_of_time or out_of_steps
        last = stopped or epoch + 1 == config.max_epochs
        if (epoch + 1) % config.validate_every and not last:
            continue
        figures = validate(judged)
        history.append({"epoch": epoch + 1, "trained_s": round(trained_s, 1),
                        "lr": optimizer.param_groups[0]["lr"], **figures})
        log.info("epoch %d: validation %s (%.0f s of training)", epoch + 1,
                 ", ".join(f"{k} {v:.4f}" for k, v in figures.items()), trained_s)
        if schedule is not None:
            schedule.step(error_of(figures))
        save(judged, history, "latest")
        if error_of(figures) < best:
            best = error_of(figures)
            save(judged, history, "best")
        if stopped:
            break
    if averaged is not None:
        model.load_state_dict(judged.state_dict())
    return TrainedExamples(history, trained_s)


def _weight_average(model: nn.Module, decay: float) -> AveragedModel | None:
    """A copy of ``model`` whose weights (and buffers) follow the exponential moving
    average of ``model``'s with ``decay``, or ``None`` when ``decay`` is 0."""
    if decay == 0.0:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer,
                 batches: Sequence[Batch], loss_of: Callable[[nn.Module, Batch], Tensor],
                 config: ExampleTrainingConfig, epoch: int, steps: int,
                 budget_s: float | None, averaged: AveragedModel | None
                 ) -> tuple[float, int]:
    """One pass over the batches (or until ``budget_s`` seconds) from optimizer step
    ``steps``, folding each step's weights into ``averaged`` if given; returns the seconds
    it took and the steps taken by its end."""
    device = next(model.parameters()).device
    model.train()
    bar = tqdm(batches, desc=f"epoch {epoch + 1}", disable=not config.progress, unit="batch")
    seconds, examples = 0.0, 0
    for batch in bar:
        start = time.perf_counter()
        batch = batch.to(device)
        if steps < config.warmup_steps:
            for group in optimizer.param_groups:
                group["lr"] = config.lr * (steps + 1) / config.warmup_steps
        loss = loss_of(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients(model.parameters(), clip_norm=config.clip_norm, clip_value=None)
        optimizer.step()
        if averaged is not None:
            averaged.update_parameters(model)
        steps += 1
        seconds += time.perf_counter() - start
        examples += len(batch)
        bar.set_postfix({"loss": f"{loss.item():.3f}", "examples/s": f"{examples / seconds:.0f}"},
                        refresh=False)
        if budget_s is not None and seconds >= budget_s:
            break
        if config.max_steps is not None and steps >= config.max_steps:
            break
    bar.close()
    return seconds, steps
