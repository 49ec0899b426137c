"""The ``rnnkit`` command: ``train``, ``eval``, ``sample``, ``data``, ``diagnose``, ``task``,
``music``, ``export``, ``g2p``, ``translate``.

Training flags are generated from the config dataclasses (``--hidden-size`` sets
``[model] hidden_size``), so every option is also settable from a TOML file, and the
precedence is defaults < ``--config FILE`` < flags.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from typing import Any

from rnnkit.arguments import (
    LENGTH,
    OPTIONAL_TOP_K,
    SEED,
    TEMPERATURE,
    TOP_P,
    ArgumentParser,
    checkpoint_tag,
    field_type,
    finite_float,
    positive_int,
    value_type,
)
from rnnkit.export.commands import add_export_command
from rnnkit.music.commands import add_music_commands
from rnnkit.seq2seq_commands import add_seq2seq_commands
from rnnkit.task_commands import (
    TASK_NAMES,
    TASKS,
    add_task_commands,
    task_of_checkpoint,
    task_train_argv,
)
from rnnkit.train_command import (
    add_training_flags,
    run_train,
)
from rnnkit.validation import MAX_SIZE

# Errors a command raises on purpose: their message is the whole story.
EXPECTED_ERRORS = (ValueError, OSError, RuntimeError)
DEBUG_HINT = "rerun with --debug for the traceback"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rnnkit`` command; returns the exit status.

    Every command runs under one error handler: an error prints one line, ``rnnkit
    <command>: error: ...``, and exits 1 (argparse's own errors exit 2); ``--debug``
    (anywhere on the line) adds the traceback; Ctrl-C exits 130.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    argv = [item for item in argv if item != "--debug"]
    parser = build_parser()
    try:
        argv = task_train_argv(argv)
    except ValueError as error:
        parser.error(str(error))
    args = parser.parse_args(argv)
    args.argv = argv
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run_handler(args, debug)


def run_handler(args: argparse.Namespace, debug: bool = False) -> int:
    """Run the command's handler; any exception becomes one line on stderr and exit 1."""
    command = " ".join(part for part in (args.command, getattr(args, "action", None),
                                         getattr(args, "probe", None)) if part)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # the one place every error is reported
        if debug:
            traceback.print_exc()
        print(f"rnnkit {command}: error: {error_line(error, debug)}", file=sys.stderr)
        return 1


def error_line(error: BaseException, debug: bool = False) -> str:
    """One line that says what went wrong: an expected error's message; for anything else
    its type and message, and how to see the traceback."""
    if isinstance(error, MemoryError):
        text = ("out of memory: the sizes asked for (batch_size, hidden_size, seq_len, "
                "lengths) do not fit in this machine's memory; choose smaller ones")
    elif isinstance(error, UnicodeDecodeError):  # the files rnnkit reads name themselves
        return (f"standard input or a file it read is not UTF-8 text: byte "
                f"{error.object[error.start]:#04x} "
                f"does not decode ({error.reason})")
    elif isinstance(error, KeyError) and " " in _message(error):
        return _message(error)  # raised with a sentence
    elif isinstance(error, KeyError):
        text = f"unexpected KeyError: the key {_message(error)!r} is missing"
    elif isinstance(error, EXPECTED_ERRORS) and str(error):
        # One line, whatever the message holds; spaces inside a line (a quoted value) stay.
        return " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    else:
        text = f"unexpected {type(error).__name__}: {_message(error) or '(no message)'}"
    return text if debug else f"{text} ({DEBUG_HINT})"


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="rnnkit", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also accepted after the "
                             "command)")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train(commands)
    _add_eval(commands)
    _add_sample(commands)
    _add_data(commands)
    _add_diagnose(commands)
    _add_task(commands)
    add_music_commands(commands, add_training_flags)
    add_export_command(commands)
    add_seq2seq_commands(commands)
    add_task_commands(commands)
    return parser


