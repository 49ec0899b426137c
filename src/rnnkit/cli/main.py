"""The ``rnnkit`` command: the parser built from :mod:`rnnkit.cli.registry`, and the one
handler that turns every error into one line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from rnnkit.arguments import ArgumentParser
from rnnkit.cli.dispatch import (
    add_eval_command,
    add_predict_command,
    add_train_task_choice,
    add_web_command,
    train_argv,
)
from rnnkit.cli.registry import PLUGINS, task_command
from rnnkit.tasks.plugin import Plugin
from rnnkit.tasks.recipe import RecipeForAnotherTaskError

# Errors a command raises on purpose: their message is the whole story.
EXPECTED_ERRORS = (ValueError, OSError, RuntimeError)
DEBUG_HINT = "rerun with --debug for the traceback"
DESCRIPTION = "rnnkit: recurrent sequence models, from raw data to a trained model"


def main(argv: list[str] | None = None, plugins: Sequence[Plugin] = PLUGINS) -> int:
    """Entry point of the ``rnnkit`` command; returns the exit status.

    Every command runs under one error handler: an error prints one line, ``rnnkit
    <command>: error: ...``, and exits 1 (argparse's own errors exit 2); ``--debug``
    (anywhere on the line) adds the traceback; Ctrl-C exits 130. ``plugins`` are the
    commands on offer (by default those of :mod:`rnnkit.cli.registry`).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    argv = [item for item in argv if item != "--debug"]
    parser = build_parser(plugins)
    try:
        argv = train_argv(argv, plugins)
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
    except BrokenPipeError:  # the reader went away (`rnnkit recipes | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports it
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
    if isinstance(error, RecipeForAnotherTaskError):
        return error.naming(task_command(error.task))
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


def build_parser(plugins: Sequence[Plugin] = PLUGINS) -> argparse.ArgumentParser:
    """``rnnkit`` and the subcommands of every plugin (those of the registry)."""
    parser = ArgumentParser(prog="rnnkit", description=DESCRIPTION)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also accepted after the "
                             "command)")
    commands = parser.add_subparsers(dest="command", required=True)
    for plugin in plugins:
        plugin.add_commands(commands)
    add_eval_command(commands, plugins)
    add_predict_command(commands, plugins)
    add_web_command(commands, plugins)
    add_train_task_choice(commands, plugins)
    return parser


def _message(error: BaseException) -> str:
    # KeyError wraps its message in quotes; show the words.
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


if __name__ == "__main__":
    sys.exit(main())
