"""Tables and the error-against-length plot of finished G2P runs (`rnnkit g2p train`).

    python experiments/g2p_report.py runs/g2p_additive runs/g2p_dot runs/g2p_none \
        --plot docs/figures/g2p_error_by_length.png

Prints, per run, the parameters, training time and epochs, and the test word and phoneme
error rates (greedy and beam); then word error rate by word length, the bottleneck made
visible: without attention the error grows faster with the length of the word.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rnnkit.plotting import pyplot, save_figure
from rnnkit.training.checkpoint import load_checkpoint

LENGTH_GROUPS = ((1, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 40))


def grouped(rows: list[dict], low: int, high: int) -> tuple[int, float]:
    """Words and word error rate of the words with ``low <= length <= high``."""
    chosen = [row for row in rows if low <= row["length"] <= high]
    words = sum(row["words"] for row in chosen)
    wrong = sum(row["word_error_rate"] * row["words"] for row in chosen)
    return words, wrong / max(words, 1)


def describe(config: dict) -> str:
    """A short name for a run: architecture or attention, then what differs from the
    defaults (layers, dropout, input feeding, stress)."""
    model, task = config["model"], config["g2p"]
    name = ("Transformer" if model.get("architecture") == "transformer"
            else f"{model['attention']} attention" if model["attention"] != "none"
            else "no attention")
    notes = [f"{model['num_layers']} layers"] if model["num_layers"] > 1 else []
    if model["dropout"] != 0.2:
        notes.append(f"dropout {model['dropout']:g}")
    if model["attention"] != "none" and model.get("architecture", "rnn") == "rnn" \
            and not model["input_feeding"]:
        notes.append("no input feeding")
    if task.get("strip_stress"):
        notes.append("no stress")
    return name + (f" ({', '.join(notes)})" if notes else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--plot")
    args = parser.parse_args()
    runs = {}
    for run in args.runs:
        results = json.loads((Path(run) / "results.json").read_text(encoding="utf-8"))
        runs[describe(load_checkpoint(run, tag="best").config)] = results
    print("| model | parameters | training min | epochs | test WER greedy | PER greedy "
          "| test WER beam 5 | PER beam 5 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        greedy, beam = r["test_greedy"], r["test_beam"]
        print(f"| {name} | {r['parameters']:,} | {r['trained_s'] / 60:.1f} | "
              f"{len(r['history'])} | {greedy['word_error_rate']:.2%} | "
              f"{greedy['phoneme_error_rate']:.2%} | {beam['word_error_rate']:.2%} | "
              f"{beam['phoneme_error_rate']:.2%} |")
    print()
    header = " | ".join(f"{low}-{high}" if high < 40 else f"{low}+"
                        for low, high in LENGTH_GROUPS)
    print(f"| greedy test WER by word length | {header} |")
    print("|---|" + "---|" * len(LENGTH_GROUPS))
    for name, r in runs.items():
        cells = [grouped(r["test_by_length"], low, high) for low, high in LENGTH_GROUPS]
        print(f"| {name} | " + " | ".join(f"{wer:.1%} ({n:,})" for n, wer in cells) + " |")
    if args.plot:
        plt = pyplot()
        figure, axis = plt.subplots(figsize=(6.4, 4.0))
        for name, r in runs.items():
            rows = [row for row in r["test_by_length"] if row["words"] >= 20]
            axis.plot([row["length"] for row in rows],
                      [row["word_error_rate"] for row in rows], marker="o", label=name)
        axis.set_xlabel("word length (letters; lengths with at least 20 test words)")
        axis.set_ylabel("test word error rate (greedy)")
        axis.set_title("G2P on CMUdict: error against source length")
        axis.legend(fontsize="small")
        axis.grid(alpha=0.3)
        figure.tight_layout()
        print(save_figure(figure, args.plot))


if __name__ == "__main__":
    main()
