"""Rerun the short figures and print each next to its documented value (``make reproduce``).

The short figures are the demo recipe, a two-minute classification run, a two-minute
tagging run and the gradient-versus-distance probe. Each is run exactly as a user types
its command, with one thread per run (a thread count changes a run's last digits the way
a seed does), and bounded by steps or epochs, never by the clock, so that its figure does
not depend on how fast the host is.

The documented value of a figure is its mean over the seeds in ``docs/data/reproduce.json``
and its tolerance is three standard deviations of those seeds. A check run uses each
command's default seed, which is not among them, so a figure that lands inside its
tolerance is reproduced, not replayed. Two modes:

    .venv/bin/python experiments/reproduce.py --jobs 2       # check: exit status 1 if outside
    .venv/bin/python experiments/reproduce.py --jobs 2 --measure-seeds 1 2 3 4 5 \
        --reference docs/data/reproduce.json --docs docs/results.md     # the spread

The second writes the reference file and the table between the ``reproduce`` markers of
``docs/results.md``. Runs go to ``runs/reproduce/<figure>-seed<seed>``, a folder of this
script's own: a rerun overwrites its earlier runs there and nothing else.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rnnkit.atomic import atomic_write_text

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = REPOSITORY / "docs" / "data" / "reproduce.json"
DEFAULT_RUNS = Path("runs") / "reproduce"
TOLERANCE_SDS = 3.0
DOCS_BEGIN = "<!-- reproduce: begin (written by experiments/reproduce.py) -->"
DOCS_END = "<!-- reproduce: end -->"

Metrics = dict[str, float]


@dataclass(frozen=True)
class Figure:
    """One short figure: the command that makes it and how to read its metrics.

    ``command`` is the argument list after ``rnnkit``, with ``{seed}`` and ``{out}`` to fill
    in; ``default_seed`` is the seed the command uses when ``--seed`` is left out;
    ``read_metrics(out_dir, last_line)`` returns ``{metric: value}`` from the run's folder
    or the JSON line it printed last.
    """

    name: str
    title: str
    command: tuple[str, ...]
    default_seed: int
    read_metrics: Callable[[Path, str], Metrics]

    def arguments(self, seed: int, out: Path) -> list[str]:
        """The command's arguments for one run."""
        return [part.format(seed=seed, out=out) for part in self.command]

    def shown(self, seed: int | str | None = None) -> str:
        """The command as a user types it (``seed=None``: the default seed, not named)."""
        arguments = list(self.command)
        if seed is None:
            at = arguments.index("--seed")
            del arguments[at:at + 2]
        return shlex.join(["rnnkit", *(a.format(seed=seed, out="OUT") for a in arguments)])


def last_json_line(last_line: str) -> dict:
    """The result line a training command prints last."""
    return json.loads(last_line)


def language_model_metrics(_out: Path, last_line: str) -> Metrics:
    """``rnnkit train``: the final validation loss over the whole split."""
    return {"validation loss (nats/char)": last_json_line(last_line)["val_loss"]}


def classify_metrics(_out: Path, last_line: str) -> Metrics:
    """``rnnkit classify train``: test accuracy and macro-F1 of the checkpoint kept."""
    test = last_json_line(last_line)["test"]
    return {"test accuracy (%)": 100 * test["accuracy"],
            "test macro-F1 (%)": 100 * test["macro_f1"]}


def tag_metrics(_out: Path, last_line: str) -> Metrics:
    """``rnnkit tag train``: the tagger's test entity F1 and token accuracy."""
    test = last_json_line(last_line)["test"]["rnn"]
    return {"test entity F1": test["entity_f1"],
            "test token accuracy (%)": 100 * test["token_accuracy"]}


def probe_metrics(out: Path, _last_line: str) -> Metrics:
    """``rnnkit diagnose gradients``: log10 of ||dL/dh_1|| / ||dL/dh_T|| for each cell."""
    summary = json.loads((out / "summary.json").read_text())
    return {f"log10 first/last, {flow['cell']}": math.log10(flow["first_over_last"])
            for flow in summary}


