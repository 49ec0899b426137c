"""What a run leaves behind besides checkpoints: progress bar, CSV log, TensorBoard, a plot."""

from __future__ import annotations

import csv
import logging
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from rnnkit.atomic import atomic_write_text
from rnnkit.plotting import pyplot, save_figure
from rnnkit.training.stopping import planned_steps

if TYPE_CHECKING:
    from rnnkit.training.run import Run

log = logging.getLogger(__name__)

TRAIN_FIELDS = ("step", "epoch", "tokens", "elapsed_s", "lr", "train_loss", "grad_norm",
                "clipped_norm", "tokens_per_s")
LANGUAGE_FIGURES = ("loss", "perplexity", "bits_per_token")  # a language model's validation


class RunRecords:
    """Writes ``log.csv`` (appending on resume), TensorBoard events and ``learning_curve.png``.

    On resume from step ``start_step`` the rows a run logged after that step's checkpoint
    (before it was killed) are dropped first, so the steps that run again are not logged
    twice.

    The CSV has the training columns and one ``val_<name>`` column per validation figure
    (``figure_names``: a language model's loss, perplexity and bits per token; a
    classifier's accuracy, ...). The progress bar shows loss, tokens/s and the time left.
    """

    def __init__(self, out_dir: Path, *, total_steps: int | None, start_step: int,
                 progress: bool, tensorboard: bool, max_time_s: float | None,
                 figure_names: tuple[str, ...] = LANGUAGE_FIGURES) -> None:
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = out_dir / "log.csv"
        resuming = start_step > 0 and self.csv_path.exists()
        if resuming:
            truncate_log(self.csv_path, start_step)
        self._csv_file = self.csv_path.open("a" if resuming else "w", newline="", encoding="utf-8")
        self._csv = csv.DictWriter(self._csv_file, fieldnames=csv_fields(figure_names))
        if not resuming:
            self._csv.writeheader()
        self._writer = _tensorboard_writer(out_dir / "tensorboard") if tensorboard else None
        self._bar = tqdm(total=total_steps, initial=start_step, disable=not progress,
                         unit="step", dynamic_ncols=True)
        self.max_time_s = max_time_s
        self._perplexity = "perplexity" in figure_names

    def log_train(self, row: dict[str, Any]) -> None:
        """One training row: step, epoch, tokens, elapsed_s, lr, train_loss, the gradient
        norm before and after clipping (grad_norm, clipped_norm), tokens_per_s."""
        self._csv.writerow(row)
        self._csv_file.flush()
        if self._writer is not None:
            for key in ("train_loss", "lr", "grad_norm", "tokens_per_s"):
                self._writer.add_scalar(f"train/{key}", row[key], row["step"])
        postfix = {"loss": f"{row['train_loss']:.3f}"}
        if self._perplexity:  # of a loss in nats per token
            postfix["ppl"] = f"{math.exp(min(row['train_loss'], 50)):.2f}"
        postfix |= {"tok/s": f"{row['tokens_per_s']:.0f}", "lr": f"{row['lr']:.2e}"}
        if self.max_time_s is not None:
            postfix["left"] = f"{max(0.0, self.max_time_s - row['elapsed_s']) / 60:.1f}min"
        self._bar.set_postfix(postfix, refresh=False)

    def advance(self, steps: int = 1) -> None:
        self._bar.update(steps)

    def log_validation(self, row: dict[str, Any], line: str) -> None:
        """One validation row: step, epoch, tokens, elapsed_s and the ``val_*`` figures;
        ``line`` (what was measured and the figures, as the task words them) is printed
        after the step."""
        self._csv.writerow(row)
        self._csv_file.flush()
        if self._writer is not None:
            for key, value in row.items():
                if key.startswith("val_"):
                    self._writer.add_scalar(f"valid/{key[4:]}", value, row["step"])
        # Progress goes to stderr with the bar: stdout is left to what a command answers.
        self._bar.write(f"step {row['step']}: validation {line}", file=sys.stderr)

    def write(self, text: str) -> None:
        """Print a line without breaking the progress bar."""
        self._bar.write(text)

    def close(self) -> None:
        self._bar.close()
        self._csv_file.close()
        if self._writer is not None:
            self._writer.close()
        plot_learning_curve(self.csv_path, self.out_dir / "learning_curve.png")


