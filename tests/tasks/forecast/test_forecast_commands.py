"""`rnnkit train --task forecast` on a CSV of yours, then `rnnkit predict` and `rnnkit eval`
on the run it wrote."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rnnkit.cli import main


def write_series(path: Path, count: int) -> Path:
    rows = [f"{step},{10 + math.sin(step / 3) + step / 50:.4f}" for step in range(count)]
    path.write_text("step,level\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_train_predict_and_eval_a_forecast_run_from_the_command_line(tmp_path: Path,
                                                                   capsys) -> None:
    series = write_series(tmp_path / "series.csv", 80)
    run = tmp_path / "run"
    assert main(["train", "--task", "forecast", "--csv", str(series), "--column", "level",
                 "--window", "8", "--season", "1", "--max-epochs", "3", "--eval-every-epochs", "1",
                 "--hidden-size", "4", "--horizon", "2", "--relative", "--no-arima",
                 "--no-progress", "--device", "cpu", "--out-dir", str(run)]) == 0
    reported = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert set(reported["test"]) == {"rnn", "seasonal_naive"}
    assert (run / "forecast.png").is_file()

    assert main(["predict", "--checkpoint", str(run)]) == 0
    values = [float(line) for line in capsys.readouterr().out.split()]
    assert len(values) == 2 and all(math.isfinite(v) for v in values)
    assert main(["eval", "--checkpoint", str(run)]) == 0
    assert json.loads(capsys.readouterr().out) == reported["test"]["rnn"]

    short = write_series(tmp_path / "short.csv", 5)
    assert main(["predict", "--checkpoint", str(run), "--input", str(short),
                 "--column", "level"]) == 1
    assert "needs at least window = 8 values" in capsys.readouterr().err
    assert main(["predict", "--checkpoint", str(run), "--input", str(short)]) == 1
    assert "needs --column" in capsys.readouterr().err
