"""Vanishing gradients, measured: the gradient-distance probe and the long-range tasks.

Runs the tanh RNN, the ReLU RNN (uniform init), the IRNN, the LSTM with forget bias 0 and 1,
the GRU, minGRU and minLSTM (1) through the gradient-versus-distance probe at initialisation,
(2) on the adding problem at T = 50, 100, 200, (3) on sequential digits and (4) on the copy
task, then writes a Markdown report with tables, commands, seeds and plots
(``docs/gradients.md`` and ``docs/figures/``). ``--num-layers 2`` stacks two layers of each
cell under the read-out.

    .venv/bin/python experiments/vanishing.py --jobs 2               # the full grid
    .venv/bin/python experiments/vanishing.py --lengths 50 --steps 300 --out /tmp/quick
    .venv/bin/python experiments/vanishing.py --cells mingru minlstm --out /tmp/minimal
    .venv/bin/python experiments/vanishing.py --cells mingru --num-layers 2 --skip-digits

Each run saves ``<runs>/<run>/result.json`` and ``curve.png`` (``--runs``, default
``runs/vanishing``); a run whose saved configuration matches is read back instead of trained
again (``--fresh`` retrains), so an interrupted grid resumes.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnkit.analysis.gradients import GradientFlow, plot_gradient_flows, probe
from rnnkit.atomic import atomic_write_text
from rnnkit.data.digits import PIXEL_ORDERS
from rnnkit.data.long_range import ADDING_BASELINE_MSE
from rnnkit.plotting import pyplot, save_figure
from rnnkit.tasks.long_range.config import LongRangeConfig
from rnnkit.tasks.long_range.training import train_or_load_each

COPY_LENGTH = 10  # symbols to recall, as in Arjovsky et al. (2016)


@dataclass(frozen=True)
class Variant:
    """A row of the report: a probe cell name, its forget bias (LSTM only) and Adam's rate.

    The IRNN gets a tenth of the others' rate: with identity recurrence, Adam at 1e-3 pushes
    the recurrent matrix past spectral radius 1 and the run stalls (Le et al. also tune the
    rate per model).
    """

    label: str
    cell: str
    forget_bias: float = 1.0
    lr: float = 1e-3


VARIANTS = (Variant("tanh RNN", "rnn_tanh"), Variant("ReLU RNN (uniform init)", "rnn_relu"),
            Variant("IRNN (ReLU, identity init)", "irnn", lr=1e-4),
            Variant("LSTM, forget bias 0", "lstm", 0.0), Variant("LSTM, forget bias 1", "lstm"),
            Variant("GRU", "gru"), Variant("minGRU (gates from the input only)", "mingru"),
            Variant("minLSTM (gates from the input only)", "minlstm"))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    figures = args.out / "figures"
    started = time.perf_counter()
    flows = [probe(v.cell, length=args.probe_length, hidden_size=args.hidden,
                   seed=args.seed, forget_bias=v.forget_bias) for v in args.variants]
    plot_gradient_flows(flows, figures / "gradient_vs_distance.png")
    grid = {} if args.skip_training else run_grid(args, args.runs)
    report = render_report(args, flows, grid, time.perf_counter() - started)
    atomic_write_text(args.out / "gradients.md", report)
    print(report)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--probe-length", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--steps", type=int, default=12000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--lr", type=float, default=None,
                        help="one Adam rate for every cell (default: each variant's own)")
    parser.add_argument("--clip-norm", type=float, default=1.0)
    parser.add_argument("--target", type=float, default=2e-3,
                        help="stop a run at the first test MSE at or below this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained side by side")
    parser.add_argument("--fresh", action="store_true", help="retrain runs saved before")
    parser.add_argument("--digits-steps", type=int, default=2000)
    parser.add_argument("--skip-digits", action="store_true", help="no sequential digits")
    parser.add_argument("--copy-delay", type=int, default=50,
                        help="steps between the symbols and the recall cue")
    parser.add_argument("--copy-steps", type=int, default=10000)
    parser.add_argument("--copy-target", type=float, default=0.99,
                        help="stop a copy run at the first recall accuracy at or above this")
    parser.add_argument("--skip-copy", action="store_true", help="no copy task")
    parser.add_argument("--skip-adding", action="store_true", help="no adding problem")
    parser.add_argument("--num-layers", type=int, default=1,
                        help="recurrent layers of each cell, stacked")
    parser.add_argument("--skip-training", action="store_true", help="only the probe")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="report and figures")
    parser.add_argument("--runs", type=Path, default=Path("runs/vanishing"),
                        help="each run's result.json and curve.png (not committed)")
    parser.add_argument("--cells", nargs="+", choices=sorted({v.cell for v in VARIANTS}),
                        help="only the rows of these cells (default: every row)")
    args = parser.parse_args()
    args.variants = tuple(v for v in VARIANTS if not args.cells or v.cell in args.cells)
    return args


def run_grid(args: argparse.Namespace, data: Path) -> dict[tuple[str, str, object], dict]:
    """Train every adding and digits run, longest first; rows keyed (task, label, column).

    The column is the length T for adding and the pixel order for digits.
    """
    runs = [] if args.skip_adding else [("adding", variant, length) for length in args.lengths
                                        for variant in args.variants]
    if not args.skip_digits:
        runs += [("digits", variant, order) for order in PIXEL_ORDERS
                 for variant in args.variants]
    if not args.skip_copy:
        runs += [("copy", variant, args.copy_delay) for variant in args.variants]
    runs.sort(key=lambda run: -expected_cost(args, *run))
    jobs = [(grid_config(args, *run), data / run_name(args, *run)) for run in runs]
    records = train_or_load_each(jobs, workers=args.jobs, threads=args.threads,
                                 retrain=args.fresh)
    rows = {}
    for (task, variant, column), record in zip(runs, records, strict=True):
        row = rows[(task, variant.label, column)] = table_row(record)
        print(f"{run_name(args, task, variant, column)}: {row['metric']} {row['value']:.4f} after "
              f"{row['steps']} steps ({row['minutes']:.1f} min)", flush=True)
    return rows


def expected_cost(args: argparse.Namespace, task: str, variant: Variant, column: object) -> float:
    """Relative run time, for ordering: steps times length, gated cells about twice as slow."""
    if task == "adding":
        length, steps = column, args.steps
    elif task == "copy":  # the column is the delay
        length, steps = 2 * COPY_LENGTH + column, args.copy_steps
    else:  # digits: 64 pixels, whatever the pixel order in the column
        length, steps = 64, args.digits_steps
    return steps * length * args.num_layers * (2 if variant.cell in ("lstm", "gru") else 1)


def run_name(args: argparse.Namespace, task: str, variant: Variant, column: object) -> str:
    """The run's folder name under ``data/``; one-layer runs keep their first names."""
    where = {"adding": f"T{column}", "copy": f"D{column}"}.get(task, column)
    layers = f"_L{args.num_layers}" if args.num_layers > 1 else ""
    return f"{task}_{where}_{variant.cell}_fb{variant.forget_bias:g}{layers}"


