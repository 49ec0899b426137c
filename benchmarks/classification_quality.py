"""Sentiment accuracy over seeds: the BiLSTM recipe against TF-IDF + logistic regression.

    python benchmarks/classification_quality.py --config rotten_tomatoes_bilstm \
        --seeds 3 [--first-seed 0] --threads 1 \
        [--set model.pooling='"max"' --set model.hidden_size=256 ...]

Trains the recipe once per seed (the split is fixed by ``split_seed``; the seed moves the
initial weights, dropout and batch order) and prints the test accuracy and macro-F1 of each
run, their mean and standard deviation, and the TF-IDF baseline fitted in the same runs
(it does not depend on the seed).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import torch
from common import machine_line, print_table

from rnnkit.tasks.classify.commands import COMMAND as CLASSIFY
from rnnkit.tasks.classify.training import train_classifier
from rnnkit.tasks.task_commands import read_task_config
from rnnkit.training.config import tomllib


@contextlib.contextmanager
def run_folder(keep_in: str | None, seed: int) -> Iterator[str]:
    """``keep_in/seed-N`` (made if missing) or a temporary folder removed afterwards."""
    if keep_in is None:
        with tempfile.TemporaryDirectory() as out_dir:
            yield out_dir
    else:
        folder = Path(keep_in) / f"seed-{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        yield str(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="src/rnnkit/recipes/rotten_tomatoes_bilstm.toml")
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds to run")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="the first seed (seeds first..first+N-1)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                        help="change one value of the recipe (VALUE in TOML: 256, '\"max\"')")
    parser.add_argument("--keep-runs", metavar="DIR",
                        help="keep each seed's run in DIR/seed-N (default: thrown away)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = CLASSIFY
    tables = read_task_config(args.config, task)
    for setting in args.set:
        name, _, value = setting.partition("=")
        table, _, key = name.partition(".")
        tables.setdefault(table, {})[key] = tomllib.loads(f"value = {value}")["value"]
    print(machine_line())
    rows, accuracies = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        start = time.perf_counter()
        with run_folder(args.keep_runs, seed) as out_dir:
            config = replace(task.config(), **{**tables.get("classify", {}), "seed": seed,
                                               "threads": args.threads, "progress": False,
                                               "out_dir": out_dir, "overwrite": True})
            results = train_classifier(config, replace(task.model_config(),
                                                       **tables.get("model", {})))
        accuracies.append(results["test"]["accuracy"])
        baseline = results["baseline_tfidf_logistic"]
        rows.append([seed, f"{results['test']['accuracy']:.4f}",
                     f"{results['test']['macro_f1']:.4f}",
                     max(results["history"], key=lambda row: row["accuracy"])["epoch"],
                     f"{baseline['accuracy']:.4f}", f"{baseline['macro_f1']:.4f}",
                     f"{results['trained_s']:.0f}", f"{time.perf_counter() - start:.0f}"])
    print(f"# split {results['split_texts']}, {results['parameters']:,} parameters")
    print_table(["seed", "BiLSTM test accuracy", "macro-F1", "epoch kept",
                 "TF-IDF + LR accuracy", "macro-F1", "training s", "wall s"], rows)
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    print(f"BiLSTM test accuracy: mean {statistics.mean(accuracies):.4f} ± {spread:.4f} "
          f"over {len(accuracies)} seeds")


if __name__ == "__main__":
    main()
