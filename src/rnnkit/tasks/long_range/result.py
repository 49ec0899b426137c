"""A long-range run's record: its score, baseline and curve, saved as ``result.json`` and
``curve.png``."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.atomic import atomic_write_json
from rnnkit.plotting import pyplot, save_figure
from rnnkit.tasks.long_range.config import LongRangeConfig


@dataclass
class LongRangeResult:
    """A finished run: its test metric, the trivial baseline, and the curve it took (a row
    per step: ``train_loss``, ``grad_norm`` and ``clipped_norm`` before and after clipping,
    and the metric at the steps it was measured); for copy, the accuracy per recalled
    position."""

    config: LongRangeConfig
    metric: str  # "test_mse" (adding; lower is better) or "test_accuracy" (copy, digits)
    value: float
    baseline: float
    elapsed_s: float
    curve: list[dict[str, float]] = field(default_factory=list)
    diverged_at: int | None = None  # the step whose loss was inf or NaN; training stopped there
    # The copy task's test accuracy at each recalled position, from the model the run ended
    # with (task.recall_accuracy_by_position); None for the other tasks and diverged runs.
    accuracy_by_position: list[float] | None = None

    @property
    def steps_run(self) -> int:
        """Steps trained: ``config.max_steps``, or fewer when ``config.target`` was reached."""
        return int(self.curve[-1]["step"]) if self.curve else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: infinite and NaN numbers (a diverged run's) become ``None``."""
        return finite_or_none({**asdict(self), "config": asdict(self.config),
                               "steps_run": self.steps_run})


def save_long_range_result(result: LongRangeResult, out_dir: str | Path) -> list[Path]:
    """Write ``result.json`` (config, metric, curve) and ``curve.png``; returns the paths."""
    out_dir = Path(out_dir)
    paths = [out_dir / "result.json", out_dir / "curve.png"]
    atomic_write_json(paths[0], result.to_dict())
    _plot_curve(result, paths[1])
    return paths


def finite_or_none(value: Any) -> Any:
    """``value`` with every infinite or NaN float (in dicts and lists too) made ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite_or_none(item) for item in value]
    return value


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
