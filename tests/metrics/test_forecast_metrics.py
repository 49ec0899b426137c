"""MAE, RMSE and MASE against values worked by hand, and the errors MASE must raise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.metrics.forecasts import mae, mase, mase_scale, rmse


def test_mae_and_rmse_by_hand() -> None:
    # errors 1, 0, -3: |.| sum 4 over 3; squares 1 + 0 + 9 = 10 over 3
    assert mae([2.0, 2.0, 1.0], [1.0, 2.0, 4.0]) == pytest.approx(4 / 3)
    assert rmse([2.0, 2.0, 1.0], [1.0, 2.0, 4.0]) == pytest.approx(math.sqrt(10 / 3))


def test_two_dimensional_forecasts_count_every_entry() -> None:
    actual = np.array([[1.0, 2.0], [3.0, 4.0]])  # (origins, horizon)
    predicted = actual + np.array([[1.0, -1.0], [0.0, 2.0]])
    assert mae(actual, predicted) == pytest.approx(1.0)
    assert rmse(actual, predicted) == pytest.approx(math.sqrt(1.5))


def test_mase_with_season_one_is_scaled_by_the_naive_forecast() -> None:
    # training 1, 3, 2, 5: naive errors 2, 1, 3 -> scale 2; forecast MAE (1 + 2) / 2 = 1.5
    assert mase([6.0, 7.0], [5.0, 9.0], [1.0, 3.0, 2.0, 5.0], season=1) == pytest.approx(0.75)


def test_mase_with_a_season_uses_the_value_one_season_back() -> None:
    training = [10.0, 20.0, 12.0, 22.0, 14.0, 24.0]
    # season 2: |12-10|, |22-20|, |14-12|, |24-22| all 2 -> scale 2
    assert mase_scale(training, 2) == pytest.approx(2.0)
    # season 1: 10, 8, 10, 8, 10 -> scale 9.2
    assert mase_scale(training, 1) == pytest.approx(9.2)
    # forecast errors 1 and 2 -> MAE 1.5
    assert mase([16.0, 26.0], [15.0, 28.0], training, season=2) == pytest.approx(0.75)
    assert mase([16.0, 26.0], [15.0, 28.0], training, season=1) == pytest.approx(1.5 / 9.2)


def test_training_part_no_longer_than_the_season_is_refused() -> None:
    with pytest.raises(ValueError, match=r"more training values than the season \(4\).*got 4"):
        mase([1.0], [1.0], [1.0, 2.0, 3.0, 4.0], season=4)


def test_zero_scale_is_refused() -> None:
    with pytest.raises(ValueError, match=r"repeat exactly every 2 steps.*scale 0"):
        mase([1.0], [2.0], [1.0, 5.0, 1.0, 5.0, 1.0], season=2)


@pytest.mark.parametrize("season", [0, -1, 1.5, True])
def test_season_must_be_a_positive_int(season: object) -> None:
    with pytest.raises(ValueError, match="season to be a positive int"):
        mase_scale([1.0, 2.0, 3.0], season)  # type: ignore[arg-type]


def test_mismatched_empty_and_non_finite_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        mae([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least one value"):
        rmse([], [])
    with pytest.raises(ValueError, match="finite values"):
        mae([1.0, float("nan")], [1.0, 2.0])
