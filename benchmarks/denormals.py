"""What denormal floats cost a long-range training step, and what flushing them saves.

A cell whose gradient vanishes over a long sequence (the tanh RNN, the GRU at T = 200)
carries gradients down through float32's denormal range (below 1.2e-38) in its backward
pass, where x86 arithmetic runs many times slower. ``torch.set_flush_denormal(True)``
treats them as zero. Times one forward and backward of a one-layer rnnkit layer on the
adding problem's shape (batch 50, T = 200, 2 input features, hidden 128, the loss on the
last step), each cell with denormals kept and flushed, interleaved in each repeat; prints
the medians and the ratio. The rnnkit layers run torch's fused kernels here
(``engine="auto"``), the minimal cells rnnkit's scan.

    python benchmarks/denormals.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import machine_line, print_table

import rnnkit

CELLS = {"tanh RNN": lambda: rnnkit.RNN(2, 128, batch_first=True),
         "GRU": lambda: rnnkit.GRU(2, 128, batch_first=True),
         "LSTM": lambda: rnnkit.LSTM(2, 128, batch_first=True),
         "minGRU": lambda: rnnkit.MinGRU(2, 128, batch_first=True)}


def step_seconds(layer: torch.nn.Module, inputs: torch.Tensor, flush: bool) -> float:
    """Seconds of one forward and backward of ``layer`` with flushing set to ``flush``."""
    torch.set_flush_denormal(flush)
    try:
        start = time.perf_counter()
        output, _ = layer(inputs)
        output[:, -1].sum().backward()
        return time.perf_counter() - start
    finally:
        torch.set_flush_denormal(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line())
    supported = torch.set_flush_denormal(True)
    torch.set_flush_denormal(False)
    print(f"# flushing denormals supported here: {supported}; batch 50, T = {args.length}, "
          f"hidden 128, seed {args.seed}, medians of {args.repeats}")
    generator = torch.Generator().manual_seed(args.seed)
    inputs = torch.rand(50, args.length, 2, generator=generator)
    rows = []
    for name, build in CELLS.items():
        torch.manual_seed(args.seed)
        layer = build()
        times: dict[bool, list[float]] = {False: [], True: []}
        for repeat in range(args.repeats + 1):
            for flush in (False, True):
                seconds = step_seconds(layer, inputs, flush)
                if repeat > 0:
                    times[flush].append(seconds)
        kept, flushed = (statistics.median(times[flush]) for flush in (False, True))
        rows.append([name, f"{kept * 1e3:.1f}", f"{flushed * 1e3:.1f}", f"{kept / flushed:.2f}x"])
    print_table(["cell", "ms, denormals kept", "ms, flushed", "speed-up"], rows)


if __name__ == "__main__":
    main()
