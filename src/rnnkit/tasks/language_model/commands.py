"""``rnnkit train`` and ``rnnkit sample``: the language model's commands.

Training flags are generated from the config dataclasses (``--hidden-size`` sets
``[model] hidden_size``), so every option is also settable from a TOML file, and the
precedence is defaults < ``--config FILE`` < flags. A recipe with a ``[task]`` table is
another task's (``[task] name = "music"``: ``rnnkit music train``), and ``rnnkit train``
says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from rnnkit.arguments import (
    LENGTH,
    OPTIONAL_TOP_K,
    SEED,
    STREAMS,
    TEMPERATURE,
    TOP_P,
    checkpoint_tag,
    positive_int,
)
from rnnkit.step_decoder import QUANTIZE_CHOICES
from rnnkit.tasks.flags import add_config_flag, add_dataclass_flags, section_values
from rnnkit.tasks.plugin import Plugin
from rnnkit.tasks.recipe import check_recipe_task
from rnnkit.training.config import SECTIONS, RunConfig, apply_overrides, read_toml

if TYPE_CHECKING:
    from rnnkit.tasks.language_model.task import TaskCorpus

NOT_FLAGS = {"vocab_size", "condition_sizes"}  # filled in from the data, never set by hand


def add_commands(commands: Any) -> None:
    """Register ``train`` and ``sample`` on the top-level subparsers."""
    train = commands.add_parser("train", help="train a language model",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    train.add_argument("--nproc", type=positive_int(1024), default=1, metavar="N",
                       help="train with N processes on this machine, launched with torchrun "
                            "(data parallel; batch_size is shared out over them)")
    add_training_flags(train)
    train.set_defaults(handler=run_train)
    _add_sample(commands)


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint``, ``--tag`` and ``--device`` of the commands that read a run."""
    parser.add_argument("--checkpoint", required=True, help="directory a training run wrote")
    parser.add_argument("--tag", default=None, type=checkpoint_tag,
                        help="which checkpoint: latest or best (default: best, where the run "
                             "saved one)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def _add_sample(commands: Any) -> None:
    sample = commands.add_parser("sample", help="generate text from a checkpoint")
    add_checkpoint_arguments(sample)
    sample.add_argument("--prime", default="\n", help="text to start from")
    sample.add_argument("--length", type=LENGTH, default=500, help="tokens to generate")
    sample.add_argument("--temperature", type=TEMPERATURE, default=0.8)
    sample.add_argument("--top-k", type=OPTIONAL_TOP_K, default=None)
    sample.add_argument("--top-p", type=TOP_P, default=None)
    sample.add_argument("--seed", type=SEED, default=None)
    sample.add_argument("--streams", type=STREAMS, default=1, metavar="N",
                        help="write N texts side by side as one batch (printed one after "
                             "another, each under a '--- stream i of N ---' line)")
    sample.add_argument("--quantize", choices=QUANTIZE_CHOICES, default=None,
                        help="run the step under torch's dynamic int8 quantization (CPU)")
    sample.set_defaults(handler=run_sample)


def run_sample(args: argparse.Namespace) -> int:
    from rnnkit.inference import sample_many

    texts = sample_many(args.checkpoint, args.prime, args.length, streams=args.streams,
                        tag=args.tag, temperature=args.temperature,
                        top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                        device=args.device, quantize=args.quantize)
    if args.streams == 1:
        print(texts[0])
        return 0
    for index, text in enumerate(texts, start=1):
        print(f"--- stream {index} of {args.streams} ---")
        print(text)
    return 0


def add_training_flags(parser: argparse.ArgumentParser, task_config: type | None = None
                       ) -> None:
    """``--config`` and one flag per field of the config dataclasses (and of
    ``task_config``, the ``[task]`` table of a task built on the language model)."""
    add_config_flag(parser, [*SECTIONS, *(["task"] if task_config is not None else [])])
    for section, cls in SECTIONS.items():
        add_dataclass_flags(parser, section, cls, skip=NOT_FLAGS)
    if task_config is not None:
        add_dataclass_flags(parser, "task", task_config)


def config_from_args(args: argparse.Namespace, base: RunConfig | None = None,
                     tables: dict[str, Any] | None = None) -> RunConfig:
    """Defaults (``base``), then the ``--config`` recipe (its ``tables``, when the caller
    has read them and taken out its own ``[task]``), then explicit flags."""
    base = base or RunConfig()
    own = ("task",) if tables is not None else ()
    if tables is None and args.config:
        tables = read_toml(args.config)
        refuse_task_table(tables, args.config)
    config = (apply_overrides(base, tables, args.config, other_tables=own) if tables
              else base)
    sections = {section: values for section in SECTIONS
                if (values := section_values(args, section))}
    if "text_file" in sections.get("data", {}):
        sections["data"].setdefault("dataset", None)
    return apply_overrides(config, sections)


def refuse_task_table(tables: dict[str, Any], config: str) -> None:
    """``rnnkit train`` trains on plain text and has no settings of its own: a recipe
    with a ``[task]`` table is for the task that table names."""
    if "task" not in tables:
        return
    table = tables["task"]
    named = table.get("name") if isinstance(table, dict) else None
    check_recipe_task(named, None, f"config file {config}", config)


def run_train(args: argparse.Namespace, config: RunConfig | None = None,
              corpus: TaskCorpus | None = None) -> int:
    """Train, the corpus handed by ``corpus``'s task or the plain text of ``[data]``;
    prints the result as one JSON line."""
    from rnnkit.tasks.language_model.training import train
    from rnnkit.training.distributed import launched_by_torchrun

    nproc = getattr(args, "nproc", 1)
    if nproc > 1 and not launched_by_torchrun():
        return launch_with_torchrun(nproc, args.argv)
    result = train(config or config_from_args(args), corpus)
    if not _is_main_process():
        return 0
    print(json.dumps({"stop_reason": result.stop_reason, "steps": result.steps,
                      "val_loss": round(result.val_loss, 4),
                      "val_perplexity": round(result.val_perplexity, 3),
                      "val_bits_per_token": round(result.val_bits_per_token, 4),
                      "checkpoint": result.checkpoint, "environment": result.environment}))
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


PLUGIN = Plugin(add_commands)
