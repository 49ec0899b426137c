"""``rnnkit <task> train|eval`` for a task trained on independent examples (classify, tag,
forecast), and its part of ``rnnkit predict``.

``<task> train`` takes one flag per field of the task's config and of its model config
(``rnnkit train --task <task> ...`` is the same, see :func:`rnnkit.cli.dispatch.train_argv`)
and prints the test figures of the model and of the baselines measured in the same run.
``<task> eval`` scores a run's best checkpoint on its test part or on a file of yours;
``rnnkit eval --checkpoint DIR`` does the same for any task checkpoint. ``predict`` reads a
task checkpoint and answers: a label per input line, a tag per token, the next values of a
series: each task package supplies its own answer as a :data:`Predict` function.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.tasks.flags import add_config_flag, add_dataclass_flags, configs_from_args
from rnnkit.tasks.plugin import Plugin
from rnnkit.tasks.recipe import read_task_recipe

# Sizes the task reads from its data, never from a flag.
ENCODER_NOT_FLAGS = {"vocab_size", "num_classes", "num_tags", "pad_id", "char_vocab_size"}
# A task checkpoint and the ``--input``/``--column`` of ``rnnkit predict`` in; the answer
# printed to standard output.
Predict = Callable[[str, str | None, str | None], None]


@dataclass(frozen=True)
class TaskCommand:
    """What a task's ``train``, ``eval`` and ``predict`` need: its two configs and its
    functions (imported when called, so ``rnnkit --help`` stays fast)."""

    name: str
    help: str
    config: type
    model_config: type
    train: Callable[[Any, Any], dict[str, Any]]
    evaluate: Callable[[str, str | None], dict[str, Any]]
    predict: Predict
    headline: tuple[str, ...]  # keys of the results printed by ``train``


def add_task_command(commands: Any, task: TaskCommand) -> None:
    """Register ``<task> train|eval`` on the top-level subparsers."""
    parser = commands.add_parser(task.name, help=task.help)
    actions = parser.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train, then report the test figures next "
                               "to the baselines",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_config_flag(train, task.name)
    add_dataclass_flags(train, task.name, task.config, skip=set())
    add_dataclass_flags(train, "model", task.model_config, skip=ENCODER_NOT_FLAGS)
    train.set_defaults(handler=run_task_train, task=task)
    evaluate = actions.add_parser("eval", help="figures of a run's best checkpoint")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--data-file", help="score this file (the run's kind: CSV, "
                          "CoNLL tags or a CSV series) instead of the run's test part")
    evaluate.set_defaults(handler=run_task_eval, task=task)


def run_task_train(args: argparse.Namespace) -> int:
    """Train the task from its recipe and flags and print its headline figures as JSON."""
    task: TaskCommand = args.task
    configs = configs_from_args(args, task.name,
                                {task.name: task.config, "model": task.model_config})
    results = task.train(configs[task.name], configs["model"])
    print(json.dumps({key: results[key] for key in task.headline if key in results}))
    return 0


def run_task_eval(args: argparse.Namespace) -> int:
    print(json.dumps(args.task.evaluate(args.checkpoint, args.data_file)))
    return 0


def read_task_config(path: str, task: TaskCommand) -> dict[str, dict[str, Any]]:
    """A recipe's values for ``task``, by config section (``<task>`` and ``model``), its
    tables and keys checked."""
    return read_task_recipe(path, task.name, {task.name: task.config, "model": task.model_config})


def is_run_of(checkpoint: str | Path, task: TaskCommand) -> bool:
    """Whether the run folder ``checkpoint`` was trained for ``task`` (its saved config
    holds the task's section)."""
    from rnnkit.training.checkpoint import load_checkpoint_config

    return task.name in load_checkpoint_config(checkpoint, tag="latest")


def task_plugin(task: TaskCommand) -> Plugin:
    """The task's part of the ``rnnkit`` command: ``<task> train|eval``, ``train --task
    <task>``, ``eval --checkpoint`` and ``predict`` for its run folders."""

    def evaluate(checkpoint: str, data_file: str | None) -> dict[str, Any] | None:
        return task.evaluate(checkpoint, data_file) if is_run_of(checkpoint, task) else None

    def predict(checkpoint: str, input_path: str | None, column: str | None) -> bool:
        if not is_run_of(checkpoint, task):
            return False
        task.predict(checkpoint, input_path, column)
        return True

    return Plugin(lambda commands: add_task_command(commands, task),
                  train_tasks={task.name: lambda rest: [task.name, "train", *rest]},
                  evaluate_checkpoint=evaluate, predict=predict)


def input_lines(path: str | None) -> list[str]:
    """The lines of ``path`` (or of standard input), without their line ends."""
    if path is None:
        return [line.rstrip("\n") for line in sys.stdin]
    from rnnkit.data.text import read_utf8

    return read_utf8(path, "input file").splitlines()
