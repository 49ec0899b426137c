"""Forecasting a numeric series with :class:`~rnnkit.models.forecaster.SequenceForecaster`,
measured against seasonal naive and ARIMA baselines in the same run.

The series (a registered data set, a CSV column, or values handed in) is cut in time order
into train, validation and test parts (:mod:`rnnkit.data.series_windows`); a scaler fitted
on the training part alone standardizes it, after an optional log. Each epoch visits the
training windows in a seeded shuffle on the loop of
:mod:`rnnkit.training.example_training` (mean squared error of the scaled values); every
``eval_every_epochs`` epochs the validation part is forecast from rolling origins, and the
epoch with the lowest validation MAE (in the series' units) is kept (checkpoint tag
``best``). The run ends with rolling-origin forecasts of the test part by the RNN, the
seasonal naive method and ARIMA (:mod:`rnnkit.tasks.forecast.baselines`), scored by
MAE, RMSE and MASE (:mod:`rnnkit.metrics.forecasts`), written to
``out_dir/results.json`` with a plot of the one-step-ahead forecasts, ``forecast.png``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.atomic import atomic_write_json
from rnnkit.data.registry import load_splits
from rnnkit.data.series import airline_passengers, co2, read_series, sunspots
from rnnkit.data.series_windows import (
    PARTS,
    Scaler,
    SplitSizes,
    WindowBatch,
    example_origins,
    split_sizes,
    window_batch,
)
from rnnkit.metrics.forecasts import mae, mase, rmse
from rnnkit.models.forecaster import ForecasterConfig, SequenceForecaster
from rnnkit.tasks.forecast.baselines import (
    arima_forecasts,
    choose_arima,
    describe_arima,
    seasonal_naive_forecasts,
)
from rnnkit.training.checkpoint import (
    VOCAB_FILE,
    CheckpointError,
    load_checkpoint,
    load_model,
)
from rnnkit.training.example_training import (
    ExampleTask,
    ExampleTrainingConfig,
    start_run,
    train_on_examples,
)
from rnnkit.training.run_folder import claims_run_folder
from rnnkit.validation import MAX_LENGTH, Rule

log = logging.getLogger(__name__)

# The season of each registered series: months in a year, the ~11-year solar cycle, weeks.
DATASET_SEASONS = {"airline_passengers": 12, "sunspots": 11, "co2": 52}
_READERS = {"airline_passengers": airline_passengers, "sunspots": sunspots, "co2": co2}


@dataclass(frozen=True)
class ForecastConfig(ExampleTrainingConfig):
    """The series, its split and scaling, and the optimization of a forecasting run (the
    model is a :class:`ForecasterConfig`; defaults suit series of a few hundred values).

    The series is ``dataset`` or the ``column`` of the ``csv`` file (not both). ``season``
    None means the data set's own (:data:`DATASET_SEASONS`), or 1 (the naive forecast) for
    a CSV. ``arima=False`` skips the ARIMA baseline.
    """

    dataset: str | None = None
    csv: str | None = None
    column: str | None = None
    window: int = 24
    season: int | None = None
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    log_transform: bool = False
    arima: bool = True
    batch_size: int = 16
    lr: float = 3e-3
    max_epochs: int = 200
    eval_every_epochs: int = 5
    out_dir: str = "runs/forecast"

    # Where the fields sit in a recipe (rnnkit.tasks.recipe); [train] holds the rest.
    RECIPE_TABLES: ClassVar[dict[str, frozenset[str]]] = {
        "data": frozenset({"dataset", "csv", "column", "valid_fraction", "test_fraction",
            "log_transform"}),
        "task": frozenset({"window", "season", "arima"})}

    RANGES: ClassVar[dict[str, Rule]] = {
        "dataset": tuple(DATASET_SEASONS), "window": f"[1, {MAX_LENGTH}]", "season": ">= 1"}

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        if self.dataset is not None and self.csv is not None:
            raise ValueError(f"{owner} expected a dataset or a csv, not both; got dataset "
                             f"{self.dataset!r} and csv {self.csv!r}")
        if self.csv is not None and not self.column:
            raise ValueError(f"{owner} expected the column to read from csv {self.csv!r}, "
                             f"got column {self.column!r}")

    @property
    def resolved_season(self) -> int:
        """``season``, or the data set's own, or 1 for other series."""
        if self.season is not None:
            return self.season
        return DATASET_SEASONS[self.dataset] if self.dataset is not None else 1


