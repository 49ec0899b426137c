"""Train a cell on a long-range task (adding problem, copy task, sequential digits) and score it.

The synthetic tasks draw a fresh batch every step (they are infinite) and a test set once from
its own seeded stream; sequential digits samples batches from a fixed training split and
scores the held-out split. The per-step gradient norm is recorded before and after clipping,
so runs show both whether a cell learns across the distance and how its gradients behaved.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from rnnkit.atomic import atomic_write_json
from rnnkit.cells.catalog import CELL_NAMES
from rnnkit.data.digits import (
    NUM_CLASSES,
    PIXEL_ORDERS,
    PIXELS,
    load_digits,
    pixel_order,
    pixel_sequences,
    split_digits,
)
from rnnkit.data.long_range import ADDING_BASELINE_MSE, adding_problem, copy_task
from rnnkit.models.long_range import LastStepRegressor, StepClassifier
from rnnkit.plotting import pyplot, save_figure
from rnnkit.training.clipping import clip_gradients
from rnnkit.validation import (
    MAX_BATCH,
    MAX_LENGTH,
    MAX_SEED,
    MAX_SIZE,
    Rule,
    check_fields,
    check_positive_int,
)

TASKS = ("adding", "copy", "digits")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
DEFAULT_LENGTH = 100
# The digits split and pixel permutation stay fixed across training seeds, so runs that
# differ only in their seed are scored on the same images read in the same order.
DIGITS_SPLIT_SEED = 0


@dataclass(frozen=True)
class LongRangeConfig:
    """One long-range run.

    ``length`` is T for the adding problem and the delay for copy (default 100); digits are
    always read as 64 pixels, so for them it must be 64 or left out. ``test_size`` sizes the
    synthetic test sets; digits are scored on their held-out split (300 images).
    ``clip_value`` clips every gradient entry to [-v, v] and ``clip_norm`` the total norm
    (both may be set: value first). ``target`` stops training at the first evaluation that
    reaches it (test MSE at or below it; accuracy at or above it).
    """

    task: str
    cell: str
    length: int | None = None
    hidden_size: int = 128
    max_steps: int = 2000
    batch_size: int = 50
    optimizer: str = "adam"
    lr: float = 1e-3
    clip_norm: float | None = 1.0
    clip_value: float | None = None
    forget_bias: float = 1.0
    test_size: int = 1000
    eval_every: int = 100
    target: float | None = None
    seed: int = 0
    copy_length: int = 10
    num_symbols: int = 8
    pixel_order: str = "rows"
    progress: bool = True

    HELP: ClassVar[dict[str, str]] = {
        "length": "T for the adding problem, the delay for copy; none: 100",
        "max_steps": "training steps (fewer when --target is reached)",
        "clip_norm": "clip the total gradient norm; 'none' turns it off",
        "clip_value": "clip every gradient entry to [-v, v] (before --clip-norm)",
        "forget_bias": "for the LSTM",
        "test_size": "test sequences of the synthetic tasks (digits use their split)",
        "target": "stop at the first evaluation that reaches this score",
        "copy_length": "symbols to recall", "num_symbols": "symbol alphabet",
        "pixel_order": "row-major, or one fixed random permutation"}
    RANGES: ClassVar[dict[str, Rule]] = {
        "task": TASKS, "cell": CELL_NAMES, "length": f"[1, {MAX_LENGTH}]",
        "hidden_size": f"[1, {MAX_SIZE}]", "max_steps": ">= 1", "batch_size": f"[1, {MAX_BATCH}]",
        "optimizer": OPTIMIZERS, "lr": "> 0", "clip_norm": "> 0", "clip_value": "> 0",
        "test_size": f"[1, {MAX_BATCH}]", "eval_every": ">= 1", "seed": f"[0, {MAX_SEED}]",
        "copy_length": "[1, 4096]", "num_symbols": "[1, 4096]", "pixel_order": PIXEL_ORDERS}

    def __post_init__(self) -> None:
        owner = "LongRangeConfig"
        check_fields(self)
        if self.length is None:
            object.__setattr__(self, "length", PIXELS if self.task == "digits"
                               else DEFAULT_LENGTH)
        self._check_length(owner)
        ceiling = 1.0 if self.higher_is_better else math.inf
        if self.target is not None and not 0 <= self.target <= ceiling:
            raise ValueError(f"{owner} expected target in [0, {ceiling:g}] for task "
                             f"{self.task!r}, got {self.target}")

    def _check_length(self, owner: str) -> None:
        length = self.length
        if isinstance(length, bool) or not isinstance(length, int):
            raise ValueError(f"{owner} expected length to be an int, got {length!r}")
        if self.task == "digits" and length != PIXELS:
            raise ValueError(f"{owner}: the digits are read one pixel per step, so their "
                             f"length is {PIXELS}; got length {length}")
        minimum = 2 if self.task == "adding" else 1
        if length < minimum:
            what = "length" if self.task == "adding" else "length (the delay)"
            raise ValueError(f"{owner} needs {what} >= {minimum} for task {self.task!r}, "
                             f"got {length!r}")

    @property
    def higher_is_better(self) -> bool:
        """Whether the task's metric is an accuracy (else an error)."""
        return self.task != "adding"


