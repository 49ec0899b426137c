"""Errors of point forecasts: MAE, RMSE and MASE, in the series' own units.

MASE (Hyndman & Koehler 2006, "Another look at measures of forecast accuracy") divides the
forecasts' MAE by the in-sample MAE of the seasonal naive forecast on the training part,

    scale = mean(|y[t] - y[t - season]|  for t = season .. n - 1)   (training values y)
    MASE  = MAE / scale

so a MASE under 1 beats, on the forecasts scored, what the seasonal naive method did one
step ahead in the training part; it is free of the series' units and defined wherever the
training part is not constant by season.

``actual`` and ``predicted`` may be flat sequences or arrays of any equal shape (e.g.
``(origins, horizon)``); every entry counts once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["mae", "mase", "mase_scale", "rmse"]


def mae(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Mean absolute error of ``predicted`` against ``actual``.

    Example:
        >>> mae([1.0, 2.0, 4.0], [2.0, 2.0, 1.0])
        1.3333333333333333
    """
    truth, guess = _pair("mae", actual, predicted)
    return float(np.mean(np.abs(truth - guess)))


def rmse(actual: ArrayLike, predicted: ArrayLike) -> float:
    """Root mean squared error of ``predicted`` against ``actual``.

    Example:
        >>> rmse([1.0, 2.0, 4.0], [2.0, 2.0, 1.0])
        1.8257418583505538
    """
    truth, guess = _pair("rmse", actual, predicted)
    return math.sqrt(float(np.mean((truth - guess) ** 2)))


def mase(actual: ArrayLike, predicted: ArrayLike, training_values: Sequence[float] | ArrayLike,
         season: int) -> float:
    """Mean absolute scaled error: :func:`mae` over :func:`mase_scale` of the training part.

    Example:
        >>> mase([5.0, 6.0], [4.0, 6.0], [1.0, 2.0, 4.0, 5.0], season=2)
        0.16666666666666666
    """
    return mae(actual, predicted) / mase_scale(training_values, season)


def mase_scale(training_values: Sequence[float] | ArrayLike, season: int) -> float:
    """The in-sample MAE of the seasonal naive forecast (the value ``season`` steps back)
    on ``training_values`` (see the module docstring).

    Raises :class:`ValueError` when ``season`` is not a positive int, the training part has
    no more than ``season`` values (no naive forecast to score), or the scale is 0 (a
    training part that repeats itself every season exactly: MASE would divide by zero).
    """
    if isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1:
        raise ValueError(f"mase expected season to be a positive int, got {season!r}")
    values = np.asarray(training_values, dtype=np.float64).reshape(-1)
    if values.size <= season:
        raise ValueError(f"mase needs more training values than the season ({season}) to "
                         f"score the seasonal naive forecast, got {values.size}")
    if not np.all(np.isfinite(values)):
        raise ValueError("mase expected finite training values, got NaN or infinity")
    scale = float(np.mean(np.abs(values[season:] - values[:-season])))
    if scale == 0.0:
        raise ValueError(f"mase: the training values repeat exactly every {season} steps, so "
                         "the seasonal naive forecast has no error to scale by (scale 0)")
    return scale


def _pair(owner: str, actual: ArrayLike, predicted: ArrayLike
          ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Both arguments as float64 arrays, checked to be non-empty, of one shape, finite."""
    truth = np.asarray(actual, dtype=np.float64)
    guess = np.asarray(predicted, dtype=np.float64)
    if truth.shape != guess.shape:
        raise ValueError(f"{owner} expected actual and predicted of the same shape, got "
                         f"{truth.shape} and {guess.shape}")
    if truth.size == 0:
        raise ValueError(f"{owner} expected at least one value, got none")
    if not (np.all(np.isfinite(truth)) and np.all(np.isfinite(guess))):
        raise ValueError(f"{owner} expected finite values, got NaN or infinity")
    return truth, guess
