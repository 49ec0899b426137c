"""``rnnkit data list|fetch``: the registered data sets."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(commands: Any) -> None:
    """Register ``data list|fetch`` on the top-level subparsers."""
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
