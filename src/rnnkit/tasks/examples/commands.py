"""`rnnkit classify|tag|forecast train|eval` and `rnnkit predict`.

``<task> train`` takes one flag per field of the task's config and of its model config
(``rnnkit train --task classify|tag|forecast ...`` is the same, see
:func:`rnnkit.cli.dispatch.train_argv`) and prints the test figures of the model and of the
baselines measured in the same run. ``<task> eval`` scores a run's best checkpoint on its test part
or on a file of yours; ``rnnkit eval --checkpoint DIR`` does the same for a task
checkpoint. ``predict`` reads a task checkpoint and answers: a label (and its probability)
per input line, a tag per token of each line, or the next values of a series.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.models.tagger import TaggerConfig
from rnnkit.tasks.examples.classification import ClassificationConfig
from rnnkit.tasks.examples.forecasting import ForecastConfig
from rnnkit.tasks.examples.tagging import TaggingConfig
from rnnkit.tasks.flags import add_config_flag, add_dataclass_flags, configs_from_args
from rnnkit.tasks.plugin import Plugin
from rnnkit.tasks.recipe import read_task_recipe

ENCODER_NOT_FLAGS = {"vocab_size", "num_classes", "num_tags", "pad_id", "char_vocab_size"}


@dataclass(frozen=True)
class TaskCommand:
    """What a task's ``train`` and ``eval`` need: its two configs and its functions."""

    name: str
    help: str
    config: type
    model_config: type
    train: Callable[[Any, Any], dict[str, Any]]
    evaluate: Callable[[str, str | None], dict[str, Any]]
    headline: tuple[str, ...]  # keys of the results printed by ``train``


def _train_classifier(config: Any, model_config: Any) -> dict[str, Any]:
    from rnnkit.tasks.examples.classification import train_classifier

    return train_classifier(config, model_config)


def _evaluate_classifier(checkpoint: str, data_file: str | None) -> dict[str, Any]:
    from rnnkit.tasks.examples.classification import evaluate_classifier_checkpoint

    return evaluate_classifier_checkpoint(checkpoint, data_file)


def _train_tagger(config: Any, model_config: Any) -> dict[str, Any]:
    from rnnkit.tasks.examples.tagging import train_tagging

    return train_tagging(config, model_config)


def _evaluate_tagger(checkpoint: str, data_file: str | None) -> dict[str, Any]:
    from rnnkit.tasks.examples.tagging import evaluate_tagging_checkpoint

    return evaluate_tagging_checkpoint(checkpoint, data_file)


def _train_forecaster(config: Any, model_config: Any) -> dict[str, Any]:
    from rnnkit.tasks.examples.forecasting import train_forecast

    return train_forecast(config, model_config)


def _evaluate_forecaster(checkpoint: str, data_file: str | None) -> dict[str, Any]:
    from rnnkit.tasks.examples.forecasting import evaluate_forecast_checkpoint

    if data_file is not None:
        raise ValueError("a forecast run is scored on the test part of its own series; "
                         "train on your CSV with --csv and --column to score that")
    return evaluate_forecast_checkpoint(checkpoint)


TASKS = {
    "classify": TaskCommand("classify", "many-to-one: a label per text (sentiment)",
                            ClassificationConfig, ClassifierConfig, _train_classifier,
                            _evaluate_classifier,
                            ("parameters", "trained_s", "split_texts", "test",
                             "baseline_tfidf_logistic")),
    "tag": TaskCommand("tag", "aligned many-to-many: a tag per token (POS, entities)",
                       TaggingConfig, TaggerConfig, _train_tagger, _evaluate_tagger,
                       ("parameters", "trained_s", "split_sentences", "split_tokens", "test")),
    "forecast": TaskCommand("forecast", "a numeric series: the next values",
                            ForecastConfig, ForecasterConfig, _train_forecaster,
                            _evaluate_forecaster,
                            ("source", "parameters", "trained_s", "split_sizes", "test",
                             "arima")),
}


