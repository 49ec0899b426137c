"""The language-model ``train`` command, and the flags every training command builds from
its config dataclasses (``--hidden-size`` sets ``[model] hidden_size``; precedence is
defaults < ``--config FILE`` < flags).

Its own module so that the task commands (seq2seq, classify/tag/forecast, music) can build
their flags without importing :mod:`rnnkit.cli`, which imports them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import fields
from typing import Any

from rnnkit.arguments import field_type
from rnnkit.training.config import SECTIONS, RunConfig, apply_overrides, load_config_file
from rnnkit.validation import type_hints, unwrap_optional

NOT_FLAGS = {"vocab_size", "condition_sizes"}  # filled in from the data, never set by hand


def add_training_flags(parser: argparse.ArgumentParser) -> None:
    """``--config`` and one flag per field of the config dataclasses."""
    parser.add_argument("--config", help="TOML file with [data], [model], [train] tables")
    for section, cls in SECTIONS.items():
        add_dataclass_flags(parser, section, cls)


def add_dataclass_flags(parser: argparse.ArgumentParser, section: str, cls: type,
                        skip: set[str] = NOT_FLAGS) -> None:
    """One ``--field-name`` flag per field of ``cls``, stored as ``"<section>.<field>"``."""
    group = parser.add_argument_group(f"[{section}]")
    hints = type_hints(cls)
    for field in fields(cls):
        if field.name not in skip:
            _add_field_flag(group, cls, section, field.name, hints[field.name], field.default)


def section_values(args: argparse.Namespace, section: str) -> dict[str, Any]:
    """The flags of ``section`` that were given on the command line."""
    values = {}
    for dest, value in vars(args).items():
        prefix, _, name = dest.partition(".")
        if prefix == section and name:
            values[name] = value
    return values


def _add_field_flag(group: Any, cls: type, section: str, name: str, hint: Any,
                    default: Any) -> None:
    """The flag of one field: checked as it is parsed against the field's type and rule."""
    flag = "--" + name.replace("_", "-")
    dest = f"{section}.{name}"
    base, _ = unwrap_optional(hint)
    if base is bool:
        group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction,
                           default=argparse.SUPPRESS, help=f"(default {default})")
        return
    group.add_argument(flag, dest=dest, type=field_type(cls, name),
                       default=argparse.SUPPRESS, metavar=base.__name__.upper(),
                       help=f"(default {default})")


def config_from_args(args: argparse.Namespace, base: RunConfig | None = None) -> RunConfig:
    """Defaults (``base``), then ``--config``, then explicit flags."""
    base = base or RunConfig()
    config = load_config_file(args.config, base) if args.config else base
    sections = {section: values for section in SECTIONS
                if (values := section_values(args, section))}
    if "text_file" in sections.get("data", {}):
        sections["data"].setdefault("dataset", None)
    return apply_overrides(config, sections)


def run_train(args: argparse.Namespace, config: RunConfig | None = None) -> int:
    from rnnkit.training.distributed import launched_by_torchrun
    from rnnkit.training.trainer import train

    nproc = getattr(args, "nproc", 1)
    if nproc > 1 and not launched_by_torchrun():
        return launch_with_torchrun(nproc, args.argv)
    result = train(config or config_from_args(args))
    if not _is_main_process():
        return 0
    print(json.dumps({"stop_reason": result.stop_reason, "steps": result.steps,
                      "val_loss": round(result.val_loss, 4),
                      "val_perplexity": round(result.val_perplexity, 3),
                      "val_bits_per_token": round(result.val_bits_per_token, 4),
                      "checkpoint": result.checkpoint}))
    return 0


def launch_with_torchrun(nproc: int, argv: list[str]) -> int:
    """Run this same command under ``torchrun --standalone`` with ``nproc`` processes."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "rnnkit", *_without_nproc(argv)]
    print("launching: " + " ".join(command[1:]), file=sys.stderr)
    return subprocess.call(command)


def _without_nproc(argv: list[str]) -> list[str]:
    kept, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == "--nproc":
            skip = True
        elif not item.startswith("--nproc="):
            kept.append(item)
    return kept


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"