FIGURES = (
    Figure("demo", "the demo recipe, 1,100 steps (make demo trains 2 minutes)",
           ("train", "--config", "shakespeare_char", "--max-steps", "1100", "--max-time",
            "none", "--seed", "{seed}", "--threads", "1", "--no-progress", "--overwrite",
            "--out-dir", "{out}"),
           1337, language_model_metrics),
    Figure("classify", "Rotten Tomatoes BiLSTM recipe, 15 epochs (2 minutes)",
           ("classify", "train", "--config", "rotten_tomatoes_bilstm", "--seed", "{seed}",
            "--threads", "1", "--no-progress", "--overwrite", "--out-dir", "{out}"),
           1337, classify_metrics),
    Figure("tag", "WNUT-16 tagger recipe, 40 epochs (2 minutes)",
           ("tag", "train", "--config", "wnut16_tagger", "--seed", "{seed}", "--threads", "1",
            "--no-progress", "--overwrite", "--out-dir", "{out}"),
           1337, tag_metrics),
    Figure("probe", "gradient versus distance at T = 100, hidden 128",
           ("diagnose", "gradients", "--cell", "rnn_tanh", "--compare", "irnn", "lstm", "gru",
            "--length", "100", "--hidden-size", "128", "--seed", "{seed}", "--out", "{out}"),
           0, probe_metrics),
)


@dataclass(frozen=True)
class Run:
    """One finished run of a figure: its seed, metrics and wall time."""

    figure: str
    seed: int
    metrics: Metrics
    wall_s: float


def run_figure(figure: Figure, seed: int, runs: Path, rnnkit: Sequence[str]) -> Run:
    """Run ``figure`` at ``seed`` under ``runs`` and read its metrics; a failed command
    raises with its last lines of output."""
    out = runs / f"{figure.name}-seed{seed}"
    started = time.perf_counter()
    done = subprocess.run([*rnnkit, *figure.arguments(seed, out)], capture_output=True,
                          text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wall_s = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise RuntimeError(f"{figure.name} (seed {seed}) exited with {done.returncode}:\n{tail}")
    lines = done.stdout.strip().splitlines()
    return Run(figure.name, seed, figure.read_metrics(out, lines[-1] if lines else ""), wall_s)


def run_all(jobs: Sequence[tuple[Figure, int]], runs: Path, workers: int,
            rnnkit: Sequence[str]) -> list[Run]:
    """Run every ``(figure, seed)``, ``workers`` at a time, printing each as it ends; the
    runs come back in the order given."""
    started = time.perf_counter()

    def one(index: int) -> Run:
        figure, seed = jobs[index]
        run = run_figure(figure, seed, runs, rnnkit)
        print(f"[{index + 1}/{len(jobs)}] {figure.name} seed {seed}: "
              + ", ".join(f"{name} {value:.4f}" for name, value in run.metrics.items())
              + f" ({run.wall_s / 60:.1f} min; {(time.perf_counter() - started) / 60:.1f} min "
              "so far)", flush=True)
        return run

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(len(jobs))))


def spread(runs: Sequence[Run], figures: Sequence[Figure]) -> dict:
    """The reference: per figure and metric, each seed's value, their mean, standard
    deviation (n - 1) and the tolerance (``TOLERANCE_SDS`` deviations)."""
    reference = {}
    for figure in figures:
        mine = [run for run in runs if run.figure == figure.name]
        metrics = {}
        for metric in mine[0].metrics:
            values = [run.metrics[metric] for run in mine]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            metrics[metric] = {"seeds": {str(run.seed): run.metrics[metric] for run in mine},
                               "mean": statistics.fmean(values), "sd": sd,
                               "tolerance": TOLERANCE_SDS * sd}
        reference[figure.name] = {"title": figure.title, "command": figure.shown("SEED"),
                                  "wall_s": [round(run.wall_s, 1) for run in mine],
                                  "metrics": metrics}
    return reference


@dataclass(frozen=True)
class Verdict:
    """A run's metric next to its documented mean and tolerance."""

    figure: str
    metric: str
    documented: float
    tolerance: float
    value: float

    @property
    def inside(self) -> bool:
        """Within the tolerance of the documented mean (the edge counts as inside)."""
        return abs(self.value - self.documented) <= self.tolerance


def judge(runs: Sequence[Run], reference: dict) -> list[Verdict]:
    """Each run's metrics against the reference; a metric the reference lacks is an error."""
    verdicts = []
    for run in runs:
        documented = reference[run.figure]["metrics"]
        for metric, value in run.metrics.items():
            if metric not in documented:
                raise KeyError(f"the reference has no {metric!r} for {run.figure}; "
                               "measure the spread again (--measure-seeds)")
            entry = documented[metric]
            verdicts.append(Verdict(run.figure, metric, entry["mean"], entry["tolerance"],
                                    value))
    return verdicts