# --- train ---------------------------------------------------------------------------------
def _add_train(commands: Any) -> None:
    train = commands.add_parser("train", help="train a language model",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("--nproc", type=positive_int(1024), default=1, metavar="N",
                       help="train with N processes on this machine, launched with torchrun "
                            "(data parallel; batch_size is shared out over them)")
    train.add_argument("--task", choices=TASK_NAMES, default="language-model",
                       help="seq2seq: --task seq2seq --dataset cmudict|django_de runs "
                            "`rnnkit g2p train` or `rnnkit translation train` with the "
                            "other flags; classify, tag and forecast run `rnnkit <task> "
                            "train` with them")
    add_training_flags(train)
    train.set_defaults(handler=run_train)


# --- eval and sample ------------------------------------------------------------------------
def _add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="directory a training run wrote")
    parser.add_argument("--tag", default=None, type=checkpoint_tag,
                        help="which checkpoint: latest or best (default: latest; a classify, "
                             "tag or forecast run: best)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def _add_eval(commands: Any) -> None:
    evaluate = commands.add_parser("eval", help="loss, bits and perplexity of a checkpoint")
    _add_checkpoint_arguments(evaluate)
    evaluate.add_argument("--text-file", help="score this file instead of the run's data")
    evaluate.add_argument("--split", default="valid", choices=("valid", "test", "train"))
    evaluate.add_argument("--window", type=LENGTH, default=256,
                          help="window length of the fixed-context figure")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(handler=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from rnnkit.inference import evaluate_checkpoint

    task = task_of_checkpoint(args.checkpoint)
    if task is not None:  # its own figures, of its best epoch, on its test part or the file
        print(json.dumps(TASKS[task].evaluate(args.checkpoint, args.text_file)))
        return 0
    report = evaluate_checkpoint(args.checkpoint, tag=args.tag or "latest",
                                 text_file=args.text_file, split=args.split,
                                 window=args.window, device=args.device)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>28}: {value}")
    return 0


def _add_sample(commands: Any) -> None:
    sample = commands.add_parser("sample", help="generate text from a checkpoint")
    _add_checkpoint_arguments(sample)
    sample.add_argument("--prime", default="\n", help="text to start from")
    sample.add_argument("--length", type=LENGTH, default=500, help="tokens to generate")
    sample.add_argument("--temperature", type=TEMPERATURE, default=0.8)
    sample.add_argument("--top-k", type=OPTIONAL_TOP_K, default=None)
    sample.add_argument("--top-p", type=TOP_P, default=None)
    sample.add_argument("--seed", type=SEED, default=None)
    sample.set_defaults(handler=run_sample)


def run_sample(args: argparse.Namespace) -> int:
    from rnnkit.inference import sample

    print(sample(args.checkpoint, args.prime, args.length, tag=args.tag or "latest",
                 temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                 seed=args.seed, device=args.device))
    return 0


# --- data ------------------------------------------------------------------------------------
def _add_data(commands: Any) -> None:
    data = commands.add_parser("data", help="list and fetch registered data sets")
    actions = data.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="registered data sets").set_defaults(handler=run_data_list)
    fetch = actions.add_parser("fetch", help="download, verify and cache a data set")
    fetch.add_argument("name")
    fetch.add_argument("--force", action="store_true", help="fetch again even if cached")
    fetch.set_defaults(handler=run_data_fetch)


def run_data_list(args: argparse.Namespace) -> int:
    from rnnkit.data.registry import list_datasets

    for spec in list_datasets():
        print(f"{spec.name:<12} {spec.licence:<34} {spec.description}\n"
              f"{'':<12} source: {spec.source.describe()}")
    return 0


def run_data_fetch(args: argparse.Namespace) -> int:
    from rnnkit.data.registry import fetch

    print(fetch(args.name, force=args.force))
    return 0


# --- diagnose -------------------------------------------------------------------------------
def _add_diagnose(commands: Any) -> None:
    from rnnkit.analysis.gradients import PROBE_CELLS

    diagnose = commands.add_parser("diagnose", help="measure how gradients flow through time")
    probes = diagnose.add_subparsers(dest="probe", required=True)
    gradients = probes.add_parser(
        "gradients", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="||dL/dh_t|| for every step of a fresh cell, loss at the last step")
    gradients.add_argument("--cell", required=True, choices=PROBE_CELLS)
    gradients.add_argument("--compare", nargs="+", default=[], choices=PROBE_CELLS,
                           metavar="CELL", help="more cells to overlay in the same plot")
    gradients.add_argument("--length", type=value_type(int, "[2, 100000]"), default=100,
                           help="time steps T")
    gradients.add_argument("--hidden", type=positive_int(4096), default=64,
                           help="hidden size")
    gradients.add_argument("--input-size", type=positive_int(MAX_SIZE), default=8)
    gradients.add_argument("--batch-size", type=positive_int(100000), default=32)
    gradients.add_argument("--forget-bias", type=finite_float(), default=1.0,
                           help="for the LSTM")
    gradients.add_argument("--seed", type=SEED, default=0)
    gradients.add_argument("--out", required=True, help="directory for the JSON files and plot")
    gradients.set_defaults(handler=run_diagnose_gradients)


def run_diagnose_gradients(args: argparse.Namespace) -> int:
    from rnnkit.analysis.gradients import probe, save_gradient_flows

    flows = [probe(cell, length=args.length, hidden_size=args.hidden,
                   input_size=args.input_size, batch_size=args.batch_size, seed=args.seed,
                   forget_bias=args.forget_bias)
             for cell in dict.fromkeys([args.cell, *args.compare])]
    for flow in flows:
        print(f"{flow.cell:>9}: ||dL/dh_1|| / ||dL/dh_T|| = {flow.first_over_last:.3e}, "
              f"mean Jacobian spectral norm {sum(flow.jacobian_norms) / flow.length:.3f}")
    for path in save_gradient_flows(flows, args.out):
        print(f"wrote {path}")
    return 0


# --- long-range tasks -----------------------------------------------------------------------
def _add_task(commands: Any) -> None:
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
    from rnnkit.models.long_range import TASK_CELLS

    parser.add_argument("--cell", required=True, choices=TASK_CELLS)
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


def _message(error: BaseException) -> str:
    # KeyError wraps its message in quotes; show the words.
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


if __name__ == "__main__":
    sys.exit(main())
