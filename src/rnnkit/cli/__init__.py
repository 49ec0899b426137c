"""The ``rnnkit`` command line: :func:`main` parses, runs and reports."""

from rnnkit.cli.main import build_parser, error_line, main, run_handler

__all__ = ["build_parser", "error_line", "main", "run_handler"]
