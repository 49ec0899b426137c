"""``rnnkit task adding|copy|digits``: a cell trained on a long-range task."""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.arguments import field_type
from rnnkit.tasks.plugin import Plugin


def add_commands(commands: Any) -> None:
    """Register ``task adding|copy|digits`` on the top-level subparsers."""
    from rnnkit.data.digits import PIXEL_ORDERS

    task = commands.add_parser("task", help="train a cell on a long-range task")
    tasks = task.add_subparsers(dest="task", required=True)
    for name, what in (("adding", "the adding problem: report test MSE"),
                       ("copy", "the copy task: report accuracy on the recalled symbols"),
                       ("digits", "sequential digits, one pixel per step: report accuracy")):
        parser = tasks.add_parser(name, formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                  help=what)
        if name == "adding":
            parser.add_argument("--length", type=_long_range("length"), default=100,
                                help="sequence length T")
        elif name == "copy":
            parser.add_argument("--delay", dest="length", type=_long_range("length"),
                                default=100,
                                help="steps between reading the symbols and writing them")
        else:
            parser.add_argument("--pixel-order", default="rows", choices=PIXEL_ORDERS,
                                help="row-major, or one fixed random permutation")
        _add_task_training_options(parser)
        parser.set_defaults(handler=run_task)


def _add_task_training_options(parser: argparse.ArgumentParser) -> None:
    from rnnkit.cells.catalog import CELL_NAMES

    parser.add_argument("--cell", required=True, choices=CELL_NAMES)
    parser.add_argument("--hidden", type=_long_range("hidden_size"), default=128,
                        help="hidden size")
    parser.add_argument("--steps", type=_long_range("steps"), default=2000)
    parser.add_argument("--batch-size", type=_long_range("batch_size"), default=50)
    parser.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "sgd"))
    parser.add_argument("--lr", type=_long_range("lr"), default=1e-3)
    parser.add_argument("--clip-norm", type=_long_range("clip_norm"), default=1.0,
                        help="clip the total gradient norm; 'none' turns it off")
    parser.add_argument("--clip-value", type=_long_range("clip_value"), default=None,
                        help="clip every gradient entry to [-v, v] (before --clip-norm)")
    parser.add_argument("--forget-bias", type=_long_range("forget_bias"), default=1.0,
                        help="for the LSTM")
    parser.add_argument("--test-size", type=_long_range("test_size"), default=1000,
                        help="test sequences (synthetic tasks; digits use their split)")
    parser.add_argument("--eval-every", type=_long_range("eval_every"), default=100)
    parser.add_argument("--target", type=_long_range("target"), default=None,
                        help="stop at the first evaluation that reaches this score")
    parser.add_argument("--seed", type=_long_range("seed"), default=0)
    parser.add_argument("--out", help="directory for result.json and curve.png")
    parser.add_argument("--no-progress", dest="progress", action="store_false")


def _long_range(name: str) -> Any:
    """The flag type of :class:`LongRangeConfig`'s field ``name``."""
    from rnnkit.training.long_range import LongRangeConfig

    return field_type(LongRangeConfig, name)


def run_task(args: argparse.Namespace) -> int:
    from rnnkit.training.long_range import (
        LongRangeConfig,
        save_long_range_result,
        train_long_range,
    )

    task_options = {"length": args.length} if args.task != "digits" else {
        "pixel_order": args.pixel_order}
    config = LongRangeConfig(
        task=args.task, cell=args.cell, hidden_size=args.hidden, steps=args.steps,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
        clip_norm=args.clip_norm, clip_value=args.clip_value, forget_bias=args.forget_bias,
        test_size=args.test_size, eval_every=args.eval_every, target=args.target,
        seed=args.seed, progress=args.progress, **task_options)
    result = train_long_range(config)
    if result.diverged_at is not None:
        print(f"{args.task} {args.cell} T={config.length}: diverged, the loss was not finite "
              f"at step {result.diverged_at}")
    print(f"{args.task} {args.cell} T={config.length}: {result.metric} {result.value:.4f} "
          f"(trivial baseline {result.baseline:.4f}) after {result.steps_run} steps, "
          f"{result.elapsed_s / 60:.1f} min of training")
    if args.out:
        for path in save_long_range_result(result, args.out):
            print(f"wrote {path}")
    return 0


PLUGIN = Plugin(add_commands)
