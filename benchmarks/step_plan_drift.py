"""How far a ``max_steps = "auto"`` plan misses, read from time-to-quality curves.

The probe times a few steps before the first and plans ``max_time`` minutes of them; its
step time is ``max_time`` over the planned steps. Each curve from
``lm_time_to_quality.py --json`` holds the training seconds at every validation (every
``--eval-every`` steps, 100 in docs/), so the run's own step time can be read for each
stretch of steps between two validations. For every run this prints the probe's step time,
the first ``--first`` steps' time per step as a fraction of it, the slowest and fastest
stretch as fractions of it, and the steps trained of those planned where the file records
them. Files written since the curves record their plans (``plans``) need only
``FILE:RECIPE``; older ones take the planned steps from their run's log:
``FILE:RECIPE:PLANNED``.

    python benchmarks/step_plan_drift.py \\
        docs/data/time_to_quality_lstm_long_shipped.json:shakespeare_char_long
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import print_table

from rnnkit.training.config import load_config_file


def stretch_seconds(curve: list[list[float]]) -> list[float]:
    """Training seconds of each stretch between validations, from the cumulative curve."""
    seconds = [point[0] for point in curve]
    return [later - earlier for earlier, later in zip([0.0, *seconds[:-1]], seconds, strict=True)]


def drift_row(path: Path, recipe: str, planned: int | None, every: int,
              first: int) -> list[object]:
    """One table row: the run's probe step time and its own step times against it."""
    if not path.is_file():
        raise SystemExit(f"{path}: no such curves file (write one with "
                         f"lm_time_to_quality.py --json)")
    saved = json.loads(path.read_text(encoding="utf-8"))
    label = f"rnnkit {recipe}"
    if label not in saved["curves"]:
        raise SystemExit(f"{path}: no curve for {recipe}; it holds "
                         f"{', '.join(name.removeprefix('rnnkit ') for name in saved['curves'])}")
    plan = saved.get("plans", {}).get(label, {})
    planned = planned or plan.get("max_steps")
    if not isinstance(planned, int):
        raise SystemExit(f"{path}: no planned steps recorded for {recipe}; give "
                         f"{path}:{recipe}:PLANNED")
    max_time = load_config_file(recipe).train.max_time
    probe = max_time * 60 / planned
    stretches = [seconds / every / probe for seconds in stretch_seconds(saved["curves"][label])]
    head = first // every
    trained = plan.get("steps")
    return [path.stem.removeprefix("time_to_quality_"), recipe, f"{probe * 1e3:.1f}",
            f"{sum(stretches[:head]) / head:.2f}",
            f"{min(stretches):.2f}-{max(stretches):.2f}", f"{planned:,}",
            "-" if trained is None else f"{trained:,} ({trained / planned:.0%})"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="FILE:RECIPE or FILE:RECIPE:PLANNED")
    parser.add_argument("--eval-every", type=int, default=100,
                        help="the steps between the curves' validations")
    parser.add_argument("--first", type=int, default=300,
                        help="the opening steps compared with the probe")
    args = parser.parse_args()
    rows = []
    for run in args.runs:
        path, recipe, *planned = run.split(":")
        rows.append(drift_row(Path(path), recipe, int(planned[0]) if planned else None,
                              args.eval_every, args.first))
    print_table(["curves", "recipe", "probe ms a step", f"first {args.first} steps / probe",
                 f"fastest-slowest {args.eval_every} steps / probe", "planned",
                 "trained (of planned)"], rows)


if __name__ == "__main__":
    main()
