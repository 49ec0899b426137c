"""The commands that reach every task: ``rnnkit train --task NAME`` (the task's own train
command), ``rnnkit eval --checkpoint DIR`` (scored by the task that wrote it), ``rnnkit
predict --checkpoint DIR`` (answered by the task that wrote it) and ``rnnkit web`` (whose
music page reads the training tunes of the task that wrote the run)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from rnnkit.arguments import LENGTH
from rnnkit.cli.registry import PLUGINS
from rnnkit.tasks.language_model.commands import add_checkpoint_arguments
from rnnkit.tasks.plugin import Plugin

LANGUAGE_MODEL = "language-model"  # rnnkit train's own task


def train_task_names(plugins: Sequence[Plugin] = PLUGINS) -> tuple[str, ...]:
    """What ``--task`` accepts: the language model, then every plugin's names."""
    return (LANGUAGE_MODEL, *(name for plugin in plugins for name in plugin.train_tasks))


def train_argv(argv: list[str], plugins: Sequence[Plugin] = PLUGINS) -> list[str]:
    """``train --task NAME REST`` as the command line of NAME's own train command
    (``--task language-model`` is ``train REST``); any other ``argv`` unchanged."""
    if not argv or argv[0] != "train":
        return argv
    rest = [part for item in argv[1:]  # --task=NAME is --task NAME
            for part in (item.split("=", 1) if item.startswith("--task=") else [item])]
    if "--task" not in rest:
        return argv
    index = rest.index("--task")
    task = rest[index + 1] if index + 1 < len(rest) else ""
    del rest[index:index + 2]
    if task == LANGUAGE_MODEL:
        return ["train", *rest]
    for plugin in plugins:
        if task in plugin.train_tasks:
            return plugin.train_tasks[task](rest)
    raise ValueError(f"--task expected one of {', '.join(train_task_names(plugins))}, "
                     f"got {task!r}")


def add_train_task_choice(commands: Any, plugins: Sequence[Plugin] = PLUGINS) -> None:
    """``--task`` on ``rnnkit train``, listing every task a plugin answers for."""
    names = train_task_names(plugins)
    commands.choices["train"].add_argument(
        "--task", choices=names, default=LANGUAGE_MODEL,
        help="train another task with the other flags: --task NAME runs NAME's own train "
             "command (seq2seq: --dataset cmudict|django_de picks G2P or translation)")


def add_eval_command(commands: Any, plugins: Sequence[Plugin] = PLUGINS) -> None:
    """Register ``eval`` on the top-level subparsers: a run folder is scored by the first
    plugin that claims it, else as a language model."""
    evaluate = commands.add_parser("eval", help="figures of a checkpoint: loss, bits and "
                                   "perplexity of a language model, a task's test figures")
    add_checkpoint_arguments(evaluate)
    evaluate.add_argument("--text-file", help="score this file instead of the run's data")
    evaluate.add_argument("--split", default="valid", choices=("valid", "test", "train"))
    evaluate.add_argument("--window", type=LENGTH, default=256,
                          help="window length of the fixed-context figure")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(handler=run_eval, plugins=plugins)


def run_eval(args: argparse.Namespace) -> int:
    from rnnkit.inference import evaluate_checkpoint

    for plugin in args.plugins:
        if plugin.evaluate_checkpoint is not None:
            figures = plugin.evaluate_checkpoint(args.checkpoint, args.text_file)
            if figures is not None:  # its own figures, of its best epoch
                print(json.dumps(figures))
                return 0
    report = evaluate_checkpoint(args.checkpoint, tag=args.tag,
                                 text_file=args.text_file, split=args.split,
                                 window=args.window, device=args.device,
                                 run_corpus=lambda table: _run_corpus(table, args.plugins))
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>28}: {value}")
    return 0


def _run_corpus(table: dict[str, Any], plugins: Sequence[Plugin]) -> Any:
    """The corpus loader of a language-model run whose task saved ``table``: the first
    plugin's that claims it."""
    for plugin in plugins:
        loader = plugin.run_corpus(table) if plugin.run_corpus is not None else None
        if loader is not None:
            return loader
    return None


def add_web_command(commands: Any, plugins: Sequence[Plugin] = PLUGINS) -> None:
    """Register ``web``: the playground, which reads a task's run through its corpus."""
    from rnnkit.export.web.commands import add_web_command as add_command

    add_command(commands, training_text=lambda loaded: training_text(loaded, plugins))


def training_text(loaded: Any, plugins: Sequence[Plugin] = PLUGINS) -> str | None:
    """The training part of a language-model run's text, as the run split it (a task's
    run: read by its task's corpus loader; ``None`` when no plugin claims it)."""
    from rnnkit.data.corpus import load_corpus

    loader = _run_corpus(loaded.task, plugins) if loaded.task else load_corpus
    if loader is None:
        return None
    corpus = loader(loaded.config.data, loaded.vocab.to_dict())
    ids = corpus.splits["train"]
    if ids.dim() == 2:  # (tokens, 1 + conditions): a conditional corpus, the token first
        ids = ids[:, 0]
    return loaded.vocab.decode(ids.tolist())


def add_predict_command(commands: Any, plugins: Sequence[Plugin] = PLUGINS) -> None:
    """Register ``predict`` on the top-level subparsers: a run folder is answered by the
    plugin that claims it."""
    predict = commands.add_parser("predict", help="labels, tags or next values from a task "
                                  "checkpoint")
    predict.add_argument("--checkpoint", required=True)
    predict.add_argument("--input", help="read lines from this file (default: standard "
                         "input); a forecast reads a CSV series here (with --column)")
    predict.add_argument("--column", help="the CSV column of the series (forecast)")
    predict.set_defaults(handler=run_predict, plugins=plugins)


def run_predict(args: argparse.Namespace) -> int:
    predictors = [plugin for plugin in args.plugins if plugin.predict is not None]
    for plugin in predictors:
        if plugin.predict(args.checkpoint, args.input, args.column):
            return 0
    *others, last = [name for plugin in predictors for name in plugin.train_tasks]
    names = f"{', '.join(others)} or {last}" if others else last
    raise ValueError(f"{args.checkpoint} is not a {names} run: predict reads those (use "
                     "`rnnkit sample` or `rnnkit translate` for others)")
