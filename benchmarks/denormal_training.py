"""Whole long-range runs through the trainer with denormals flushed (the default) and kept.

``benchmarks/denormals.py`` times one step of a layer; this trains the adding problem
(T = 200 by default, batch 50, hidden 128) end to end with ``rnnkit task``'s own code,
``flush_denormals`` on and off, the two runs of each repeat in alternating order, and prints
the median training seconds (the trainer's clock, validation excluded), the wall seconds of
the whole run and the test MSE each ended with. The same seed gives both runs the same data
and initial weights: where no value reaches float32's denormal range the two runs are the
same run; where the backward pass carries denormals, flushing turns them into zeros.

    python benchmarks/denormal_training.py --threads 1 --steps 200
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import machine_line, print_table

from rnnkit.tasks.long_range.config import LongRangeConfig
from rnnkit.tasks.long_range.training import train_long_range

CELLS = ("rnn_tanh", "gru", "lstm")


def timed_run(cell: str, flush: bool, args: argparse.Namespace) -> tuple[float, float, float]:
    """Training seconds, wall seconds and test MSE of one run."""
    config = LongRangeConfig(task="adding", cell=cell, length=args.length,
                             max_steps=args.steps, eval_every=args.steps, seed=args.seed,
                             threads=args.threads, progress=False, flush_denormals=flush)
    start = time.perf_counter()
    result = train_long_range(config)
    return result.elapsed_s, time.perf_counter() - start, result.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line())
    print(f"# adding problem, T = {args.length}, {args.steps} steps, batch 50, hidden 128, "
          f"seed {args.seed}, medians of {args.repeats} (the two settings alternate)")
    timed_run(args.cells[0], True, argparse.Namespace(**{**vars(args), "steps": 2}))  # warm-up
    rows = []
    for cell in args.cells:
        runs: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
        for repeat in range(args.repeats):
            order = (False, True) if repeat % 2 == 0 else (True, False)
            for flush in order:
                runs[flush].append(timed_run(cell, flush, args))
        kept, flushed = (_medians(runs[flush]) for flush in (False, True))
        rows.append([cell, f"{kept[0]:.1f}", f"{flushed[0]:.1f}",
                     f"{kept[0] / flushed[0]:.2f}x", f"{kept[1]:.1f}", f"{flushed[1]:.1f}",
                     f"{kept[2]:.5f}", f"{flushed[2]:.5f}"])
    print_table(["cell", "train s, kept", "train s, flushed", "speed-up", "wall s, kept",
                 "wall s, flushed", "test MSE, kept", "test MSE, flushed"], rows)


def _medians(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    return tuple(statistics.median(column) for column in zip(*runs, strict=True))


if __name__ == "__main__":
    main()
