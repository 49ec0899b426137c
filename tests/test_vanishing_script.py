"""experiments/vanishing.py (docs/gradients.md): the whole grid at a tiny size, every task
together, as the documented command runs it.

The runs train for two steps, so the report's numbers say nothing; what is checked is that
the grid's four parts (probe, adding, digits in both pixel orders, copy) all run, each to
its own folder, and reach the report. With digits and copy in one grid the script once
failed before training anything (its cost estimate added the copy delay to every row's
column, a digits row's pixel order included).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
TINY_GRID = ["--cells", "lstm", "--lengths", "5", "--steps", "2", "--digits-steps", "2",
             "--copy-steps", "2", "--copy-delay", "2", "--hidden", "4", "--probe-length", "5",
             "--threads", "1"]


def test_the_full_grid_runs_every_task_into_the_report(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "experiments" / "vanishing.py"), *TINY_GRID,
         "--out", str(tmp_path), "--runs", str(runs)],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = {f"{task}_lstm_fb{bias}" for task in ("adding_T5", "digits_rows",
                                                     "digits_permuted", "copy_D2")
                for bias in (0, 1)}
    assert {folder.name for folder in runs.iterdir()} == expected
    assert all((runs / name / "result.json").is_file() for name in expected)
    report = (tmp_path / "gradients.md").read_text()
    for heading in ("## Gradient versus distance at initialisation (T = 5)",
                    "## The adding problem", "## Sequential digits", "## The copy task"):
        assert heading in report
    assert (tmp_path / "figures" / "gradient_vs_distance.png").is_file()
