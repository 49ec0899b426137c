"""Short fixed-seed runs of every recipe and task, their figures recorded or checked.

The guard of the one-trainer move (issue 22): before anything moves, each shipped recipe
(``rnnkit recipes``) and each task without a recipe (G2P, translation, the long-range
tasks) trains a few steps with its seed on one thread, and every figure it reports is
recorded in ``docs/baseline/behaviour.json``: the language model's training loss at every
step and its final validation, a task's test figures, a long-range task's curve. After a
move, ``--check``
runs the same commands and compares every figure with the record (1e-6, relative to the
figure's size when it is above 1).

    python benchmarks/behaviour_baseline.py --record            # writes the record
    python benchmarks/behaviour_baseline.py --check             # compares with it
    python benchmarks/behaviour_baseline.py --check --only zaremba_small g2p

Figures that measure time (``*_s``, ``*_per_s``, ``elapsed``) or name files are left out:
they differ from run to run by nature.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnkit.atomic import atomic_write_text

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "docs" / "baseline" / "behaviour.json"
STEPS = 30
TOLERANCE = 1e-6
FILE_KEYS = ("checkpoint", "out_dir", "path", "source")


@dataclass(frozen=True)
class Case:
    """One short run: the ``rnnkit`` arguments (``{out}`` is its output folder) and how
    its figures are read back."""

    name: str
    arguments: tuple[str, ...]
    figures: Callable[[Path, str], dict[str, Any]]


def language_model_figures(out: Path, stdout: str) -> dict[str, Any]:
    """The training loss of every step (log.csv) and the run's result line."""
    with (out / "log.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    losses = [float(row["train_loss"]) for row in rows if row.get("train_loss")]
    return {"train_loss": losses, "result": last_json_line(stdout)}


def task_figures(out: Path, stdout: str) -> dict[str, Any]:
    """The JSON object a task's ``train`` prints last (its validation and test figures)."""
    return last_json_line(stdout)


def long_range_figures(out: Path, stdout: str) -> dict[str, Any]:
    """result.json without the configuration it repeats (the record is of figures)."""
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    return {key: value for key, value in result.items() if key != "config"}


def last_json_line(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError(f"no JSON line in the output:\n{stdout[-2000:]}")


def language_model_case(recipe: str, command: tuple[str, ...] = ("train",)) -> Case:
    """A language-model recipe, trained by ``command`` (``music train`` for a music one)."""
    return Case(recipe, (*command, "--config", recipe,
                         "--max-steps", str(STEPS), "--log-every", "1",
                         "--eval-every", str(STEPS), "--out-dir", "{out}", "--overwrite",
                         "--no-progress", "--no-tensorboard"), language_model_figures)


def task_case(task: str, recipe: str | None, *extra: str) -> Case:
    config = ("--config", recipe) if recipe else ()
    return Case(recipe or task, (task, "train", *config, "--max-steps", str(STEPS),
                                 "--out-dir", "{out}", "--overwrite", "--no-progress",
                                 *extra), task_figures)


def long_range_case(task: str, *extra: str) -> Case:
    return Case(f"task_{task}", ("task", task, "--cell", "lstm", "--hidden-size", "32",
                                 "--max-steps", str(STEPS), "--eval-every", "10",
                                 "--test-size", "200", "--out-dir", "{out}", "--no-progress",
                                 *extra), long_range_figures)


CASES = [
    *(language_model_case(recipe) for recipe in (
        "shakespeare_char", "shakespeare_char_long", "shakespeare_char_transformer",
        "zaremba_small", "zaremba_medium")),
    *(language_model_case(recipe, ("music", "train")) for recipe in (
        "irish_folk", "irish_folk_small", "irish_folk_small_conditioned",
        "oneills_folk_small")),
    task_case("classify", "rotten_tomatoes_bilstm"),
    task_case("tag", "pos_oanc_tagger"),
    task_case("tag", "wnut16_tagger"),
    task_case("forecast", "airline_forecast"),
    task_case("forecast", "sunspots_forecast"),
    task_case("g2p", None, "--eval-words", "200"),
    task_case("translation", None),
    long_range_case("adding", "--length", "50"),
    long_range_case("copy", "--length", "20"),
    long_range_case("digits"),
]


def run_case(case: Case) -> tuple[dict[str, Any], float]:
    """Run one case on one thread; its figures without timings and file names, and the
    seconds it took."""
    with tempfile.TemporaryDirectory(prefix=f"baseline-{case.name}-") as folder:
        out = Path(folder) / "run"
        arguments = [part.replace("{out}", str(out)) for part in case.arguments]
        environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        start = time.monotonic()
        finished = subprocess.run([sys.executable, "-m", "rnnkit", *arguments], cwd=ROOT,
                                  env=environment, capture_output=True, text=True)
        seconds = time.monotonic() - start
        if finished.returncode != 0:
            raise RuntimeError(f"{case.name}: rnnkit {' '.join(arguments)} exited "
                               f"{finished.returncode}:\n{finished.stderr[-3000:]}")
        return without_timings(case.figures(out, finished.stdout)), seconds


def is_timing_or_file(key: str) -> bool:
    """Seconds (``trained_s``), rates (``tokens_per_s``), clocks and file names."""
    return (key.endswith(("_s", "_dir", "_path", "_file")) or "per_s" in key
            or "elapsed" in key or "seconds" in key or key in FILE_KEYS)


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_timings(item) for key, item in value.items()
                if not is_timing_or_file(key)}
    if isinstance(value, list):
        return [without_timings(item) for item in value]
    return value


def differences(recorded: Any, measured: Any, where: str = "") -> Iterator[str]:
    """Where ``measured`` departs from ``recorded``: a path and the two values each."""
    if isinstance(recorded, dict) and isinstance(measured, dict):
        for key in sorted(recorded.keys() | measured.keys()):
            if key not in recorded or key not in measured:
                yield f"{where}/{key}: only in the {'record' if key in recorded else 'run'}"
            else:
                yield from differences(recorded[key], measured[key], f"{where}/{key}")
    elif isinstance(recorded, list) and isinstance(measured, list):
        if len(recorded) != len(measured):
            yield f"{where}: {len(recorded)} recorded items, {len(measured)} measured"
        for index, (old, new) in enumerate(zip(recorded, measured, strict=False)):
            yield from differences(old, new, f"{where}[{index}]")
    elif isinstance(recorded, float) or isinstance(measured, float):
        if not close(recorded, measured):
            yield f"{where}: recorded {recorded!r}, measured {measured!r}"
    elif recorded != measured:
        yield f"{where}: recorded {recorded!r}, measured {measured!r}"


def close(recorded: Any, measured: Any) -> bool:
    if not all(isinstance(value, int | float) for value in (recorded, measured)):
        return False
    if math.isnan(recorded) or math.isnan(measured):
        return math.isnan(recorded) and math.isnan(measured)
    return abs(recorded - measured) <= TOLERANCE * max(1.0, abs(recorded))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", action="store_true", help=f"write {RECORD.name}")
    mode.add_argument("--check", action="store_true", help="compare with the record")
    parser.add_argument("--only", nargs="+", metavar="CASE",
                        choices=[case.name for case in CASES], help="these cases only")
    args = parser.parse_args()
    cases = [case for case in CASES if args.only is None or case.name in args.only]
    record = json.loads(RECORD.read_text(encoding="utf-8")) if RECORD.exists() else {}
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"1 thread (OMP_NUM_THREADS=1), {STEPS} steps a case")
    print("| case | seconds | figures | differences |\n|---|---:|---:|---|")
    failed = False
    for case in cases:
        figures, seconds = run_case(case)
        found = list(differences(record.get(case.name, {}), figures)) if args.check else []
        failed = failed or bool(found)
        print(f"| {case.name} | {seconds:.0f} | {count_numbers(figures)} | "
              f"{'; '.join(found[:3]) + (' ...' if len(found) > 3 else '') or '-'} |",
              flush=True)
        if args.record:
            record[case.name] = figures
            RECORD.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(RECORD, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return 1 if failed else 0


def count_numbers(value: Any) -> int:
    if isinstance(value, dict):
        return sum(count_numbers(item) for item in value.values())
    if isinstance(value, list):
        return sum(count_numbers(item) for item in value)
    return int(isinstance(value, int | float) and not isinstance(value, bool))


if __name__ == "__main__":
    sys.exit(main())
