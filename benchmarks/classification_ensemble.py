"""Test accuracy of classifier runs alone and averaged: an ensemble of seeds.

    python benchmarks/classification_quality.py --config rotten_tomatoes_bilstm \
        --seeds 5 --threads 1 --keep-runs runs/rt_seeds
    python benchmarks/classification_ensemble.py runs/rt_seeds/seed-*

Loads each run's best checkpoint, scores its own run's test part (every run must share the
split and labels), and prints each run's accuracy, then the accuracy of the mean class
probabilities of the first 1, 2, ..., N runs. An ensemble is N models, N times the cost of
one at prediction time: it is reported beside single models, never in their place.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from common import machine_line, print_table

from rnnkit.metrics.labels import classification_figures
from rnnkit.tasks.classify.training import SavedClassifier, load_classification_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders (checkpoint folders)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line())
    test, labels, probabilities, rows = None, None, [], []
    for run in args.runs:
        saved = SavedClassifier.load(run)
        pairs = load_classification_data(saved.config).splits["test"]
        if test is not None and (pairs != test or saved.labels.names != labels):
            raise SystemExit(f"{run} has another test part or label table than {args.runs[0]}")
        test, labels = pairs, saved.labels.names
        probabilities.append(saved.probabilities(pairs, f"test part of {run}"))
    true = saved.labels.encode([label for _, label in test], "test part")
    singles = [classification_figures(true, p.argmax(dim=1).tolist())["accuracy"]
               for p in probabilities]
    for count in range(1, len(probabilities) + 1):
        mean = torch.stack(probabilities[:count]).mean(dim=0)
        figures = classification_figures(true, mean.argmax(dim=1).tolist())
        rows.append([args.runs[count - 1], f"{singles[count - 1]:.4f}", count,
                     f"{figures['accuracy']:.4f}", f"{figures['macro_f1']:.4f}"])
    print(f"# {len(test)} test texts")
    print_table(["run", "its accuracy", "runs averaged", "ensemble accuracy", "macro-F1"],
                rows)
    spread = statistics.stdev(singles) if len(singles) > 1 else 0.0
    print(f"single runs: mean {statistics.mean(singles):.4f} ± {spread:.4f}; "
          f"ensemble of {len(singles)}: {rows[-1][3]}")


if __name__ == "__main__":
    main()
