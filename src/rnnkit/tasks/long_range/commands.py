"""``rnnkit task adding|copy|digits``: a cell trained on a long-range task.

The flags are :class:`~rnnkit.tasks.long_range.config.LongRangeConfig`'s fields, named as
everywhere else (``--hidden-size``, ``--max-steps``, ``--out-dir``, ``--resume``);
``--length`` is T for the adding problem and the delay for copy (digits are always 64
pixels).
"""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.tasks.flags import add_config_flag, add_dataclass_flags, configs_from_args
from rnnkit.tasks.plugin import Plugin

SECTION = "long_range"
# Fields that belong to some tasks only; "task" is the subcommand itself.
NOT_FLAGS = {"adding": {"task", "copy_length", "num_symbols", "pixel_order"},
             "copy": {"task", "pixel_order"},
             "digits": {"task", "length", "copy_length", "num_symbols"}}
TASKS = {"adding": "the adding problem: report test MSE",
         "copy": "the copy task: report accuracy on the recalled symbols",
         "digits": "sequential digits, one pixel per step: report accuracy"}


def add_commands(commands: Any) -> None:
    """Register ``task adding|copy|digits`` on the top-level subparsers."""
    from rnnkit.tasks.long_range.config import LongRangeConfig

    task = commands.add_parser("task", help="train a cell on a long-range task")
    tasks = task.add_subparsers(dest="task", required=True)
    for name, what in TASKS.items():
        parser = tasks.add_parser(name, help=what,
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        add_config_flag(parser, name)
        add_dataclass_flags(parser, SECTION, LongRangeConfig, skip=NOT_FLAGS[name])
        parser.set_defaults(handler=run_task)


def run_task(args: argparse.Namespace) -> int:
    from rnnkit.tasks.long_range.config import LongRangeConfig
    from rnnkit.tasks.long_range.training import train_long_range

    config = configs_from_args(args, args.task, {SECTION: LongRangeConfig},
                               base={SECTION: {"task": args.task}})[SECTION]
    result = train_long_range(config)
    if result.diverged_at is not None:
        print(f"{args.task} {config.cell} T={config.length}: diverged, the loss was not "
              f"finite at step {result.diverged_at}")
    print(f"{args.task} {config.cell} T={config.length}: {result.metric} {result.value:.4f} "
          f"(trivial baseline {result.baseline:.4f}) after {result.steps_run} steps, "
          f"{result.elapsed_s / 60:.1f} min of training")
    if result.accuracy_by_position is not None:
        print("accuracy at each recalled position: "
              + " ".join(f"{accuracy:.3f}" for accuracy in result.accuracy_by_position))
    if config.out_dir is not None:
        print(f"wrote the run, result.json and curve.png to {config.out_dir}")
    return 0


PLUGIN = Plugin(add_commands,
                recipe_commands={name: f"rnnkit task {name}" for name in TASKS})
