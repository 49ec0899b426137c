"""Forecasting quality over seeds: the RNN against seasonal naive and ARIMA.

    python benchmarks/forecast_quality.py --seeds 5 --threads 1

For each series and each RNN recipe it trains
:func:`rnnkit.tasks.forecast.training.train_forecast`
once per seed (the series, its split and the baselines do not depend on the seed; the
RNN's initial weights and batch order do) and prints the test MAE and MASE (mean and
standard deviation over seeds for the RNN) on the last 10% of the series, one-step-ahead
from rolling origins, next to seasonal naive and ARIMA. The test parts are small (14
months of airline passengers, 31 years of sunspots), so the spread over seeds is part of
the answer.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass

import torch
from common import machine_line, print_table

from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.tasks.forecast.training import ForecastConfig, train_forecast


@dataclass(frozen=True)
class Recipe:
    """One RNN set-up on one series."""

    dataset: str
    name: str
    config: dict
    model: dict


RECIPES = [
    Recipe("airline_passengers", "LSTM 64, absolute", {}, {}),
    Recipe("airline_passengers", "LSTM 64, relative, log", {"log_transform": True},
           {"relative": True}),
    Recipe("airline_passengers", "LSTM 64, relative", {}, {"relative": True}),
    Recipe("sunspots", "LSTM 64, absolute", {}, {}),
    Recipe("sunspots", "LSTM 64, many-to-many", {}, {"mode": "many-to-many"}),
    Recipe("sunspots", "LSTM 64, relative, many-to-many", {},
           {"relative": True, "mode": "many-to-many"}),
]


def run(recipe: Recipe, seed: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as out_dir:
        config = ForecastConfig(dataset=recipe.dataset, seed=seed, threads=threads,
                                progress=False, out_dir=out_dir, **recipe.config)
        return train_forecast(config, ForecasterConfig(**recipe.model))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line())
    rows = []
    for recipe in RECIPES:
        start = time.perf_counter()
        results = [run(recipe, seed, args.threads) for seed in range(args.seeds)]
        seconds = (time.perf_counter() - start) / args.seeds
        rnn_mase = [r["test"]["rnn"]["mase"] for r in results]
        rnn_mae = [r["test"]["rnn"]["mae"] for r in results]
        first = results[0]
        spread = statistics.stdev(rnn_mase) if len(rnn_mase) > 1 else 0.0
        rows.append([recipe.dataset, recipe.name, first["split_sizes"]["test"],
                     f"{statistics.mean(rnn_mae):.2f}",
                     f"{statistics.mean(rnn_mase):.3f} ± {spread:.3f}",
                     f"{min(rnn_mase):.3f}-{max(rnn_mase):.3f}",
                     f"{first['test']['seasonal_naive']['mase']:.3f}",
                     f"{first['test']['arima']['mase']:.3f}", _arima_name(first["arima"]),
                     f"{seconds:.0f}"])
    print_table(["series", "RNN recipe", "test values", "RNN MAE (mean)",
                 "RNN MASE (mean ± sd)", "RNN MASE range", "seasonal naive MASE",
                 "ARIMA MASE", "ARIMA model", "s per run"], rows)


def _arima_name(arima: dict) -> str:
    order = ",".join(map(str, arima["order"]))
    seasonal = arima.get("seasonal_order")
    if seasonal and seasonal[-1] > 1:
        return f"({order})({','.join(map(str, seasonal[:3]))})_{seasonal[3]}"
    return f"({order})"


if __name__ == "__main__":
    main()