def verdict_table(verdicts: Sequence[Verdict], runs: Sequence[Run]) -> str:
    """The check's table: each figure's metric, documented mean ± tolerance, this run."""
    wall = {run.figure: run.wall_s for run in runs}
    header = ("figure", "metric", "documented", "tolerance", "this run", "", "wall")
    rows = [(v.figure, v.metric, f"{v.documented:.4f}", f"± {v.tolerance:.4f}",
             f"{v.value:.4f}", "inside" if v.inside else "OUTSIDE",
             f"{wall[v.figure] / 60:.1f} min") for v in verdicts]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths,
                                                                           strict=True))
                     .rstrip() for row in (header, *rows))


def docs_table(reference: dict) -> str:
    """The Markdown table of the reference, as docs/results.md shows it."""
    lines = ["| figure | command (seeds as listed; default seed when checked) | metric | "
             "mean over the seeds | sd | tolerance (3 sd) | per seed |",
             "|---|---|---|---|---|---|---|"]
    for name, entry in reference.items():
        for metric, values in entry["metrics"].items():
            seeds = ", ".join(f"{seed}: {value:.4f}" for seed, value in values["seeds"].items())
            lines.append(f"| {name}: {entry['title']} | `{entry['command']}` | {metric} | "
                         f"{values['mean']:.4f} | {values['sd']:.4f} | "
                         f"± {values['tolerance']:.4f} | {seeds} |")
    return "\n".join(lines)


def write_docs_table(docs: Path, reference: dict) -> None:
    """Replace the text between the reproduce markers of ``docs`` with the table."""
    text = docs.read_text()
    if DOCS_BEGIN not in text or DOCS_END not in text:
        raise ValueError(f"{docs} has no reproduce markers ({DOCS_BEGIN!r} ... {DOCS_END!r})")
    before, rest = text.split(DOCS_BEGIN, 1)
    after = rest.split(DOCS_END, 1)[1]
    atomic_write_text(docs, f"{before}{DOCS_BEGIN}\n{docs_table(reference)}\n{DOCS_END}{after}")


def check(figures: Sequence[Figure], reference: dict, runs: Path, workers: int,
          rnnkit: Sequence[str]) -> list[Verdict]:
    """Run each figure once at its default seed and judge it against the reference."""
    for figure in figures:
        print(f"{figure.name}: {figure.shown()}", flush=True)
    done = run_all([(figure, figure.default_seed) for figure in figures], runs, workers,
                   rnnkit)
    verdicts = judge(done, reference)
    print(verdict_table(verdicts, done))
    return verdicts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (each 1 thread)")
    parser.add_argument("--only", nargs="+", choices=[f.name for f in FIGURES],
                        help="these figures only")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--runs", type=Path, default=DEFAULT_RUNS)
    parser.add_argument("--measure-seeds", type=int, nargs="+", metavar="SEED",
                        help="measure the spread over these seeds and write --reference")
    parser.add_argument("--docs", type=Path, help="with --measure-seeds: the Markdown file "
                        "whose reproduce markers get the table")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    if args.measure_seeds is not None and len(args.measure_seeds) < 2:
        parser.error(f"--measure-seeds needs two seeds or more, got {args.measure_seeds}")
    if args.measure_seeds is None and not args.reference.is_file():
        parser.error(f"--reference {args.reference} does not exist (measure it with "
                     "--measure-seeds)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    figures = [f for f in FIGURES if args.only is None or f.name in args.only]
    rnnkit = [sys.executable, "-m", "rnnkit"]
    started = time.perf_counter()
    print(f"{platform.machine()}, Python {platform.python_version()}; "
          f"{len(figures)} figure(s), {args.jobs} run(s) at a time, 1 thread each", flush=True)
    if args.measure_seeds is not None:
        jobs = [(figure, seed) for figure in figures for seed in args.measure_seeds]
        reference = spread(run_all(jobs, args.runs, args.jobs, rnnkit), figures)
        args.reference.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.reference, json.dumps(reference, indent=2) + "\n")
        print(f"wrote {args.reference}")
        if args.docs is not None:
            write_docs_table(args.docs, reference)
            print(f"wrote the table in {args.docs}")
        print(f"{(time.perf_counter() - started) / 60:.1f} min wall")
        return 0
    reference = json.loads(args.reference.read_text())
    verdicts = check(figures, reference, args.runs, args.jobs, rnnkit)
    outside = [v for v in verdicts if not v.inside]
    minutes = (time.perf_counter() - started) / 60
    if outside:
        print(f"{len(outside)} of {len(verdicts)} figures OUTSIDE their tolerance "
              f"({minutes:.1f} min wall)")
        return 1
    print(f"all {len(verdicts)} figures inside their tolerance ({minutes:.1f} min wall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