class QuietRecords:
    """:class:`RunRecords`' interface that records nothing: the other ranks of a
    distributed run, where rank 0 alone writes the log and draws the progress bar."""

    def log_train(self, row: dict[str, Any]) -> None:
        """Ignore a training row."""

    def advance(self, steps: int = 1) -> None:
        """Ignore progress."""

    def log_validation(self, row: dict[str, Any], line: str) -> None:
        """Ignore a validation row."""

    def write(self, text: str) -> None:
        """Ignore a line."""

    def close(self) -> None:
        """Nothing to close."""


def records_for(run: Run) -> RunRecords | QuietRecords:
    """Rank 0's progress bar, CSV log and TensorBoard; nothing on the other ranks."""
    settings = run.settings
    if not run.distributed.is_main:
        return QuietRecords()
    per_epoch = len(run.task.batches(run.progress.epoch))
    return RunRecords(Path(settings.out_dir), total_steps=planned_steps(settings, per_epoch),
                      start_step=run.progress.step, progress=settings.progress,
                      tensorboard=settings.tensorboard, figure_names=run.task.figure_names,
                      max_time_s=None if settings.max_time is None else settings.max_time * 60)


def csv_fields(figure_names: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of ``log.csv``: the training ones, then ``val_<name>`` per figure."""
    return TRAIN_FIELDS + tuple(f"val_{name}" for name in figure_names)


def truncate_log(csv_path: Path, last_step: int) -> None:
    """Keep the header and the rows of ``csv_path`` up to step ``last_step``; a last line a
    killed process left unfinished goes too."""
    lines = csv_path.read_text(encoding="utf-8").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines.pop()
    kept = lines[:1] + [line for line in lines[1:] if _row_step(line) <= last_step]
    if kept != lines:
        log.info("%s: dropped %d rows logged after step %d (the checkpoint resumed from)",
                 csv_path, len(lines) - len(kept), last_step)
        atomic_write_text(csv_path, "".join(kept))


def _row_step(line: str) -> float:
    """The step (first column) of a ``log.csv`` line; an unreadable line counts as later."""
    try:
        return float(line.split(",", 1)[0])
    except ValueError:
        return math.inf


def _tensorboard_writer(directory: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is an optional extra
        log.warning("tensorboard is not installed; skipping TensorBoard events")
        return None
    return SummaryWriter(log_dir=str(directory))


def read_log(csv_path: Path) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Split a run's ``log.csv`` into training rows and validation rows."""
    train_rows, valid_rows = [], []
    with csv_path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            values = {k: float(v) for k, v in row.items() if v not in ("", None)}
            (train_rows if "train_loss" in values else valid_rows).append(values)
    return train_rows, valid_rows


def plot_learning_curve(csv_path: Path, png_path: Path) -> None:
    """Training and validation loss against steps and against minutes, as a PNG (the
    validation loss where the task's figures have one)."""
    plt = pyplot()

    train_rows, valid_rows = read_log(csv_path)
    if not train_rows:
        return
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, key, label in ((axes[0], "step", "step"), (axes[1], "elapsed_s", "minutes")):
        scale = 60.0 if key == "elapsed_s" else 1.0
        axis.plot([r[key] / scale for r in train_rows], [r["train_loss"] for r in train_rows],
                  label="train (window)", alpha=0.6)
        if any("val_loss" in row for row in valid_rows):
            valid_rows = [row for row in valid_rows if "val_loss" in row]
            axis.plot([r[key] / scale for r in valid_rows], [r["val_loss"] for r in valid_rows],
                      "o-", label="validation")
        axis.set_xlabel(label)
        axis.set_ylabel("loss")
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    save_figure(figure, png_path, dpi=100)
