"""Training throughput beyond one eager fp32 process: DDP, mixed precision, torch.compile.

Every variant is the same `rnnkit train` command (the demo recipe unless --config says
otherwise) run for --steps steps in a fresh subprocess, one after another on an otherwise
idle machine, so they are measured side by side in one run:

    1 process x T threads (fp32, eager): the reference every ratio is against
    1 process x 1 thread                  per-core figure, for the DDP comparison
    N processes x 1 thread (torchrun, gloo on CPU / NCCL on GPU)
    bf16 autocast, fp16 autocast (CUDA only), torch.compile (inductor)

Tokens/s is the median of the trainer's logged intervals after the first --warmup-steps
steps (over all processes for DDP); the final whole-split validation loss shows that the
variants learn the same thing (same seed, same steps, same global batch).

    python benchmarks/scaling.py --steps 300 --out runs/scaling
    python benchmarks/scaling.py --steps 200 --variants fp32 ddp bf16 \
        --train-flags "--hidden-size 512 --embedding-size 128 --batch-size 64 --seq-len 100"
    python benchmarks/scaling.py --device cuda --variants fp32 bf16 fp16 compile
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
from pathlib import Path

import torch
from common import machine_line, print_table

CPU_VARIANTS = ("fp32", "fp32-1-thread", "ddp", "bf16", "compile")


def variant_flags(name: str, device: str, threads: int, nproc: int) -> tuple[list[str], dict]:
    """Extra `rnnkit train` flags and environment for one variant."""
    threads_flags = ["--threads", str(threads)] if device == "cpu" else []
    if name == "fp32":
        return threads_flags, {}
    if name == "fp32-1-thread":
        return ["--threads", "1"], {}
    if name == "ddp":
        return ["--nproc", str(nproc)], {"OMP_NUM_THREADS": str(max(1, threads // nproc))}
    if name in ("bf16", "fp16"):
        return [*threads_flags, "--precision", name], {}
    if name == "compile":
        return [*threads_flags, "--compile"], {}
    raise ValueError(f"unknown variant {name!r}; known: {', '.join(CPU_VARIANTS)}, fp16")


def run_variant(name: str, args: argparse.Namespace, out_dir: Path) -> dict[str, float]:
    flags, environment = variant_flags(name, args.device, args.threads, args.nproc)
    command = [sys.executable, "-m", "rnnkit", "train", "--config", args.config,
               "--max-steps", str(args.steps), "--max-time", "none", "--max-epochs", "none",
               "--eval-every", str(10 * args.steps), "--log-every", str(args.log_every),
               "--device", args.device, "--seed", str(args.seed), "--out-dir", str(out_dir),
               "--no-progress", "--no-tensorboard", "--sample-length", "1",
               *shlex.split(args.train_flags), *flags]
    result = subprocess.run(command, env={**os.environ, **environment}, capture_output=True,
                            text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stderr[-3000:]}")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    with (out_dir / "log.csv").open(encoding="utf-8") as file:
        rows = [row for row in csv.DictReader(file) if row["tokens_per_s"]]
    steady = [float(row["tokens_per_s"]) for row in rows if int(row["step"]) > args.warmup_steps]
    return {"tokens_per_s": statistics.median(steady), "val_loss": summary["val_loss"],
            "train_seconds": float(rows[-1]["elapsed_s"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="src/rnnkit/recipes/shakespeare_char.toml")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup-steps", type=int, default=50)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads of the one-process variants (CPU)")
    parser.add_argument("--nproc", type=int, default=2, help="processes of the DDP variant")
    parser.add_argument("--variants", nargs="+", default=list(CPU_VARIANTS))
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--train-flags", default="",
                        help='more `rnnkit train` flags for every variant, e.g. '
                             '"--hidden-size 512 --batch-size 64"')
    parser.add_argument("--out", default="runs/scaling")
    args = parser.parse_args()
    print(machine_line())
    print(f"# {args.config} {args.train_flags}, {args.steps} steps, seed {args.seed}, "
          f"device {args.device}; "
          f"one-process variants use {args.threads} threads, ddp {args.nproc} processes")
    results = {}
    for name in args.variants:
        results[name] = run_variant(name, args, Path(args.out) / name)
        print(f"{name}: {results[name]}", file=sys.stderr)
    reference = results.get("fp32", next(iter(results.values())))
    rows = [[name, f"{r['tokens_per_s']:,.0f}",
             f"{r['tokens_per_s'] / reference['tokens_per_s']:.2f}x",
             f"{r['train_seconds']:.1f}", f"{r['val_loss']:.4f}"]
            for name, r in results.items()]
    print_table(["variant", "tokens/s (median)", "vs fp32", "training s", "final val loss"],
                rows)
    if torch.cuda.is_available() and args.device == "cuda":
        print(f"# GPU: {torch.cuda.get_device_name(0)}")


if __name__ == "__main__":
    main()