@dataclass
class LongRangeResult:
    """A finished run: its test metric, the trivial baseline, and the curve it took."""

    config: LongRangeConfig
    metric: str  # "test_mse" (adding; lower is better) or "test_accuracy" (copy, digits)
    value: float
    baseline: float
    elapsed_s: float
    curve: list[dict[str, float]] = field(default_factory=list)
    diverged_at: int | None = None  # the step whose loss was inf or NaN; training stopped there

    @property
    def steps_run(self) -> int:
        """Steps trained: ``config.max_steps``, or fewer when ``config.target`` was reached."""
        return int(self.curve[-1]["step"]) if self.curve else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: infinite and NaN numbers (a diverged run's) become ``None``."""
        return _finite_or_none({**asdict(self), "config": asdict(self.config),
                                "steps_run": self.steps_run})


@dataclass(frozen=True)
class TaskData:
    """What a task hands the loop: a batch sampler, the test batch and the baseline score.

    ``draw(size, generator)`` returns a batch with ``inputs`` and ``targets``.
    """

    draw: Callable[[int, torch.Generator], Any]
    test_batch: Any
    metric: str
    baseline: float


def train_long_range(config: LongRangeConfig) -> LongRangeResult:
    """Train ``config.cell`` on ``config.task``; returns the test metric and the curve."""
    torch.manual_seed(config.seed)
    train_stream = torch.Generator().manual_seed(config.seed)
    data = task_data(config)
    model = build_task_model(config)
    optimizer = _build_optimizer(config, model)
    result = LongRangeResult(config, data.metric, math.nan, data.baseline, elapsed_s=0.0)
    bar = tqdm(range(1, config.max_steps + 1), disable=not config.progress, unit="step",
               desc=f"{config.task} {config.cell} T={config.length}")
    for step in bar:
        start = time.perf_counter()
        loss, norm, clipped = _train_step(config, model, optimizer,
                                          data.draw(config.batch_size, train_stream))
        result.elapsed_s += time.perf_counter() - start
        row = {"step": step, "train_loss": loss, "grad_norm": norm, "clipped_norm": clipped}
        result.curve.append(row)
        if not math.isfinite(loss):
            result.diverged_at = step
            break
        if step % config.eval_every == 0 or step == config.max_steps:
            row[result.metric] = result.value = evaluate(config, model, data.test_batch)
            bar.set_postfix(loss=f"{loss:.4f}", **{result.metric: f"{result.value:.4f}"})
            if _reached(config, result.value):
                break
    bar.close()
    return result


def task_data(config: LongRangeConfig) -> TaskData:
    """The sampler, test batch, metric and trivial baseline of ``config.task``."""
    if config.task == "digits":
        return _digits_data(config)

    def draw(size: int, stream: torch.Generator) -> Any:
        if config.task == "adding":
            return adding_problem(size, config.length, stream)
        return copy_task(size, config.length, config.copy_length, config.num_symbols, stream)

    test_batch = draw(config.test_size, torch.Generator().manual_seed(config.seed + 1))
    if config.task == "adding":
        return TaskData(draw, test_batch, "test_mse", ADDING_BASELINE_MSE)
    return TaskData(draw, test_batch, "test_accuracy", 1 / config.num_symbols)


def _digits_data(config: LongRangeConfig) -> TaskData:
    train, test = split_digits(load_digits(), seed=DIGITS_SPLIT_SEED)
    order = pixel_order(config.pixel_order, seed=DIGITS_SPLIT_SEED)

    def draw(size: int, stream: torch.Generator) -> Any:
        return pixel_sequences(train, order, torch.randint(len(train), (size,),
                                                           generator=stream))

    majority = torch.bincount(test.labels, minlength=NUM_CLASSES).max() / len(test)
    return TaskData(draw, pixel_sequences(test, order), "test_accuracy", float(majority))


def build_task_model(config: LongRangeConfig) -> nn.Module:
    """A fresh model for ``config.task``: many-to-one for adding and digits, many-to-many for
    copy."""
    if config.task == "adding":
        return LastStepRegressor(config.cell, 2, config.hidden_size,
                                 forget_bias=config.forget_bias)
    if config.task == "digits":
        return LastStepRegressor(config.cell, 1, config.hidden_size, NUM_CLASSES,
                                 forget_bias=config.forget_bias)
    return StepClassifier(config.cell, config.num_symbols + 2, config.hidden_size,
                          forget_bias=config.forget_bias)


def task_loss(config: LongRangeConfig, output: Tensor, batch: Any) -> Tensor:
    """MSE for adding; cross-entropy over every step for copy and over the class for digits."""
    if config.task == "adding":
        return F.mse_loss(output, batch.targets)
    return F.cross_entropy(output.flatten(0, -2), batch.targets.flatten())


@torch.no_grad()
def evaluate(config: LongRangeConfig, model: nn.Module, batch: Any) -> float:
    """Test MSE (adding), accuracy on the recalled symbols (copy) or on the digits."""
    model.eval()
    output = model(batch.inputs)
    model.train()
    if config.task == "adding":
        return float(F.mse_loss(output, batch.targets))
    hits = output.argmax(-1) == batch.targets
    if config.task == "copy":
        hits = hits[batch.recall]
    return float(hits.double().mean())


def save_long_range_result(result: LongRangeResult, out_dir: str | Path) -> list[Path]:
    """Write ``result.json`` (config, metric, curve) and ``curve.png``; returns the paths."""
    out_dir = Path(out_dir)
    paths = [out_dir / "result.json", out_dir / "curve.png"]
    atomic_write_json(paths[0], result.to_dict())
    _plot_curve(result, paths[1])
    return paths


def train_or_load(config: LongRangeConfig, out_dir: str | Path, *,
                  retrain: bool = False) -> dict[str, Any]:
    """Train and save a run, or read it back if ``out_dir`` already holds this exact run.

    Returns the saved record (:meth:`LongRangeResult.to_dict`). A record whose configuration
    differs in anything (``progress`` aside) is retrained and overwritten, so an interrupted
    experiment resumes where it stopped and a changed setting never reads a stale result.
    """
    saved = Path(out_dir) / "result.json"
    wanted = {**asdict(config), "progress": None}
    if not retrain and saved.is_file():
        record = json.loads(saved.read_text(encoding="utf-8"))
        if {**record.get("config", {}), "progress": None} == wanted:
            return record
    result = train_long_range(config)
    save_long_range_result(result, out_dir)
    return result.to_dict()


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


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(item) for item in value]
    return value


