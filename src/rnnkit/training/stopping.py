"""When a run stops: its bounds (steps, epochs, minutes, a target error, early stopping),
and a loss or gradient that stops being finite."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from rnnkit.training.config import TrainConfig
from rnnkit.training.progress import Progress

if TYPE_CHECKING:
    from rnnkit.training.run import Run


class TrainingDivergedError(RuntimeError):
    """Raised when the loss or the gradient stops being finite (or explodes); ``step``,
    ``loss`` and ``grad_norm`` are the step that did and its figures."""

    def __init__(self, message: str, *, step: int, loss: float, grad_norm: float) -> None:
        super().__init__(message)
        self.step, self.loss, self.grad_norm = step, loss, grad_norm


def stop_reason(settings: TrainConfig, progress: Progress) -> str | None:
    """Why the run stops now, or ``None`` while no bound is reached."""
    if settings.max_steps is not None and progress.step >= settings.max_steps:
        return f"reached max_steps={settings.max_steps}"
    if settings.max_epochs is not None and progress.epoch >= settings.max_epochs:
        return f"reached max_epochs={settings.max_epochs}"
    if settings.max_time is not None and progress.elapsed_s >= settings.max_time * 60:
        return f"reached max_time={settings.max_time} minutes"
    if settings.target_error is not None and progress.best_error <= settings.target_error:
        return f"reached target_error={settings.target_error:g}"
    patience = settings.early_stop_patience
    if patience is not None and progress.evals_since_best >= patience:
        return f"early stop: no improvement in {patience} validations"
    return None


def planned_steps(settings: TrainConfig, per_epoch: int) -> int | None:
    """The step bound the settings give with ``per_epoch`` steps an epoch (``None``: only
    time bounds the run)."""
    bounds = [settings.max_steps] if settings.max_steps is not None else []
    if settings.max_epochs is not None:
        bounds.append(settings.max_epochs * per_epoch)
    return min(bounds) if bounds else None


def check_finite(run: Run, loss: float, grad_norm: float,
                 clipped_norm: float | None = None) -> None:
    """Stop before a bad update reaches the weights; name the last good checkpoint.

    The gradient that counts is the one applied, ``clipped_norm`` when given: a gradient
    whose norm overflowed float32 but whose entries clipping by value brought back is a
    finite update."""
    applied = grad_norm if clipped_norm is None else clipped_norm
    # Under fp16 an overflowing gradient is routine: the scaler skips the step.
    finite_gradient = math.isfinite(applied) or run.precision.tolerates_overflow
    if math.isfinite(loss) and finite_gradient and loss < run.task.divergence_bound:
        return
    step = run.progress.step + 1
    out_dir = Path(run.settings.out_dir)
    kept = (f"the last good checkpoint is kept in {out_dir}"
            if (out_dir / "latest.json").exists() else "no checkpoint had been saved yet")
    raise TrainingDivergedError(
        f"training diverged at step {step}: loss {loss:.4g}, gradient norm {grad_norm:.4g}; "
        f"{kept}. Try a lower lr (now {run.schedule.lr:.3g}) or clip_norm.",
        step=step, loss=loss, grad_norm=grad_norm)
