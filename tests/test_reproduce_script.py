"""experiments/reproduce.py (``make reproduce``): the spread it measures over seeds, the
verdict it gives a run, and the table in docs/results.md that must match its reference.

The figures here are real runs of ``rnnkit diagnose gradients`` at a tiny size, so the
script's machinery (commands, reading the results, statistics) is exercised end to end in
seconds; the shipped figures' own commands are what ``make reproduce`` runs.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

REPOSITORY = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("reproduce",
                                                  REPOSITORY / "experiments" / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["reproduce"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


reproduce = load_script()
RNNKIT = [sys.executable, "-m", "rnnkit"]
TINY_PROBE = reproduce.Figure(
    "probe", "tiny probe",
    ("diagnose", "gradients", "--cell", "rnn_tanh", "--compare", "lstm", "--length", "12",
     "--hidden-size", "8", "--batch-size", "4", "--seed", "{seed}", "--out", "{out}"),
    0, reproduce.probe_metrics)


def log_ratios(folder: Path) -> dict[str, float]:
    """log10 first/last per cell, read straight from the probe's summary.json."""
    return {flow["cell"]: math.log10(flow["first_over_last"])
            for flow in json.loads((folder / "summary.json").read_text())}


def test_spread_is_mean_and_three_sample_deviations_of_each_seeds_run(tmp_path):
    seeds = [1, 2, 3]
    runs = reproduce.run_all([(TINY_PROBE, seed) for seed in seeds], tmp_path, 2, RNNKIT)
    reference = reproduce.spread(runs, [TINY_PROBE])

    for cell in ("rnn_tanh", "lstm"):
        values = np.array([log_ratios(tmp_path / f"probe-seed{seed}")[cell] for seed in seeds])
        entry = reference["probe"]["metrics"][f"log10 first/last, {cell}"]
        assert entry["seeds"] == {str(s): pytest.approx(v) for s, v in zip(seeds, values,
                                                                          strict=True)}
        assert entry["mean"] == pytest.approx(values.mean())
        assert entry["sd"] == pytest.approx(values.std(ddof=1))
        assert entry["tolerance"] == pytest.approx(3 * values.std(ddof=1))
        assert entry["sd"] > 0  # the seeds really differ
    assert reference["probe"]["command"].startswith("rnnkit diagnose gradients")
    assert "--seed SEED" in reference["probe"]["command"]


def test_a_run_is_judged_inside_only_within_the_tolerance_of_the_mean(tmp_path):
    runs = reproduce.run_all([(TINY_PROBE, seed) for seed in (1, 2)], tmp_path, 1, RNNKIT)
    reference = reproduce.spread(runs, [TINY_PROBE])
    checked = reproduce.run_all([(TINY_PROBE, 0)], tmp_path, 1, RNNKIT)
    value = log_ratios(tmp_path / "probe-seed0")["lstm"]
    metric = reference["probe"]["metrics"]["log10 first/last, lstm"]

    metric.update(mean=value + 0.5, tolerance=0.5)  # on the edge: inside
    verdict = {v.metric: v for v in reproduce.judge(checked, reference)}
    assert verdict["log10 first/last, lstm"].inside
    assert verdict["log10 first/last, lstm"].value == pytest.approx(value)

    metric.update(mean=value - 0.6, tolerance=0.5)
    verdict = {v.metric: v for v in reproduce.judge(checked, reference)}
    assert not verdict["log10 first/last, lstm"].inside
    assert "OUTSIDE" in reproduce.verdict_table(list(verdict.values()), checked)


def test_a_failing_command_names_the_figure_and_shows_its_error(tmp_path):
    broken = reproduce.Figure("probe", "broken", ("diagnose", "gradients", "--cell", "nope",
                                                  "--seed", "{seed}", "--out", "{out}"),
                              0, reproduce.probe_metrics)
    with pytest.raises(RuntimeError, match=r"probe \(seed 3\) exited with 2:\n(.|\n)*nope"):
        reproduce.run_figure(broken, 3, tmp_path, RNNKIT)


def test_the_docs_table_is_the_reference_file():
    reference = json.loads(reproduce.DEFAULT_REFERENCE.read_text())
    results = (REPOSITORY / "docs" / "results.md").read_text()
    between = results.split(reproduce.DOCS_BEGIN, 1)[1].split(reproduce.DOCS_END, 1)[0]
    assert between.strip() == reproduce.docs_table(reference)
    assert [name for name in reference] == [figure.name for figure in reproduce.FIGURES]


def test_every_shipped_figure_shows_its_command_with_and_without_the_seed():
    for figure in reproduce.FIGURES:
        assert "--seed 7" in figure.shown(7)
        assert "--seed" not in figure.shown()
        assert figure.shown().startswith("rnnkit ")