def grid_config(args: argparse.Namespace, task: str, variant: Variant,
                column: object) -> LongRangeConfig:
    """The configuration of one run of the grid."""
    common = dict(cell=variant.cell, hidden_size=args.hidden, batch_size=args.batch_size,
                  lr=args.lr or variant.lr, clip_norm=args.clip_norm,
                  num_layers=args.num_layers, forget_bias=variant.forget_bias,
                  seed=args.seed, progress=False)
    if task == "adding":
        return LongRangeConfig(task="adding", length=column, max_steps=args.steps,
                               target=args.target, **common)
    if task == "copy":
        return LongRangeConfig(task="copy", length=column, copy_length=COPY_LENGTH,
                               max_steps=args.copy_steps, target=args.copy_target, **common)
    return LongRangeConfig(task="digits", pixel_order=column, max_steps=args.digits_steps, **common)


def table_row(record: dict) -> dict:
    """Test metric, steps trained, minutes and rate of a saved run."""
    value = record["value"] if record["value"] is not None else float("nan")
    tested = [(row["step"], row[record["metric"]]) for row in record["curve"]
              if row.get(record["metric"]) is not None]
    return {"metric": record["metric"], "value": value, "steps": record["steps_run"],
            "minutes": record["elapsed_s"] / 60, "lr": record["config"]["lr"],
            "baseline": record["baseline"], "tested": tested,
            "by_position": record.get("accuracy_by_position")}


