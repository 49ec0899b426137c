"""Exploding gradients and clipping, measured: one exploding setup, seven ways to clip.

The setup is an IRNN (ReLU, identity recurrence) on sequential digits (64 pixels, one per
step) trained with plain SGD at rate 0.05: within a few steps an update pushes the recurrent
matrix past spectral radius 1, the gradient then multiplies step after step, and an unclipped
run takes an update large enough to wreck the network. The same runs
(same seeds, same batches) are repeated with no clipping, clipping every gradient entry to
[-v, v] and clipping the total norm to c, for v, c in 1, 5, 20. Writes ``clipping.md`` (a
table per setting over the seeds) and ``figures/clipping.png`` (the loss curves in one plot).

    .venv/bin/python experiments/clipping.py --jobs 2 --out docs
"""

from __future__ import annotations

import argparse
import math
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnkit.atomic import atomic_write_text
from rnnkit.plotting import pyplot, save_figure
from rnnkit.tasks.long_range.config import LongRangeConfig
from rnnkit.tasks.long_range.training import train_or_load_each


@dataclass(frozen=True)
class Clipping:
    """One way to clip: a label and the two thresholds (``None``: not clipped that way)."""

    label: str
    clip_value: float | None = None
    clip_norm: float | None = None

    @property
    def slug(self) -> str:
        """The label as a folder name."""
        return self.label.replace(" ", "_").replace("=", "")


SETTINGS = (Clipping("no clipping"),
            *(Clipping(f"value {v:g}", clip_value=v) for v in (1.0, 5.0, 20.0)),
            *(Clipping(f"norm {c:g}", clip_norm=c) for c in (1.0, 5.0, 20.0)))


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    runs = [(setting, seed) for setting in SETTINGS for seed in args.seeds]
    jobs = [(config_for(args, setting, seed), args.runs / f"{setting.slug}_seed{seed}")
            for setting, seed in runs]
    records = []
    for (_, folder), record in zip(jobs, train_or_load_each(
            jobs, workers=args.jobs, threads=args.threads, retrain=args.fresh), strict=True):
        ending = (f"diverged at step {record['diverged_at']}" if record["diverged_at"]
                  else f"{record['metric']} {record['value']:.4f}")
        print(f"{folder.name}: {ending}", flush=True)
        records.append(record)
    by_setting = {setting: [r for (s, _), r in zip(runs, records, strict=True) if s == setting]
                  for setting in SETTINGS}
    plot_losses(by_setting, args.out / "figures" / "clipping.png")
    report = render_report(args, by_setting, time.perf_counter() - started)
    atomic_write_text(args.out / "clipping.md", report)
    print(report)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="digits", choices=("digits", "adding"))
    parser.add_argument("--cell", default="irnn")
    parser.add_argument("--length", type=int, default=100, help="T, for the adding problem")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.05, help="plain SGD's rate")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained side by side")
    parser.add_argument("--fresh", action="store_true", help="retrain runs saved before")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="report and figures")
    parser.add_argument("--runs", type=Path, default=Path("runs/clipping"),
                        help="each run's result.json and curve.png (not committed)")
    return parser.parse_args()


def config_for(args: argparse.Namespace, setting: Clipping, seed: int) -> LongRangeConfig:
    """The exploding setup with one way of clipping."""
    length = args.length if args.task == "adding" else None
    return LongRangeConfig(task=args.task, cell=args.cell, length=length,
                           hidden_size=args.hidden, max_steps=args.steps,
                           batch_size=args.batch_size, optimizer="sgd", lr=args.lr,
                           clip_norm=setting.clip_norm, clip_value=setting.clip_value,
                           seed=seed, progress=False)


def summarise(records: list[dict]) -> dict[str, str]:
    """Table cells for one setting over its seeds."""
    diverged = [r["diverged_at"] for r in records if r["diverged_at"]]
    finished = [r["value"] for r in records if not r["diverged_at"]]
    # None marks a norm that overflowed float32 (saved JSON has no infinity).
    norms = [math.inf if row["grad_norm"] is None else row["grad_norm"]
             for r in records for row in r["curve"]]
    losses = [math.inf if row["train_loss"] is None else row["train_loss"]
              for r in records for row in r["curve"]]
    clipped = [row for r in records for row in r["curve"]
               if row["grad_norm"] is not None and row["clipped_norm"] is not None
               and row["clipped_norm"] < row["grad_norm"] * (1 - 1e-6)]
    steps = sum(len(r["curve"]) for r in records)
    return {
        "diverged": f"{len(diverged)} of {len(records)}"
                    + (f" (steps {', '.join(str(s) for s in diverged)})" if diverged else ""),
        "score": (f"{statistics.median(finished):.3f} ("
                  + ", ".join(f"{value:.3f}" for value in finished) + ")") if finished else "n/a",
        "largest": f"{max(norms):.3g}",
        "loss": f"{max(losses):.3g}",
        "clipped": f"{len(clipped):,} of {steps:,}",
    }