@dataclass(frozen=True)
class ForecastData:
    """A series split, scaled and cut into examples (:mod:`rnnkit.data.series_windows`).

    ``values`` are in the series' units, ``scaled`` the scaler's output, both ``(length,)``.
    """

    values: NDArray[np.float64]
    scaled: NDArray[np.float64]
    scaler: Scaler
    sizes: SplitSizes
    season: int
    window: int
    horizon: int
    source: str

    def origins(self, part: str) -> range:
        """The origins of ``part``'s examples (first forecast index of each)."""
        return example_origins(self.sizes, part, self.window, self.horizon)

    def targets(self, part: str) -> NDArray[np.float64]:
        """The true values ``part``'s examples forecast: (examples, horizon)."""
        origins = np.asarray(self.origins(part))
        return self.values[origins[:, None] + np.arange(self.horizon)[None, :]]

    @property
    def training_values(self) -> NDArray[np.float64]:
        """The training part, in the series' units."""
        return self.values[:self.sizes.train]


def load_series(config: ForecastConfig, values: Sequence[float] | None = None
                ) -> tuple[list[float], str]:
    """The series a run forecasts and where it came from: ``values`` when given (they
    replace the data set or CSV), else ``config.dataset``, else ``config.csv``."""
    if values is not None:
        return [float(value) for value in values], "values"
    if config.dataset is not None:
        return _READERS[config.dataset](load_splits(config.dataset)["text"]), config.dataset
    if config.csv is not None:
        from rnnkit.data.text import read_utf8

        text = read_utf8(config.csv, "CSV file")
        return read_series(text, str(config.column), source=config.csv), config.csv
    raise ValueError("ForecastConfig expected a dataset (one of "
                     f"{', '.join(DATASET_SEASONS)}) or a csv with its column, got neither")


def prepare_forecast_data(config: ForecastConfig, horizon: int,
                          values: Sequence[float] | None = None,
                          scaler: Scaler | None = None) -> ForecastData:
    """Load (:func:`load_series`), split and scale the series; a ``scaler`` given (a saved
    run's) is used as is, else one is fitted on the training part.

    Raises :class:`ValueError` when a part has no complete example (the series is shorter
    than ``window + horizon``, or a part is too short) or the training part has no more
    values than the season (the seasonal naive forecast and MASE need one season before).
    """
    series, source = load_series(config, values)
    array = np.asarray(series, dtype=np.float64)
    sizes = split_sizes(len(array), config.valid_fraction, config.test_fraction)
    for part in PARTS:  # the first error a short series meets names its lengths
        example_origins(sizes, part, config.window, horizon)
    season = config.resolved_season
    if sizes.train <= season:
        raise ValueError(f"the training part ({sizes.train} values) must be longer than the "
                         f"season ({season}) for the seasonal naive baseline and MASE")
    if scaler is None:
        scaler = Scaler.fit(array[:sizes.train], config.log_transform)
    return ForecastData(array, scaler.transform(array), scaler, sizes, season, config.window,
                        horizon, source)


@claims_run_folder
def train_forecast(config: ForecastConfig, model_config: ForecasterConfig,
                   values: list[float] | None = None) -> dict[str, Any]:
    """Train, keep the best epoch by validation MAE, forecast the test part with it and the
    baselines; returns the results (also written to ``out_dir/results.json``, with the plot
    ``out_dir/forecast.png``). ``values`` replace the configured series (for tests)."""
    device = start_run(config)
    data = prepare_forecast_data(config, model_config.horizon, values)
    model = SequenceForecaster(model_config).to(device)
    out_dir = Path(config.out_dir)
    train_origins = data.origins("train")
    loss_of = _every_step_loss if model_config.mode == "many-to-many" else _last_step_loss
    trained = train_on_examples(model, config, ExampleTask(
        loss_of=loss_of,
        batches=lambda epoch: _shuffled_batches(data, train_origins, config.batch_size,
                                                seed=config.seed + epoch),
        validate=lambda m: _validation_figures(m, data),
        error_of=lambda figures: figures["valid_mae"],
        figure_names=("valid_mae", "valid_rmse"), **_saved_with(model, data, config)))
    model.load_state_dict(load_checkpoint(out_dir, tag="best").model_state)
    forecasts = {"rnn": rnn_forecasts(model, data.scaled, data.scaler, data.origins("test"),
                                      data.window)}
    arima = _baseline_forecasts(data, config.arima, forecasts)
    actual = data.targets("test")
    results = {"source": data.source, "seed": config.seed,
               "parameters": sum(p.numel() for p in model.parameters()),
               "trained_s": round(trained.trained_s, 1), "series_length": len(data.values),
               "season": data.season, "window": data.window, "horizon": data.horizon,
               "mode": model_config.mode, "log_transform": config.log_transform,
               "split_sizes": asdict(data.sizes),
               "examples": {part: len(data.origins(part)) for part in PARTS},
               "history": trained.history,
               "best_epoch": min(trained.history, key=lambda row: row["valid_mae"])["epoch"],
               "test": {name: score(actual, predicted, data)
                        for name, predicted in forecasts.items()},
               "arima": arima}
    plot_forecasts(data, forecasts, out_dir / "forecast.png")
    atomic_write_json(out_dir / "results.json", results)
    log.info("test part, %d origins:\n%s", len(actual), format_test_table(results))
    return results