def _reached(config: LongRangeConfig, value: float) -> bool:
    if config.target is None:
        return False
    return value >= config.target if config.higher_is_better else value <= config.target


def _build_optimizer(config: LongRangeConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=config.lr)
    return torch.optim.Adam(model.parameters(), lr=config.lr)


def _train_step(config: LongRangeConfig, model: nn.Module, optimizer: torch.optim.Optimizer,
                batch: Any) -> tuple[float, float, float]:
    """One update; returns the loss and the gradient norm before and after clipping."""
    loss = task_loss(config, model(batch.inputs), batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm, clipped = clip_gradients(model.parameters(), clip_norm=config.clip_norm,
                                   clip_value=config.clip_value)
    optimizer.step()
    return float(loss.detach()), norm, clipped


def _plot_curve(result: LongRangeResult, path: Path) -> None:
    plt = pyplot()

    config = result.config
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    steps = [row["step"] for row in result.curve]
    axes[0].semilogy(steps, [row["train_loss"] for row in result.curve], alpha=0.5,
                     label="train loss")
    tested = [row for row in result.curve if result.metric in row]
    axes[0].semilogy([row["step"] for row in tested], [row[result.metric] for row in tested],
                     "o-", label=result.metric)
    axes[0].axhline(result.baseline, color="gray", linestyle="--", label="trivial baseline")
    axes[1].semilogy(steps, [row["grad_norm"] for row in result.curve], alpha=0.6,
                     label="gradient norm before clipping")
    for axis in axes:
        axis.set_xlabel("step")
        axis.grid(alpha=0.3, which="both")
        axis.legend()
    figure.suptitle(f"{config.task}, {config.cell}, T={config.length}, hidden "
                    f"{config.hidden_size}, seed {config.seed}")
    figure.tight_layout()
    save_figure(figure, path)
