"""The forecasting baselines: seasonal naive against hand values, and ARIMA that beats the
mean on an AR(1) series, never sees past its origin, and matches statsmodels' own forecast."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.tasks.forecast.baselines import (
    ArimaChoice,
    arima_candidates,
    arima_forecasts,
    choose_arima,
    seasonal_naive_forecasts,
)

SEASONAL = [10.0, 20.0, 30.0, 40.0, 11.0, 21.0, 31.0, 41.0]  # season 4


def ar1(length: int, coefficient: float = 0.8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = np.zeros(length)
    for t in range(1, length):
        values[t] = coefficient * values[t - 1] + rng.standard_normal()
    return values


def test_seasonal_naive_repeats_the_last_observed_season() -> None:
    # origin 8 (after the whole series): h 1..4 are the last season, h 5, 6 wrap around it
    forecast = seasonal_naive_forecasts(SEASONAL, [8], horizon=6, season=4)
    np.testing.assert_array_equal(forecast, [[11.0, 21.0, 31.0, 41.0, 11.0, 21.0]])
    # origin 6: indices 2, 3 (one season before 6, 7), then 4 (one season before 8)
    forecast = seasonal_naive_forecasts(SEASONAL, [6, 4], horizon=3, season=4)
    np.testing.assert_array_equal(forecast, [[30.0, 40.0, 11.0], [10.0, 20.0, 30.0]])


def test_season_one_is_the_naive_forecast() -> None:
    forecast = seasonal_naive_forecasts(SEASONAL, [3, 5], horizon=2, season=1)
    np.testing.assert_array_equal(forecast, [[30.0, 30.0], [11.0, 11.0]])


def test_seasonal_naive_needs_a_season_of_history() -> None:
    with pytest.raises(ValueError, match=r"between the season \(4\) and the series length "
                                         r"\(8\), got 3"):
        seasonal_naive_forecasts(SEASONAL, [3], horizon=1, season=4)


def test_the_airline_model_is_a_candidate_only_for_short_seasons_with_data() -> None:
    def seasonal(season: int, length: int) -> list[tuple]:
        return [c.seasonal_order for c in arima_candidates(season, length)
                if c.seasonal_order != (0, 0, 0, 0)]

    assert seasonal(12, 116) == [(0, 1, 1, 12)]
    assert seasonal(52, 1800) == []  # too many states to fit quickly
    assert seasonal(12, 30) == []  # under three seasons
    assert seasonal(1, 100) == []
    assert len(arima_candidates(1, 100)) == 12


def test_arima_on_ar1_beats_the_mean_one_step_ahead() -> None:
    values = ar1(260)
    choice = choose_arima(values[:200], season=1)
    assert np.isfinite(choice.aic)
    forecast = arima_forecasts(values, 220, range(220, 260), 1, choice)
    truth = values[220:260, None]
    arima_error = np.mean((forecast - truth) ** 2)
    mean_error = np.mean((values[:220].mean() - truth) ** 2)
    assert forecast.shape == (40, 1)
    assert arima_error < 0.7 * mean_error


def test_arima_forecasts_never_see_past_their_origin() -> None:
    values = ar1(120, seed=1)
    choice = ArimaChoice((1, 0, 0), trend="c")
    forecast = arima_forecasts(values, 100, [105, 110], 3, choice)
    changed = values.copy()
    changed[108:] += 50.0  # after origin 105's history, inside origin 110's
    again = arima_forecasts(changed, 100, [105, 110], 3, choice)
    np.testing.assert_allclose(forecast[0], again[0])
    assert not np.allclose(forecast[1], again[1])


def test_arima_forecasts_equal_a_forecast_from_the_truncated_results() -> None:
    from statsmodels.tsa.arima.model import ARIMA
    from threadpoolctl import threadpool_limits

    values = ar1(120, seed=2)
    choice = ArimaChoice((1, 0, 1), trend="c")
    forecast = arima_forecasts(values, 100, [100, 107], 2, choice)
    with threadpool_limits(limits=1, user_api="blas"):  # tiny matrices: threads only wait
        fitted = ARIMA(values[:100], order=(1, 0, 1), trend="c").fit()
        expected = [fitted.forecast(2), fitted.append(values[100:107]).forecast(2)]
    np.testing.assert_allclose(forecast, expected, rtol=1e-6)


def test_origins_before_the_fitted_part_are_refused() -> None:
    with pytest.raises(ValueError, match=r"origins in 100..118.*got 99"):
        arima_forecasts(ar1(120), 100, [99], 2, ArimaChoice((1, 0, 0), trend="c"))