def score(actual: NDArray[np.float64], predicted: NDArray[np.float64],
          data: ForecastData) -> dict[str, float]:
    """MAE, RMSE and MASE (scaled on the training part) of ``predicted``, both
    (examples, horizon) in the series' units."""
    return {"mae": mae(actual, predicted), "rmse": rmse(actual, predicted),
            "mase": mase(actual, predicted, data.training_values, data.season)}


@torch.no_grad()
def rnn_forecasts(model: SequenceForecaster, scaled: NDArray[np.float64], scaler: Scaler,
                  origins: Sequence[int], window: int) -> NDArray[np.float64]:
    """The model's forecasts from each origin, in the series' units: (origins, horizon).

    The inputs are the ``window`` scaled values before each origin; an origin may be
    ``len(scaled)``, to forecast past the end.
    """
    model.eval()
    device = next(model.parameters()).device
    chunks = []
    for start in range(0, len(origins), 1024):
        inputs = window_batch(scaled, origins[start:start + 1024], window, 0).inputs
        chunks.append(model(inputs.to(device)).double().cpu().numpy())
    return scaler.inverse(np.concatenate(chunks))


def load_forecaster(checkpoint_dir: str | Path, tag: str = "best"
                    ) -> tuple[SequenceForecaster, ForecastConfig, Scaler, list[float]]:
    """The model (eval mode, on the CPU), run configuration, scaler and series of a
    forecasting checkpoint (no pickle; the config is checked against the tensors before
    the model is built, see :func:`~rnnkit.training.checkpoint.load_model`)."""
    model, saved = load_model(checkpoint_dir, _forecaster_of, tag=tag)
    if "scaler" not in saved.vocab or "series" not in saved.vocab:
        raise CheckpointError(f"{saved.path / VOCAB_FILE} is not a forecasting run's: it "
                              f"holds {sorted(saved.vocab)}, expected 'scaler' and 'series'")
    return (model, ForecastConfig.from_saved(saved.config["forecast"]),
            Scaler.from_dict(saved.vocab["scaler"]), list(saved.vocab["series"]))


def _forecaster_of(config: dict[str, Any]) -> SequenceForecaster:
    """The forecaster a checkpoint's config describes (refusing another task's run)."""
    if "forecast" not in config:
        raise CheckpointError(f"this is not a forecasting checkpoint: its config holds "
                              f"{sorted(config)}, expected 'model' and 'forecast'")
    return SequenceForecaster(ForecasterConfig(**config["model"]))


def forecast_from_checkpoint(checkpoint_dir: str | Path,
                             values: list[float] | None = None) -> list[float]:
    """The ``horizon`` values after the end of ``values`` (default: the saved series), in
    the series' units, from a run's best checkpoint. Raises :class:`ValueError` when fewer
    than ``window`` values are given."""
    model, config, scaler, series = load_forecaster(checkpoint_dir)
    history = series if values is None else [float(value) for value in values]
    if len(history) < config.window:
        raise ValueError(f"forecast_from_checkpoint needs at least window = {config.window} "
                         f"values to forecast from, got {len(history)}")
    scaled = scaler.transform(history[-config.window:])
    return rnn_forecasts(model, scaled, scaler, [config.window], config.window)[0].tolist()


def evaluate_forecast_checkpoint(checkpoint_dir: str | Path) -> dict[str, float]:
    """The RNN's test MAE, RMSE and MASE from a run's best checkpoint (its saved series,
    split and scaler), as :func:`train_forecast` reported them."""
    model, config, scaler, series = load_forecaster(checkpoint_dir)
    data = prepare_forecast_data(config, model.config.horizon, series, scaler)
    predicted = rnn_forecasts(model, data.scaled, scaler, data.origins("test"), data.window)
    return score(data.targets("test"), predicted, data)


