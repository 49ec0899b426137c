"""The forecasting task end to end on a small noisy sine: configuration errors, the scaler
fitted on the training part only, short series, a training run whose checkpoint forecasts
and evaluates as the run did, and the baselines in the results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from rnnkit.data.series_windows import SplitSizes
from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.tasks.forecast.training import (
    ForecastConfig,
    evaluate_forecast_checkpoint,
    forecast_from_checkpoint,
    format_test_table,
    load_forecaster,
    load_series,
    prepare_forecast_data,
    rnn_forecasts,
    train_forecast,
)
from rnnkit.training.checkpoint import save_checkpoint


def noisy_sine(length: int = 200, seed: int = 0) -> list[float]:
    """A period-12 sine around 5 with a little noise."""
    rng = np.random.default_rng(seed)
    return [5.0 + math.sin(2 * math.pi * t / 12) + 0.1 * float(rng.standard_normal())
            for t in range(length)]


def tiny_config(out_dir: Path, **values) -> ForecastConfig:
    settings = dict(window=12, max_epochs=2, eval_every_epochs=1, season=12,
                    arima=False, out_dir=str(out_dir), progress=False, device="cpu", threads=1)
    settings.update(values)
    return ForecastConfig(**settings)


@pytest.mark.parametrize(("values", "message"), [
    (dict(dataset="airline_passengers", csv="x.csv", column="y"), "a dataset or a csv, not both"),
    (dict(csv="x.csv"), "the column to read from csv 'x.csv', got column None"),
    (dict(dataset="stocks"), 'dataset must be one of "airline_passengers", "sunspots", "co2"'),
    (dict(test_fraction=0.0), r"test_fraction must be a finite number in \(0, 1\), got 0.0"),
    (dict(valid_fraction=0.5, test_fraction=0.5),
     "valid_fraction \\+ test_fraction must be below 1"),
    (dict(window=0), r"window must be an int in \[1, \d+\], got 0"),
    (dict(season=0), "season must be an int >= 1 or None, got 0"),
])
def test_bad_configurations_are_refused(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ForecastConfig(**values)


def test_the_season_defaults_to_the_data_sets_own() -> None:
    assert ForecastConfig(dataset="airline_passengers").resolved_season == 12
    assert ForecastConfig(dataset="sunspots").resolved_season == 11
    assert ForecastConfig(dataset="co2").resolved_season == 52
    assert ForecastConfig(dataset="co2", season=4).resolved_season == 4
    assert ForecastConfig(csv="x.csv", column="y").resolved_season == 1


def test_series_come_from_values_csv_or_nowhere(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("day,sales\n1,3.5\n2,4\n", encoding="utf-8")
    assert load_series(ForecastConfig(csv=str(path), column="sales")) == ([3.5, 4.0], str(path))
    assert load_series(ForecastConfig(), [1, 2]) == ([1.0, 2.0], "values")
    with pytest.raises(ValueError, match=r"a dataset .* or a csv with its column, got neither"):
        load_series(ForecastConfig())


def test_the_scaler_sees_the_training_part_only() -> None:
    values = noisy_sine(100)
    config = tiny_config(Path("unused"), window=6)
    data = prepare_forecast_data(config, 1, values)
    assert data.sizes == SplitSizes(train=80, valid=10, test=10)
    train = np.asarray(values[:80])
    assert data.scaler.mean == pytest.approx(train.mean())
    assert data.scaler.std == pytest.approx(train.std())
    held_out_changed = values[:80] + [1000.0] * 20
    assert prepare_forecast_data(config, 1, held_out_changed).scaler == data.scaler
    np.testing.assert_allclose(data.scaled[:80].mean(), 0.0, atol=1e-12)


def test_targets_are_the_held_out_values_from_each_origin() -> None:
    data = prepare_forecast_data(tiny_config(Path("unused"), window=6), 3, noisy_sine(100))
    origins = data.origins("test")
    assert (origins[0], origins[-1]) == (90, 97)
    np.testing.assert_array_equal(data.targets("test")[0], data.values[90:93])


def test_a_series_shorter_than_the_window_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"a series of 20 values is shorter than the window "
                                         r"plus the horizon \(24 \+ 1 = 25\)"):
        prepare_forecast_data(tiny_config(Path("unused"), window=24), 1, noisy_sine(20))


def test_a_training_part_within_one_season_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"training part \(40 values\) must be longer than "
                                         r"the season \(52\)"):
        prepare_forecast_data(tiny_config(Path("unused"), window=4, season=52), 1,
                              noisy_sine(50))


def test_training_run_saves_a_checkpoint_that_forecasts_as_the_run_did(tmp_path: Path) -> None:
    config = tiny_config(tmp_path)
    values = noisy_sine()
    results = train_forecast(config, ForecasterConfig(hidden_size=8, horizon=2), values)
    assert [row["epoch"] for row in results["history"]] == [1, 2]
    assert results["split_sizes"] == {"train": 160, "valid": 20, "test": 20}
    assert results["examples"] == {"train": 147, "valid": 19, "test": 19}
    assert set(results["test"]) == {"rnn", "seasonal_naive"} and results["arima"] is None
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert saved["test"] == results["test"] and saved["seed"] == config.seed
    assert (tmp_path / "forecast.png").stat().st_size > 1000
    assert (tmp_path / "best.json").exists() and (tmp_path / "latest.json").exists()
    assert "seasonal_naive" in format_test_table(results)

    forecast = forecast_from_checkpoint(tmp_path)
    assert len(forecast) == 2 and all(math.isfinite(value) for value in forecast)
    assert forecast_from_checkpoint(tmp_path) == forecast
    model, saved_config, scaler, series = load_forecaster(tmp_path)
    assert series == values and saved_config == config
    direct = rnn_forecasts(model, scaler.transform(values), scaler, [200], 12)[0]
    np.testing.assert_allclose(direct, forecast)
    assert evaluate_forecast_checkpoint(tmp_path) == pytest.approx(results["test"]["rnn"])


def test_forecasts_continue_the_values_given(tmp_path: Path) -> None:
    train_forecast(tiny_config(tmp_path, max_epochs=1), ForecasterConfig(hidden_size=8),
                   noisy_sine())
    tail = noisy_sine(40, seed=3)
    assert forecast_from_checkpoint(tmp_path, tail) == forecast_from_checkpoint(tmp_path,
                                                                               tail[-12:])
    with pytest.raises(ValueError, match=r"at least window = 12 values .*got 11"):
        forecast_from_checkpoint(tmp_path, tail[:11])


def test_many_to_many_run_with_the_arima_baseline(tmp_path: Path) -> None:
    config = tiny_config(tmp_path, max_epochs=1, season=1, arima=True, log_transform=True)
    results = train_forecast(config, ForecasterConfig(hidden_size=8, horizon=2,
                                                      mode="many-to-many"),
                             noisy_sine(120))
    assert set(results["test"]) == {"rnn", "seasonal_naive", "arima"}
    assert len(results["arima"]["order"]) == 3
    for figures in results["test"].values():
        assert all(math.isfinite(figures[key]) for key in ("mae", "rmse", "mase"))
    # On a clean-ish sine the chosen ARIMA forecasts one step well; the naive one cannot.
    assert results["test"]["arima"]["mae"] < results["test"]["seasonal_naive"]["mae"]


def test_other_checkpoints_are_not_forecasters(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, model_state={}, config={"model": {}, "g2p": {}}, vocab={},
                    tag="best")
    with pytest.raises(ValueError, match="is not a forecasting checkpoint"):
        forecast_from_checkpoint(tmp_path)