def add_task_commands(commands: Any) -> None:
    """Register ``<task> train|eval`` for every task and ``predict``."""
    for task in TASKS.values():
        parser = commands.add_parser(task.name, help=task.help)
        actions = parser.add_subparsers(dest="action", required=True)
        train = actions.add_parser("train", help="train, then report the test figures next "
                                   "to the baselines",
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        add_config_flag(train, task.name)
        add_dataclass_flags(train, task.name, task.config, skip=set())
        add_dataclass_flags(train, "model", task.model_config, skip=ENCODER_NOT_FLAGS)
        train.set_defaults(handler=run_task_train, task_name=task.name)
        evaluate = actions.add_parser("eval", help="figures of a run's best checkpoint")
        evaluate.add_argument("--checkpoint", required=True)
        evaluate.add_argument("--data-file", help="score this file (the run's kind: CSV, "
                              "CoNLL tags or a CSV series) instead of the run's test part")
        evaluate.set_defaults(handler=run_task_eval, task_name=task.name)
    predict = commands.add_parser("predict", help="labels, tags or next values from a task "
                                  "checkpoint")
    predict.add_argument("--checkpoint", required=True)
    predict.add_argument("--input", help="read lines from this file (default: standard "
                         "input); a forecast reads a CSV series here (with --column)")
    predict.add_argument("--column", help="the CSV column of the series (forecast)")
    predict.set_defaults(handler=run_predict)


def run_task_train(args: argparse.Namespace) -> int:
    """Train the task from its recipe and flags and print its headline figures as JSON."""
    task = TASKS[args.task_name]
    configs = configs_from_args(args, task.name,
                                {task.name: task.config, "model": task.model_config})
    results = task.train(configs[task.name], configs["model"])
    print(json.dumps({key: results[key] for key in task.headline if key in results}))
    return 0


def read_task_config(path: str, task: TaskCommand) -> dict[str, dict[str, Any]]:
    """A recipe's values for ``task``, by config section (``<task>`` and ``model``), its
    tables and keys checked."""
    return read_task_recipe(path, task.name, {task.name: task.config, "model": task.model_config})


def run_task_eval(args: argparse.Namespace) -> int:
    print(json.dumps(TASKS[args.task_name].evaluate(args.checkpoint, args.data_file)))
    return 0


def task_of_checkpoint(checkpoint: str | Path) -> str | None:
    """The task (``classify``, ``tag``, ``forecast``) a run folder was trained for, or
    ``None`` for any other run (a language model, a seq2seq model)."""
    from rnnkit.training.checkpoint import load_checkpoint_config

    sections = load_checkpoint_config(checkpoint, tag="latest")
    return next((name for name in TASKS if name in sections), None)


def run_predict(args: argparse.Namespace) -> int:
    task = task_of_checkpoint(args.checkpoint)
    if task is None:
        raise ValueError(f"{args.checkpoint} is not a classify, tag or forecast run: predict "
                         "reads those (use `rnnkit sample` or `rnnkit translate` for others)")
    if task == "classify":
        from rnnkit.tasks.examples.classification import SavedClassifier

        lines = _input_lines(args.input)
        for text, (label, probability) in zip(
                lines, SavedClassifier.load(args.checkpoint).classify(lines), strict=True):
            print(f"{label}\t{probability:.4f}\t{text}")
    elif task == "tag":
        from rnnkit.tasks.examples.tagging import tag_lines

        for tagged in tag_lines(args.checkpoint, _input_lines(args.input)):
            print(" ".join(f"{token}/{tag}" for token, tag in tagged))
    elif task == "forecast":
        from rnnkit.tasks.examples.forecasting import forecast_from_checkpoint

        values = None
        if args.input is not None:
            values = _series_from_csv(args.input, args.column)
        for value in forecast_from_checkpoint(args.checkpoint, values):
            print(f"{value:.6g}")
    return 0


def _series_from_csv(path: str, column: str | None) -> list[float]:
    """The numeric ``column`` of the CSV at ``path`` (a forecast's history)."""
    from rnnkit.data.series import read_series

    if column is None:
        raise ValueError("--input with a forecast run needs --column: the CSV column that "
                         "holds the series")
    from rnnkit.data.text import read_utf8

    return read_series(read_utf8(path, "input file"), column, source=f"CSV {path!r}")


def _input_lines(path: str | None) -> list[str]:
    """The lines of ``path`` (or of standard input), without their line ends."""
    if path is None:
        return [line.rstrip("\n") for line in sys.stdin]
    from rnnkit.data.text import read_utf8

    return read_utf8(path, "input file").splitlines()


def _train_argv(task: str) -> Callable[[list[str]], list[str]]:
    """``train --task <task> REST`` is ``<task> train REST``."""
    return lambda rest: [task, "train", *rest]


def evaluate_task_checkpoint(checkpoint: str, data_file: str | None) -> dict[str, Any] | None:
    """The figures of a classify, tag or forecast run (``None`` for any other run)."""
    task = task_of_checkpoint(checkpoint)
    return None if task is None else TASKS[task].evaluate(checkpoint, data_file)


PLUGIN = Plugin(add_task_commands, train_tasks={name: _train_argv(name) for name in TASKS},
                evaluate_checkpoint=evaluate_task_checkpoint)