def format_test_table(results: dict[str, Any]) -> str:
    """The ``test`` figures of :func:`train_forecast`'s results as an aligned text table,
    one row per model."""
    lines = [f"{'model':<16}{'MAE':>12}{'RMSE':>12}{'MASE':>9}"]
    for name, figures in results["test"].items():
        lines.append(f"{name:<16}{figures['mae']:>12.4g}{figures['rmse']:>12.4g}"
                     f"{figures['mase']:>9.3f}")
    return "\n".join(lines)


def plot_forecasts(data: ForecastData, forecasts: dict[str, NDArray[np.float64]],
                   path: str | Path) -> Path:
    """The whole series, the test part's truth, and each model's one-step-ahead forecasts
    (the first column of its (origins, horizon) forecasts) over the test part."""
    from rnnkit.plotting import pyplot, save_figure

    plt = pyplot()
    figure, axis = plt.subplots(figsize=(10, 4.2))
    steps = np.arange(len(data.values))
    axis.plot(steps, data.values, color="0.65", linewidth=1.0, label="series")
    test = steps[data.sizes.start("test"):]
    axis.plot(test, data.values[test], color="black", linewidth=1.6, label="test truth")
    origins = np.asarray(data.origins("test"))
    for name, predicted in forecasts.items():
        axis.plot(origins, predicted[:, 0], linewidth=1.2, marker=".", label=f"{name} (h=1)")
    for part in ("valid", "test"):
        axis.axvline(data.sizes.start(part) - 0.5, color="0.4", linestyle=":", linewidth=1.0)
    axis.set_xlabel("step")
    axis.set_title(f"{data.source}: one-step-ahead forecasts over the test part")
    axis.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    return save_figure(figure, path)


def _baseline_forecasts(data: ForecastData, with_arima: bool,
                        forecasts: dict[str, NDArray[np.float64]]) -> dict[str, Any] | None:
    """Add the baselines' test forecasts to ``forecasts``; returns ARIMA's chosen model
    (None without ARIMA). ARIMA sees the scaled series (the RNN's view) and its order is
    chosen on the training part, its parameters fitted on train and validation."""
    origins = data.origins("test")
    forecasts["seasonal_naive"] = seasonal_naive_forecasts(data.values, origins, data.horizon,
                                                           data.season)
    if not with_arima:
        return None
    choice = choose_arima(data.scaled[:data.sizes.train], data.season)
    scaled = arima_forecasts(data.scaled, data.sizes.start("test"), origins, data.horizon,
                             choice)
    forecasts["arima"] = data.scaler.inverse(scaled)
    return describe_arima(choice)


def _shuffled_batches(data: ForecastData, origins: range, batch_size: int,
                      seed: int) -> list[WindowBatch]:
    """The training examples in a shuffle fixed by ``seed``, ``batch_size`` at a time."""
    order = torch.randperm(len(origins), generator=torch.Generator().manual_seed(seed))
    chosen = np.asarray(origins)[order.numpy()]
    return [window_batch(data.scaled, chosen[start:start + batch_size], data.window,
                         data.horizon)
            for start in range(0, len(chosen), batch_size)]


def _last_step_loss(model: nn.Module, batch: WindowBatch) -> Tensor:
    return F.mse_loss(model(batch.inputs), batch.targets)


def _every_step_loss(model: nn.Module, batch: WindowBatch) -> Tensor:
    return F.mse_loss(model.forward_every_step(batch.inputs), batch.step_targets)


def _validation_figures(model: SequenceForecaster, data: ForecastData) -> dict[str, float]:
    predicted = rnn_forecasts(model, data.scaled, data.scaler, data.origins("valid"),
                              data.window)
    actual = data.targets("valid")
    return {"valid_mae": mae(actual, predicted), "valid_rmse": rmse(actual, predicted)}


def _saved_with(model: SequenceForecaster, data: ForecastData,
                config: ForecastConfig) -> dict[str, Any]:
    """What a checkpoint holds besides the weights: the configurations, the tables."""
    return {"saved_config": {"model": asdict(model.config), "forecast": asdict(config)},
            "saved_tables": {"scaler": data.scaler.to_dict(),
                             "series": [float(value) for value in data.values]}}
