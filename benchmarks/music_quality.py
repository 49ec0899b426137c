"""How good are the tunes a checkpoint writes? Validity, reasons, copies, and key/meter requests.

For each checkpoint: its training time and validation loss (from the run's log.csv), then
``rnnkit music generate`` with ``--n`` tunes unconditioned at each ``--temperatures``, and
once per ``--request`` (``KEY:METER``, e.g. ``D:6/8``) at ``--request-temperature``, and a
table of what came out. A request's "chance" column is how often the unconditioned tunes at
that temperature happen to be in that key and meter anyway.

    python benchmarks/music_quality.py --checkpoint runs/irish_folk_small runs/irish_folk \\
        --n 100 --seed 0 --temperatures 1.0 0.8 0.6 --request D:6/8 --request "A dorian:4/4"
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

from common import machine_line, print_table

from rnnkit.cli import main as rnnkit_main
from rnnkit.inference import load_language_model
from rnnkit.music.abc_tunes import parse_header, split_tunes
from rnnkit.tasks.music.corpus import tune_texts


def main() -> int:
    args = parse_args()
    print(machine_line())
    rows, request_rows = [], []
    for checkpoint in args.checkpoint:
        loaded = load_language_model(checkpoint, tag=args.tag, device="cpu")
        training = training_figures(Path(checkpoint) / "log.csv")
        train_bodies = {body(tune) for tune in split_tunes(tune_texts(loaded.config.data)[0]
                                                           ["train"])}
        out = Path(checkpoint) / f"tunes_{args.tag}"
        params = sum(p.numel() for p in loaded.model.parameters())
        free_at = {}
        for temperature in args.temperatures:
            folder = out / f"free_t{temperature}{nucleus_suffix(args)}"
            free, seconds = generate(checkpoint, folder, args, temperature)
            free_at[temperature] = free
            copies = sum(body((folder / t["abc"]).read_text()) in train_bodies
                         for t in free["tunes"])
            rows.append([checkpoint, args.tag, f"{params / 1e6:.2f} M",
                         f"{training['minutes']:.1f}", training["steps"],
                         f"{training['best_val']:.3f}", f"{training['last_val']:.3f}",
                         temperature if args.top_p is None else
                         f"{temperature}, top-p {args.top_p}", free["generated"],
                         f"{100 * free['valid_rate']:.0f}%",
                         format_failures(free["failures"]), copies,
                         "-" if math.isnan(seconds) else f"{seconds:.0f}"])
        free = free_at.get(args.request_temperature) or generate(
            checkpoint, out / f"free_t{args.request_temperature}", args,
            args.request_temperature)[0]
        for request in args.request:
            key, meter = request.split(":", 1)
            asked, _ = generate(checkpoint, out / safe_name(request), args,
                                args.request_temperature, key, meter)
            chance = sum(t["key"] == asked["respect"]["request"]["key"]
                         and t["meter"] == asked["respect"]["request"]["meter"]
                         for t in free["tunes"]) / len(free["tunes"])
            report = asked["respect"]
            request_rows.append([checkpoint, request, asked["settings"]["condition"],
                                 f"{100 * asked['valid_rate']:.0f}%",
                                 f"{100 * report['header']:.0f}%",
                                 f"{100 * report['respected']:.0f}%",
                                 f"{100 * report.get('ends_on_tonic', 0):.0f}%",
                                 f"{100 * chance:.0f}%"])
    print_table(["checkpoint", "tag", "parameters", "training min", "steps", "best val loss",
                 "final val loss", "temperature", "tunes", "valid", "failures",
                 "copies of a training tune", "generation s"], rows)
    if request_rows:
        print()
        print(f"Requests at temperature {args.request_temperature}:")
        print_table(["checkpoint", "request", "method", "valid", "header as asked",
                     "valid and as asked", "ends on the tonic",
                     "chance (unconditioned tunes in that key and meter)"], request_rows)
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", nargs="+", required=True)
    parser.add_argument("--tag", default="latest")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 0.8])
    parser.add_argument("--request-temperature", type=float, default=0.8)
    parser.add_argument("--top-p", type=float, default=None,
                        help="nucleus sampling for every setting (folders get a _pP suffix)")
    parser.add_argument("--request", action="append", default=[],
                        help="KEY:METER to ask for, e.g. D:6/8 (repeatable)")
    parser.add_argument("--reuse", action="store_true",
                        help="read a setting's summary.json where an earlier run of this "
                             "script wrote one, instead of generating again (its time "
                             "column then shows '-')")
    return parser.parse_args()


def generate(checkpoint: str, out: Path, args: argparse.Namespace, temperature: float,
             key: str | None = None, meter: str | None = None) -> tuple[dict, float]:
    command = ["music", "generate", "--checkpoint", checkpoint, "--tag", args.tag, "--n",
               str(args.n), "--seed", str(args.seed), "--temperature", str(temperature),
               "--out", str(out), "--no-audio", "--no-progress", "--device", "cpu"]
    command += ["--key", key, "--meter", meter] if key else []
    # Always explicit: 1.0 turns nucleus sampling off whatever the command's default is.
    command += ["--top-p", str(1.0 if args.top_p is None else args.top_p)]
    summary_path = out / "summary.json"
    if args.reuse and summary_path.is_file():
        return json.loads(summary_path.read_text(encoding="utf-8")), float("nan")
    start = time.perf_counter()
    if rnnkit_main(command) != 0:
        raise SystemExit(f"rnnkit {' '.join(command)} failed")
    seconds = time.perf_counter() - start
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), seconds


def training_figures(log_csv: Path) -> dict[str, float]:
    with log_csv.open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    validations = [float(row["val_loss"]) for row in rows if row["val_loss"]]
    return {"minutes": max(float(row["elapsed_s"]) for row in rows) / 60,
            "steps": max(int(row["step"]) for row in rows),
            "best_val": min(validations), "last_val": validations[-1]}


def body(tune: str) -> str:
    header = parse_header(tune)
    lines = tune.strip().splitlines()
    return "\n".join(lines[header.body_start:]) if header.body_start is not None else tune


def format_failures(failures: dict[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in failures.items()) or "none"


def nucleus_suffix(args: argparse.Namespace) -> str:
    return "" if args.top_p is None else f"_p{args.top_p}"


def safe_name(request: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in request)


if __name__ == "__main__":
    sys.exit(main())
