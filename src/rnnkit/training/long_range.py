"""Train a cell on a long-range task (adding problem, copy task) and score it on a test set.

Every step draws a fresh batch (the tasks are infinite), the test set is drawn once from its
own seeded stream, and the per-step gradient norm is recorded before and after clipping, so
runs show both whether a cell learns across the distance and how its gradients behaved.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from rnnkit.atomic import atomic_write_json
from rnnkit.data.long_range import ADDING_BASELINE_MSE, adding_problem, copy_task
from rnnkit.models.long_range import TASK_CELLS, LastStepRegressor, StepClassifier
from rnnkit.plotting import pyplot, save_figure
from rnnkit.validation import check_choice, check_positive_int

TASKS = ("adding", "copy")
OPTIMIZERS = ("adam", "rmsprop", "sgd")


@dataclass(frozen=True)
class LongRangeConfig:
    """One long-range run. ``length`` is T for the adding problem and the delay for copy."""

    task: str
    cell: str
    length: int = 100
    hidden_size: int = 128
    steps: int = 2000
    batch_size: int = 50
    optimizer: str = "adam"
    lr: float = 1e-3
    clip_norm: float | None = 1.0
    forget_bias: float = 1.0
    test_size: int = 1000
    eval_every: int = 100
    seed: int = 0
    copy_length: int = 10
    num_symbols: int = 8
    progress: bool = True

    def __post_init__(self) -> None:
        owner = "LongRangeConfig"
        check_choice(owner, "task", self.task, TASKS)
        check_choice(owner, "cell", self.cell, TASK_CELLS)
        check_choice(owner, "optimizer", self.optimizer, OPTIMIZERS)
        minimum = 2 if self.task == "adding" else 1
        if isinstance(self.length, bool) or not isinstance(self.length, int) \
                or self.length < minimum:
            what = "length" if self.task == "adding" else "length (the delay)"
            raise ValueError(f"{owner} needs {what} >= {minimum} for task {self.task!r}, "
                             f"got {self.length!r}")
        for name in ("hidden_size", "steps", "batch_size", "test_size", "eval_every"):
            check_positive_int(owner, name, getattr(self, name))
        if not self.lr > 0:
            raise ValueError(f"{owner} expected lr > 0, got {self.lr}")
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise ValueError(f"{owner} expected clip_norm > 0 or None, got {self.clip_norm}")


@dataclass
class LongRangeResult:
    """A finished run: its test metric, the trivial baseline, and the curve it took."""

    config: LongRangeConfig
    metric: str  # "test_mse" (adding; lower is better) or "test_accuracy" (copy)
    value: float
    baseline: float
    elapsed_s: float
    curve: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "config": asdict(self.config)}


def train_long_range(config: LongRangeConfig) -> LongRangeResult:
    """Train ``config.cell`` on ``config.task``; returns the test metric and the curve."""
    torch.manual_seed(config.seed)
    train_stream = torch.Generator().manual_seed(config.seed)
    test_batch = _draw(config, config.test_size, torch.Generator().manual_seed(config.seed + 1))
    model = _build_model(config)
    optimizer = _build_optimizer(config, model)
    result = LongRangeResult(config, *_metric_and_baseline(config), elapsed_s=0.0)
    bar = tqdm(range(1, config.steps + 1), disable=not config.progress, unit="step",
               desc=f"{config.task} {config.cell} T={config.length}")
    for step in bar:
        start = time.perf_counter()
        loss, norm, clipped = _train_step(config, model, optimizer,
                                          _draw(config, config.batch_size, train_stream))
        result.elapsed_s += time.perf_counter() - start
        row = {"step": step, "train_loss": loss, "grad_norm": norm, "clipped_norm": clipped}
        if step % config.eval_every == 0 or step == config.steps:
            row[result.metric] = result.value = evaluate(config, model, test_batch)
            bar.set_postfix(loss=f"{loss:.4f}", **{result.metric: f"{result.value:.4f}"})
        result.curve.append(row)
    return result


def evaluate(config: LongRangeConfig, model: nn.Module, batch: Any) -> float:
    """Test MSE (adding) or accuracy on the recalled symbols (copy)."""
    model.eval()
    with torch.no_grad():
        output = model(batch.inputs)
    model.train()
    if config.task == "adding":
        return float(F.mse_loss(output, batch.targets))
    hits = output.argmax(-1)[batch.recall] == batch.targets[batch.recall]
    return float(hits.double().mean())


def save_long_range_result(result: LongRangeResult, out_dir: str | Path) -> list[Path]:
    """Write ``result.json`` (config, metric, curve) and ``curve.png``; returns the paths."""
    out_dir = Path(out_dir)
    paths = [out_dir / "result.json", out_dir / "curve.png"]
    atomic_write_json(paths[0], result.to_dict())
    _plot_curve(result, paths[1])
    return paths


def _draw(config: LongRangeConfig, size: int, stream: torch.Generator) -> Any:
    if config.task == "adding":
        return adding_problem(size, config.length, stream)
    return copy_task(size, config.length, config.copy_length, config.num_symbols, stream)


def _build_model(config: LongRangeConfig) -> nn.Module:
    if config.task == "adding":
        return LastStepRegressor(config.cell, 2, config.hidden_size,
                                 forget_bias=config.forget_bias)
    return StepClassifier(config.cell, config.num_symbols + 2, config.hidden_size,
                          forget_bias=config.forget_bias)


def _build_optimizer(config: LongRangeConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=config.lr)
    return torch.optim.Adam(model.parameters(), lr=config.lr)


def _metric_and_baseline(config: LongRangeConfig) -> tuple[str, float, float]:
    if config.task == "adding":
        return "test_mse", math.nan, ADDING_BASELINE_MSE
    return "test_accuracy", math.nan, 1 / config.num_symbols


def _train_step(config: LongRangeConfig, model: nn.Module, optimizer: torch.optim.Optimizer,
                batch: Any) -> tuple[float, float, float]:
    """One update; returns the loss and the gradient norm before and after clipping."""
    output = model(batch.inputs)
    if config.task == "adding":
        loss = F.mse_loss(output, batch.targets)
    else:
        loss = F.cross_entropy(output.flatten(0, 1), batch.targets.flatten())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    limit = config.clip_norm if config.clip_norm is not None else math.inf
    norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), limit))
    optimizer.step()
    clipped = min(norm, limit) if math.isfinite(norm) else norm
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
