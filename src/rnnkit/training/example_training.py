"""Tasks trained on batches of independent examples (classify, tag, forecast, G2P,
translation), on the one loop: :func:`train_on_examples` wraps what varies by task into an
:class:`ExampleTask` and hands it to :func:`~rnnkit.training.trainer.fit`.

A language model walks one long token stream with a carried state; an example task
instead visits batches of independent examples, and is judged once an epoch (or every
``eval_every_epochs`` epochs, and where the run stops) on held-out ones. What varies by task
comes in as functions: ``batches`` (one epoch's batches, shuffled by the epoch's seed),
``loss_of`` (a model's mean loss on a batch), ``validate`` (the held-out figures of a
model), ``error_of`` (the figure to minimize, which picks the best epoch and drives the
rate decay). The task's configuration and tables are saved with every checkpoint, so a
run resumes exactly (``resume``), and the loop's precision, compile, records and weight
averaging apply as for the language model.

With ``average_decay`` d > 0 the loop keeps an exponential moving average of the weights
and validates and saves it: it sits nearer the middle of the region that the last few
thousand noisy steps wandered over, so the epoch chosen on validation depends less on where
the last step happened to land (on Rotten Tomatoes it narrowed the spread over seeds
without raising the mean: docs/tasks.md).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

import torch
from torch import Tensor, nn

from rnnkit.training.config import TrainConfig
from rnnkit.training.distributed import Distributed
from rnnkit.training.precision import PRECISION_SETTINGS
from rnnkit.training.prepare import start_training
from rnnkit.training.task import StepLoss, figures_line
from rnnkit.training.trainer import fit
from rnnkit.validation import MAX_BATCH, MAX_SEED, Rule, check_fields

log = logging.getLogger(__name__)


class Batch(Protocol):
    """What the loop needs of a batch: to move to a device and to say how many examples;
    to train under torchrun, a dataclass whose tensors have the examples in their first
    dimension (:func:`select_rows` cuts each process's share)."""

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
    eval_every_epochs: int = 1  # epochs between validations (and checkpoints); the last is
    average_decay: float = 0.0  # > 0: judge and save a moving average of the weights
    seed: int = 1337
    out_dir: str = "runs/examples"
    resume: bool = False  # continue the run in out_dir from its latest checkpoint
    overwrite: bool = False  # replace the run in out_dir (rnnkit.training.run_folder)
    progress: bool = True
    tensorboard: bool = False  # TensorBoard events besides log.csv
    precision: str = "fp32"  # or bf16 / fp16 mixed precision (rnnkit.training.precision)
    device: str = "auto"
    threads: int | None = None
    flush_denormals: bool = True  # values below 1.18e-38 as zero (rnnkit.engine.denormals)

    # Task configs add their own fields' rules; check_fields merges them over these.
    RANGES: ClassVar[dict[str, Rule]] = {
        "batch_size": f"[1, {MAX_BATCH}]", "lr": "> 0", "lr_decay": "(0, 1]",
        "warmup_steps": ">= 0", "clip_norm": "> 0", "max_epochs": ">= 1", "max_steps": ">= 1",
        "max_time": "> 0",
        "eval_every_epochs": ">= 1", "average_decay": "[0, 1)", "seed": f"[0, {MAX_SEED}]",
        "device": ("auto", "cpu", "cuda"), "threads": "[1, 4096]", "precision": PRECISION_SETTINGS,
        "split_seed": f"[0, {MAX_SEED}]", "valid_fraction": "(0, 1)",
        "test_fraction": "(0, 1)"}

    # Keys a run folder of an older rnnkit holds under another name, and today's name.
    RENAMED: ClassVar[dict[str, str]] = {"epochs": "max_epochs",
                                          "validate_every": "eval_every_epochs"}

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


    def train_settings(self) -> TrainConfig:
        """These settings as the one loop's: Adam, the rate decayed by ``lr_decay`` on a
        plateau of the validation error (a gain under 1% of it does not count: G2P's
        validation error creeps down by a tenth of a point an epoch long after the rate
        should have dropped), validation every ``eval_every_epochs`` epochs."""
        return TrainConfig(
            batch_size=self.batch_size, optimizer="adam", lr=self.lr,
            schedule="plateau" if self.lr_decay < 1.0 else "constant",
            decay_factor=self.lr_decay, plateau_patience=1, plateau_threshold=0.01,
            warmup_steps=self.warmup_steps, clip_norm=self.clip_norm,
            max_epochs=self.max_epochs, max_steps=self.max_steps, max_time=self.max_time,
            eval_every=None, eval_every_epochs=self.eval_every_epochs,
            average_decay=self.average_decay, seed=self.seed, out_dir=self.out_dir,
            resume=self.resume, overwrite=self.overwrite, progress=self.progress,
            tensorboard=self.tensorboard, precision=self.precision, device=self.device,
            threads=self.threads, flush_denormals=self.flush_denormals)


def start_run(config: ExampleTrainingConfig) -> torch.device:
    """Threads and seeds of a run; returns the device it trains on."""
    return start_training(config.train_settings())[1]


@dataclass
class TrainedExamples:
    """What :func:`train_on_examples` did: one row per validation, the seconds it trained
    and the optimizer steps it took in all."""

    history: list[dict[str, Any]]
    trained_s: float
    steps: int = 0


class ExampleTask:
    """A :class:`~rnnkit.training.task.Task` made of an example task's functions (see the
    module docstring); ``saved_config`` and ``saved_tables`` are what its checkpoints hold
    besides the weights, ``task_state`` any generator of its own the loss draws from."""

    validates_at_end = False
    # A task's loss may call more of the model than its forward (the adversarial loss
    # embeds first; the tagger's loss is a method): the loop averages the gradients over
    # the processes itself instead of wrapping the model in DDP.
    forward_only = False
    divergence_bound = math.inf  # the loop still stops on a loss or gradient that is not finite

    def __init__(self, *, batches: Callable[[int], Sequence[Batch]],
                 loss_of: Callable[[nn.Module, Batch], Tensor],
                 validate: Callable[[nn.Module], dict[str, float]],
                 error_of: Callable[[dict[str, float]], float],
                 figure_names: tuple[str, ...], saved_config: dict[str, Any],
                 saved_tables: dict[str, Any], generator: torch.Generator | None = None,
                 count_of: Callable[[Batch], int] = len) -> None:
        self._batches, self._loss_of, self._validate = batches, loss_of, validate
        self._error_of, self.figure_names = error_of, figure_names
        self._config, self._tables, self._generator = saved_config, saved_tables, generator
        self._count_of = count_of
        self._epoch_batches: tuple[int, Sequence[Batch]] | None = None
        self._distributed = Distributed()

    def bind(self, distributed: Distributed) -> None:
        """Under torchrun each process takes its block of every batch's rows."""
        self._distributed = distributed

    def batches(self, epoch: int) -> Sequence[Batch]:
        if self._epoch_batches is None or self._epoch_batches[0] != epoch:
            self._epoch_batches = (epoch, self._batches(epoch))
        return self._epoch_batches[1]

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> StepLoss:
        """The mean loss of this process's rows; ``count_of`` says what it is the mean of
        (examples, tokens), so that the processes' losses weigh as one batch's would."""
        share = self._share(batch)
        if share is None:  # more processes than rows: take part, weigh nothing
            first = select_rows(batch, slice(0, 1)).to(next(model.parameters()).device)
            return StepLoss(self._loss_of(model, first) * 0.0, 0)
        share = share.to(next(model.parameters()).device)
        return StepLoss(self._loss_of(model, share), int(self._count_of(share)))

    def _share(self, batch: Batch) -> Batch | None:
        if not self._distributed.enabled:
            return batch
        rows, world, rank = len(batch), self._distributed.world_size, self._distributed.rank
        start, stop = rank * rows // world, (rank + 1) * rows // world
        return select_rows(batch, slice(start, stop)) if stop > start else None

    def validate(self, model: nn.Module, *, final: bool) -> dict[str, float]:
        return self._validate(model)

    def error(self, figures: dict[str, float]) -> float:
        return self._error_of(figures)

    def describe(self, figures: dict[str, float], *, final: bool) -> str:
        return figures_line(figures)

    def closing_report(self, model: nn.Module) -> str:
        return ""

    def saved_config(self) -> dict[str, Any]:
        return self._config

    def saved_tables(self) -> dict[str, Any]:
        return self._tables

    def state_dict(self) -> dict[str, Any]:
        return {} if self._generator is None else {"generator": self._generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self._generator is not None and "generator" in state:
            self._generator.set_state(state["generator"])


def select_rows(batch: Batch, rows: slice) -> Batch:
    """``rows`` of a batch dataclass: every tensor field whose first dimension is the
    batch's is cut, the rest kept."""
    size = len(batch)
    return dataclasses.replace(batch, **{
        field.name: getattr(batch, field.name)[rows] for field in dataclasses.fields(batch)
        if isinstance(getattr(batch, field.name), Tensor)
        and getattr(batch, field.name).dim() > 0 and getattr(batch, field.name).shape[0] == size})


def train_on_examples(model: nn.Module, config: ExampleTrainingConfig, task: ExampleTask
                      ) -> TrainedExamples:
    """Train ``model`` on ``task`` with ``config``'s settings (see the module docstring);
    checkpoints ``latest`` at every validation and ``best`` whenever the task's error is
    the lowest yet. With ``average_decay`` the averaged weights are validated and saved,
    and copied into ``model`` when training ends. The caller claims the run folder."""
    result = fit(model, task, config.train_settings())
    return TrainedExamples(result.history, result.elapsed_s, result.steps)
