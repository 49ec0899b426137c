"""The baselines a forecaster is measured against: seasonal naive and ARIMA.

Both forecast from rolling origins: for each origin ``s`` (the index of the first value to
forecast) they see the true values before ``s`` and forecast ``s .. s + horizon - 1``.

- Seasonal naive (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 5.2):
  step ``h`` repeats the value of the same season in the last observed season,
  ``y[s - 1 + h - season * (floor((h - 1) / season) + 1)]``; season 1 is the naive forecast
  (the last value).
- ARIMA (statsmodels): the order is chosen by AIC over a small grid fitted on the training
  values (:func:`choose_arima`), then fitted once more on the values before the first origin
  and run over the later values with those parameters, never refitted
  (:func:`arima_forecasts`).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

log = logging.getLogger(__name__)

# A state-space ARIMA with season s carries about s * (D + Q) + d states; past a couple of
# dozen the Kalman filter over thousands of values (co2: 52 weeks) costs minutes per fit.
LONGEST_ARIMA_SEASON = 24


@dataclass(frozen=True)
class ArimaChoice:
    """An ARIMA specification, as statsmodels' ``ARIMA`` takes it, and its AIC on the
    values it was chosen on (``converged``: whether that fit's optimizer said it did)."""

    order: tuple[int, int, int]
    seasonal_order: tuple[int, int, int, int] = (0, 0, 0, 0)
    trend: str = "n"
    aic: float = math.nan
    converged: bool = True


def seasonal_naive_forecasts(series: ArrayLike, origins: Sequence[int], horizon: int,
                             season: int) -> NDArray[np.float64]:
    """Seasonal naive forecasts (module docstring) from each origin: (origins, horizon).

    Raises :class:`ValueError` when an origin has less than one season of history.

    Example:
        >>> seasonal_naive_forecasts([1, 2, 3, 4, 5, 6], origins=[4], horizon=3, season=2)
        array([[3., 4., 3.]])
    """
    values = np.asarray(series, dtype=np.float64)
    if season < 1 or horizon < 1:
        raise ValueError(f"seasonal_naive_forecasts expected season and horizon >= 1, got "
                         f"season {season} and horizon {horizon}")
    steps = np.arange(1, horizon + 1)
    # h - season * (k + 1) with k = floor((h - 1) / season): in 1 - season .. 0
    offsets = steps - season * ((steps - 1) // season + 1)
    rows = []
    for origin in origins:
        if not season <= origin <= len(values):
            raise ValueError(f"seasonal_naive_forecasts needs an origin between the season "
                             f"({season}) and the series length ({len(values)}), got {origin}")
        rows.append(values[origin - 1 + offsets])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), horizon)


def arima_candidates(season: int, length: int) -> list[ArimaChoice]:
    """The grid :func:`choose_arima` searches for ``length`` training values.

    ARIMA(p, d, q) with p in 0..2 and q in 0..1, either stationary with a constant (d = 0)
    or differenced once with a drift (d = 1); plus, when ``1 < season <=``
    :data:`LONGEST_ARIMA_SEASON` and there are at least three seasons and a bit, the
    "airline model" ARIMA(0,1,1)(0,1,1)_season of Box & Jenkins. A longer season (co2's 52
    weeks) gets no seasonal candidate: its state space is too large to fit quickly, and the
    RNN and the seasonal naive baseline still cover the season.
    """
    grid = [ArimaChoice((p, d, q), trend="c" if d == 0 else "t")
            for d in (0, 1) for p in range(3) for q in range(2)]
    if 1 < season <= LONGEST_ARIMA_SEASON and length >= 3 * season + 4:
        grid.append(ArimaChoice((0, 1, 1), (0, 1, 1, season)))
    return grid


