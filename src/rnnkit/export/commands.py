"""``rnnkit export``: a trained language model to ONNX or TorchScript, checked on the spot."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rnnkit.arguments import checkpoint_tag
from rnnkit.export import FORMATS, export, exported_form, verify_export

TOLERANCE = 1e-4  # largest difference from eager accepted for float32 outputs


def add_checkpoint_flags(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint DIR`` and ``--tag latest|best``: which saved model an export tool
    (``rnnkit export``, ``rnnkit web``) reads."""
    parser.add_argument("--checkpoint", required=True, help="directory a training run wrote")
    parser.add_argument("--tag", default=None, type=checkpoint_tag,
                        help="which checkpoint: latest or best (default: best, where the run "
                             "saved one)")


def add_export_command(commands: Any) -> None:
    """Register ``rnnkit export`` on the CLI's subcommands."""
    parser = commands.add_parser(
        "export", help="write a checkpoint's model as ONNX or TorchScript and check it",
        description="Export the language model of a checkpoint with free batch and time "
                    "axes and per-row lengths; the file is then run on four input shapes "
                    "and compared with the eager model. Inputs: tokens (batch, time) int64, "
                    "lengths (batch,) int64, h_0 [, c_0] (layers * directions, batch, "
                    "hidden); outputs: logits, h_n [, c_n]. The vocabulary is written next "
                    "to the file as <out>.vocab.json.")
    add_checkpoint_flags(parser)
    parser.add_argument("--format", required=True, choices=FORMATS, dest="file_format")
    parser.add_argument("--out", required=True, help="file to write")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip running the exported file against the eager model")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from rnnkit.atomic import atomic_write_json
    from rnnkit.inference import load_language_model

    loaded = load_language_model(args.checkpoint, tag=args.tag, device="cpu")
    if loaded.config.model.architecture != "rnn":
        raise ValueError(f"{args.checkpoint} holds a {loaded.config.model.architecture} "
                         "language model; rnnkit export writes recurrent models only")
    path = export(loaded.model, args.out, args.file_format)
    vocab_path = atomic_write_json(Path(f"{path}.vocab.json"), loaded.vocab.to_dict())
    exported = exported_form(loaded.model)
    report: dict[str, Any] = {"format": args.file_format, "out": str(path),
                              "vocab": str(vocab_path), "inputs": exported.input_names(),
                              "outputs": exported.output_names()}
    if args.verify:
        verification = verify_export(path, args.file_format, exported)
        report.update(verification.to_dict())
        if verification.max_abs_difference > TOLERANCE:
            print(json.dumps(report))
            raise RuntimeError(f"the exported file differs from the eager model by "
                               f"{verification.max_abs_difference:.3g} (> {TOLERANCE})")
    print(json.dumps(report))
    return 0
