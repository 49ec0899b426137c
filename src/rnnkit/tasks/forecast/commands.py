"""``rnnkit forecast train|eval`` and ``rnnkit predict`` for a forecaster run: the next
values of its own series, or of a CSV series given with ``--input`` and ``--column``."""

from __future__ import annotations

from typing import Any

from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.tasks.forecast.training import ForecastConfig
from rnnkit.tasks.task_commands import TaskCommand, task_plugin


def _train(config: Any, model_config: Any) -> dict[str, Any]:
    from rnnkit.tasks.forecast.training import train_forecast

    return train_forecast(config, model_config)


def _evaluate(checkpoint: str, data_file: str | None) -> dict[str, Any]:
    from rnnkit.tasks.forecast.training import evaluate_forecast_checkpoint

    if data_file is not None:
        raise ValueError("a forecast run is scored on the test part of its own series; "
                         "train on your CSV with --csv and --column to score that")
    return evaluate_forecast_checkpoint(checkpoint)


def _predict(checkpoint: str, input_path: str | None, column: str | None) -> None:
    from rnnkit.tasks.forecast.training import forecast_from_checkpoint

    values = None if input_path is None else _series_from_csv(input_path, column)
    for value in forecast_from_checkpoint(checkpoint, values):
        print(f"{value:.6g}")


def _series_from_csv(path: str, column: str | None) -> list[float]:
    """The numeric ``column`` of the CSV at ``path`` (a forecast's history)."""
    from rnnkit.data.series import read_series
    from rnnkit.data.text import read_utf8

    if column is None:
        raise ValueError("--input with a forecast run needs --column: the CSV column that "
                         "holds the series")
    return read_series(read_utf8(path, "input file"), column, source=f"CSV {path!r}")


COMMAND = TaskCommand("forecast", "a numeric series: the next values",
                      ForecastConfig, ForecasterConfig, _train, _evaluate, _predict,
                      ("source", "parameters", "trained_s", "split_sizes", "test", "arima"))
PLUGIN = task_plugin(COMMAND)