def choose_arima(values: ArrayLike, season: int) -> ArimaChoice:
    """The candidate of :func:`arima_candidates` with the lowest AIC on ``values``.

    The AIC of differenced and undifferenced models are compared as statsmodels reports
    them (likelihoods after the diffuse start): a rough, common shortcut for a baseline.
    A candidate whose fit raises is logged and skipped; when every fit fails the last
    error is raised as a :class:`RuntimeError`. Non-convergence is logged, not hidden.
    """
    data = np.asarray(values, dtype=np.float64)
    best: ArimaChoice | None = None
    failures: list[str] = []
    for candidate in arima_candidates(season, len(data)):
        try:
            fitted = _fit(data, candidate)
        except (ValueError, np.linalg.LinAlgError) as error:
            failures.append(f"{_describe(candidate)}: {error}")
            log.warning("ARIMA candidate %s failed: %s", _describe(candidate), error)
            continue
        aic = float(fitted.aic)
        if not math.isfinite(aic):
            failures.append(f"{_describe(candidate)}: AIC {aic}")
            continue
        converged = bool(fitted.mle_retvals.get("converged", True))
        if best is None or aic < best.aic:
            best = ArimaChoice(candidate.order, candidate.seasonal_order, candidate.trend,
                               aic, converged)
    if best is None:
        raise RuntimeError("every ARIMA candidate failed: " + "; ".join(failures))
    if not best.converged:
        log.warning("the chosen ARIMA %s did not converge (its optimizer stopped early)",
                    _describe(best))
    log.info("ARIMA by AIC: %s (AIC %.1f)", _describe(best), best.aic)
    return best


def arima_forecasts(series: ArrayLike, fit_length: int, origins: Sequence[int], horizon: int,
                    choice: ArimaChoice) -> NDArray[np.float64]:
    """ARIMA forecasts from each origin: (origins, horizon).

    ``choice`` is fitted on ``series[:fit_length]``; the later values are appended to the
    fitted results without refitting (``results.append(..., refit=False)``), and the
    forecast from origin ``s`` is the prediction of ``s .. s + horizon - 1`` made from the
    values before ``s`` (statsmodels' dynamic prediction, identical to forecasting from a
    copy of the results that stops at ``s``). Origins must lie in
    ``fit_length .. len(series) - horizon``.
    """
    values = np.asarray(series, dtype=np.float64)
    for origin in origins:
        if not fit_length <= origin <= len(values) - horizon:
            raise ValueError(f"arima_forecasts needs origins in {fit_length}.."
                             f"{len(values) - horizon} (after the fitted values, with "
                             f"{horizon} values to forecast), got {origin}")
    with _quiet_statsmodels():
        fitted = _fit(values[:fit_length], choice)
        extended = fitted.append(values[fit_length:], refit=False)
        if horizon == 1:  # one-step-ahead predictions are one pass of the filter
            first, last = min(origins), max(origins)
            predicted = np.asarray(extended.get_prediction(start=first, end=last)
                                   .predicted_mean, dtype=np.float64)
            return predicted[np.asarray(origins) - first].reshape(-1, 1)
        rows = [np.asarray(extended.get_prediction(start=origin, end=origin + horizon - 1,
                                                   dynamic=True).predicted_mean)
                for origin in origins]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), horizon)


def describe_arima(choice: ArimaChoice) -> dict[str, Any]:
    """``choice`` as JSON-ready figures for a results file."""
    return {"order": list(choice.order), "seasonal_order": list(choice.seasonal_order),
            "trend": choice.trend, "aic": round(choice.aic, 3), "converged": choice.converged}


def _fit(values: NDArray[np.float64], choice: ArimaChoice) -> Any:
    with _quiet_statsmodels():
        from statsmodels.tsa.arima.model import ARIMA

        model = ARIMA(values, order=choice.order, seasonal_order=choice.seasonal_order,
                      trend=choice.trend)
        return model.fit()


@contextmanager
def _quiet_statsmodels() -> Iterator[None]:
    """Silence statsmodels' routine chatter and keep BLAS on one thread.

    The ignored warnings are its notes on starting values, its convergence warning (read
    back from ``mle_retvals`` and logged by :func:`choose_arima`) and, on its first import,
    pandas' deprecation notes on its docstring decorators (``Appender``, ``Substitution``).
    Errors still raise. One BLAS thread because the Kalman filter multiplies tiny matrices:
    extra threads only synchronize, and on two busy cores they made each fit 20 to 100
    times slower.
    """
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.filterwarnings("ignore", message="(Appender|Substitution) is deprecated")
        from statsmodels.tools.sm_exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Non-(stationary|invertible) starting",
                                category=UserWarning)
        yield


def _describe(choice: ArimaChoice) -> str:
    seasonal = "" if choice.seasonal_order == (0, 0, 0, 0) else str(choice.seasonal_order[:3])
    suffix = f"_{choice.seasonal_order[3]}" if seasonal else ""
    return f"ARIMA{choice.order}{seasonal}{suffix} trend {choice.trend!r}"