def plot_losses(by_setting: dict[Clipping, list[dict]], path: Path) -> None:
    """Training loss against step for the first seed of every setting, in one plot."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for setting, records in by_setting.items():
        curve = records[0]["curve"]
        steps = [row["step"] for row in curve]
        losses = [row["train_loss"] if row["train_loss"] is not None else math.inf
                  for row in curve]
        smoothed = smooth(losses)
        (line,) = axes[0].semilogy(steps, smoothed, label=setting.label, alpha=0.85)
        finite = [i for i, value in enumerate(smoothed) if math.isfinite(value)]
        if records[0]["diverged_at"] and finite:
            axes[0].plot(steps[finite[-1]], smoothed[finite[-1]], "x",
                         color=line.get_color(), markersize=10)
        norms = [math.nan if row["grad_norm"] is None else row["grad_norm"] for row in curve]
        axes[1].semilogy(steps, norms, color=line.get_color(), alpha=0.5, linewidth=0.8)
    first = by_setting[SETTINGS[0]][0]
    if first["metric"] == "test_mse":
        axes[0].axhline(first["baseline"], color="gray", linestyle="--",
                        label="predict the mean")
    axes[0].set_ylabel("training loss (mean of 25 steps)")
    axes[1].set_ylabel("gradient norm before clipping")
    for axis in axes:
        axis.set_xlabel("step")
        axis.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    seed = first["config"]["seed"]
    figure.suptitle(f"Exploding gradients and clipping (seed {seed}; x: the loss became "
                    "infinite)")
    figure.tight_layout()
    save_figure(figure, path)


def smooth(values: list[float], window: int = 25) -> list[float]:
    """Trailing mean over ``window`` steps (an infinite value stays infinite)."""
    return [sum(values[max(0, i - window + 1):i + 1]) / (i + 1 - max(0, i - window + 1))
            for i in range(len(values))]


def render_report(args: argparse.Namespace, by_setting: dict[Clipping, list[dict]],
                  seconds: float) -> str:
    """The Markdown report: the setup, one table row per way of clipping, the figure."""
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    first = by_setting[SETTINGS[0]][0]
    metric = first["metric"].replace("_", " ")
    training_minutes = sum(r["elapsed_s"] for rs in by_setting.values() for r in rs) / 60
    task = (f"the adding problem at T = {args.length}" if args.task == "adding"
            else "sequential digits (64 pixels in row order)")
    lines = [
        "# Exploding gradients and clipping, measured", "",
        f"Written by `{command}` on {platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} thread(s) per run, {args.jobs} run(s) at a time; the runs' training "
        f"took {training_minutes:.0f} minutes in all (this rendering {seconds / 60:.1f}, saved "
        f"runs are read back). Seeds {', '.join(str(s) for s in args.seeds)}.", "",
        f"The setup: {args.cell} with hidden {args.hidden} on {task}, plain SGD at rate "
        f"{args.lr:g}, batch {args.batch_size}, {args.steps:,} steps. For a given seed every "
        "setting starts from the same weights and sees the same batches. A run whose loss "
        f"becomes infinite or NaN stops there (diverged). The {metric} column is the median "
        f"over the seeds that did not diverge, then each seed's (the trivial baseline scores "
        f"{first['baseline']:.3f}); largest training loss and gradient norm (before "
        "clipping) are over all steps of all seeds; clipped steps counts the steps whose "
        "gradient the clipping changed.", "",
        f"| clipping | diverged | {metric} | largest training loss | largest gradient norm "
        "| clipped steps |",
        "|---|---|---|---|---|---|",
    ]
    for setting, records in by_setting.items():
        cells = summarise(records)
        lines.append(f"| {setting.label} | {cells['diverged']} | {cells['score']} | "
                     f"{cells['loss']} | {cells['largest']} | {cells['clipped']} |")
    lines += ["", "![loss curves](figures/clipping.png)", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
