"""The time-to-quality curves of several lm_time_to_quality.py runs in one figure.

Reads the ``--json`` files that benchmark wrote (both its layouts: ``curves`` by label,
and the first one's ``recipe``/``plain`` pair) and draws every curve, labelled by the name
given with each file, in one PNG.

    python benchmarks/plot_time_to_quality.py --out docs/figures/time_to_quality_recipes.png \
        "2-minute demo=docs/data/time_to_quality_demo.json" \
        "10-minute long=docs/data/time_to_quality_long.json" \
        "30-minute=docs/data/time_to_quality_30min.json"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lm_time_to_quality import plot


def curves_of(name: str, path: Path) -> dict[str, list[tuple[float, float]]]:
    """The curves in one --json file, labelled ``name: rnnkit`` (``name: <recipe>`` in a
    file of several recipes) or ``name: plain loop``."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    if "curves" not in saved:  # the first layout: one recipe and the plain loop
        return {f"{name}: rnnkit": saved["recipe"], f"{name}: plain loop": saved["plain"]}
    recipes = [label for label in saved["curves"] if not label.startswith("plain")]

    def short(label: str) -> str:  # a file of several recipes names each
        if label.startswith("plain"):
            return "plain loop"
        return "rnnkit" if len(recipes) == 1 else label.removeprefix("rnnkit ")

    return {f"{name}: {short(label)}": curve for label, curve in saved["curves"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=FILE")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--eval-tokens", type=int, default=100_000)
    args = parser.parse_args()
    curves: dict[str, list[tuple[float, float]]] = {}
    for run in args.runs:
        name, _, path = run.partition("=")
        curves.update(curves_of(name, Path(path)))
    plot(curves, args.eval_tokens, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