def plot_adding_curves(grid: dict[tuple[str, str, object], dict],
                       variants: tuple[Variant, ...], length: int, path: Path) -> None:
    """Test MSE against step for every variant at one length, in one plot."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for variant in variants:
        points = grid[("adding", variant.label, length)]["tested"]
        axis.semilogy([step for step, _ in points], [value for _, value in points],
                      label=variant.label)
    axis.axhline(ADDING_BASELINE_MSE, color="gray", linestyle="--", label="predict 1 (0.167)")
    axis.axhline(0.01, color="black", linestyle=":", linewidth=0.8, label="MSE 0.01")
    axis.set_xlabel("step")
    axis.set_ylabel("test MSE")
    axis.set_title(f"The adding problem at T = {length}")
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)


def render_report(args: argparse.Namespace, flows: list[GradientFlow],
                  grid: dict[tuple[str, str, object], dict], seconds: float) -> str:
    """The Markdown report: probe table, adding table, digits table, figures."""
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    lines = [
        "# Vanishing gradients, measured", "",
        f"Written by `{command}` on {platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} thread(s) per run, {args.jobs} run(s) at a time, "
        f"{layers_phrase(args)} of each cell under the read-out; the runs' training "
        f"took {sum(row['minutes'] for row in grid.values()):.0f} minutes in all (this "
        f"rendering {seconds / 60:.1f}, saved runs are read back). Seed {args.seed} for every "
        "run. Each run's configuration, curve and "
        f"gradient norms went to `{args.runs}/<run>/result.json` and `curve.png` (not "
        "committed: the command remakes them).", "",
        *probe_section(args, flows)]
    if grid:
        if not args.skip_adding:
            lines += adding_section(args, grid)
        if not args.skip_digits:
            lines += digits_section(args, grid)
        if not args.skip_copy:
            lines += copy_section(args, grid)
    lines += ["Clipping, the remedy for the opposite problem, is measured in "
              "[clipping.md](clipping.md).", ""]
    return "\n".join(lines)


def probe_section(args: argparse.Namespace, flows: list[GradientFlow]) -> list[str]:
    lines = [
        f"## Gradient versus distance at initialisation (T = {args.probe_length})", "",
        f"Loss at the last step only; hidden {args.hidden}, batch 32, standard-normal inputs "
        "of 8 features, float64, default initialisation of each cell. `first/last` is "
        "||dL/dh_1|| / ||dL/dh_T||; the Jacobian column is the mean over steps of the largest "
        "singular value of d state_t / d state_{t-1}.", "",
        "| cell | first/last | mean Jacobian spectral norm |", "|---|---|---|"]
    for variant, flow in zip(args.variants, flows, strict=True):
        mean_jacobian = sum(flow.jacobian_norms) / len(flow.jacobian_norms)
        lines.append(f"| {variant.label} | {flow.first_over_last:.3e} | {mean_jacobian:.3f} |")
    return [*lines, "", "![gradient versus distance](figures/gradient_vs_distance.png)", ""]


def adding_section(args: argparse.Namespace, grid: dict) -> list[str]:
    lines = [
        f"## The adding problem (hidden {args.hidden}, up to {args.steps:,} steps of batch "
        f"{args.batch_size}, Adam, clip norm {args.clip_norm:g})", "",
        "Test MSE on 1,000 held-out sequences; predicting 1 scores 0.167. A run stops at the "
        f"first evaluation (every 100 steps) with MSE <= {args.target:g}; each entry gives the "
        "MSE, the steps trained and the minutes of training.", "",
        "| cell | Adam rate | " + " | ".join(f"T = {t}" for t in args.lengths) + " |",
        "|---|---|" + "---|" * len(args.lengths)]
    for variant in args.variants:
        rows = [grid[("adding", variant.label, t)] for t in args.lengths]
        cells = [f"{row['value']:.4f} ({row['steps']:,} steps, {row['minutes']:.1f} min)"
                 for row in rows]
        lines.append(f"| {variant.label} | {rows[0]['lr']:g} | " + " | ".join(cells) + " |")
    lines.append("")
    longest = max(args.lengths)
    plot_adding_curves(grid, args.variants, longest,
                       args.out / "figures" / f"adding_T{longest}.png")
    return [*lines, f"![adding problem at T = {longest}](figures/adding_T{longest}.png)", ""]


def digits_section(args: argparse.Namespace, grid: dict) -> list[str]:
    baseline = grid[("digits", args.variants[0].label, PIXEL_ORDERS[0])]["baseline"]
    lines = [
        f"## Sequential digits (64 steps, {args.digits_steps:,} steps of batch "
        f"{args.batch_size})", "",
        "scikit-learn's 8x8 digits read one pixel per step, row by row or in one fixed "
        "random order; 1,497 training and 300 test images (seeded split); Adam at each "
        "cell's rate above, clip norm 1. Test accuracy; "
        f"naming the most common test digit every time scores {baseline:.3f}.", "",
        "| cell | " + " | ".join(f"{order} order" for order in PIXEL_ORDERS) + " |",
        "|---|" + "---|" * len(PIXEL_ORDERS)]
    for variant in args.variants:
        rows = [grid[("digits", variant.label, order)] for order in PIXEL_ORDERS]
        cells = [f"{row['value']:.3f} ({row['minutes']:.1f} min)" for row in rows]
        lines.append(f"| {variant.label} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def copy_section(args: argparse.Namespace, grid: dict) -> list[str]:
    baseline = grid[("copy", args.variants[0].label, args.copy_delay)]["baseline"]
    # four points on the way, a fifth of the budget apart, on the 100-step evaluation grid
    milestones = [int(round(args.copy_steps * part / 5, -2)) for part in range(1, 5)]
    lines = [
        f"## The copy task ({COPY_LENGTH} symbols, a delay of {args.copy_delay}, up to "
        f"{args.copy_steps:,} steps of batch {args.batch_size})", "",
        f"Read {COPY_LENGTH} symbols of 8, wait {args.copy_delay} blank steps, then write them "
        "back; accuracy on the recalled symbols only, over 1,000 held-out sequences "
        f"(guessing scores {baseline:.3f}). Adam at each cell's own rate, clip norm "
        f"{args.clip_norm:g}; a run stops at the first evaluation (every 100 steps) with "
        f"accuracy >= {args.copy_target:g}.", "",
        f"| cell | accuracy at {' / '.join(f'{step:,}' for step in milestones)} steps "
        "| recall accuracy at the end (steps, minutes) | at recalled positions 1 to "
        f"{COPY_LENGTH}, at the end |", "|---|---|---|---|"]
    for variant in args.variants:
        row = grid[("copy", variant.label, args.copy_delay)]
        tested = dict(row["tested"])
        on_the_way = " / ".join(f"{tested[step]:.3f}" if step in tested else "-"
                                for step in milestones)
        by_position = (" ".join(f"{accuracy:.2f}" for accuracy in row["by_position"])
                       if row["by_position"] else "-")
        lines.append(f"| {variant.label} | {on_the_way} | {row['value']:.3f} "
                     f"({row['steps']:,} steps, {row['minutes']:.1f} min) | {by_position} |")
    return [*lines, ""]


def layers_phrase(args: argparse.Namespace) -> str:
    return "one layer" if args.num_layers == 1 else f"{args.num_layers} stacked layers"


if __name__ == "__main__":
    main()
