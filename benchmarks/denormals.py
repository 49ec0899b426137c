"""What denormal floats cost a long-range training step, and what flushing them saves.

A cell whose gradient vanishes over a long sequence (the tanh RNN, the GRU at T = 200)
carries gradients down through float32's denormal range (below 1.2e-38) in its backward
pass, where x86 arithmetic runs many times slower. Flushing treats them as zero:
``torch.set_flush_denormal(True)`` in the calling thread only, rnnkit's C++ helper
(``flush_denormals``) in every intra-op thread. Times one forward and backward of a
one-layer rnnkit layer on the adding problem's shape (batch 50, T = 200, 2 input features,
hidden 128, the loss on the last step), each cell with denormals kept and flushed both
ways, interleaved in each repeat; prints the medians and the speed-ups. The rnnkit layers
run torch's fused kernels here (``engine="auto"``), the minimal cells rnnkit's scan.

    python benchmarks/denormals.py --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import machine_line, print_table

import rnnkit
from rnnkit.engine.native import native_extension

CELLS = {"tanh RNN": lambda: rnnkit.RNN(2, 128, batch_first=True),
         "GRU": lambda: rnnkit.GRU(2, 128, batch_first=True),
         "LSTM": lambda: rnnkit.LSTM(2, 128, batch_first=True),
         "minGRU": lambda: rnnkit.MinGRU(2, 128, batch_first=True)}


#: How denormals are treated: kept; flushed by torch's switch (the calling thread only);
#: flushed in every intra-op thread by rnnkit's C++ helper.
MODES = ("kept", "torch.set_flush_denormal", "every thread (rnnkit)")


def set_mode(mode: str) -> None:
    """Denormals treated as ``mode`` says, in the threads it names."""
    native_extension().flush_denormals(mode == MODES[2])
    if mode == MODES[1]:
        torch.set_flush_denormal(True)


def step_seconds(layer: torch.nn.Module, inputs: torch.Tensor, mode: str) -> float:
    """Seconds of one forward and backward of ``layer`` with denormals treated as ``mode``."""
    set_mode(mode)
    try:
        start = time.perf_counter()
        output, _ = layer(inputs)
        output[:, -1].sum().backward()
        return time.perf_counter() - start
    finally:
        set_mode(MODES[0])


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
        times: dict[str, list[float]] = {mode: [] for mode in MODES}
        for repeat in range(args.repeats + 1):
            for mode in MODES:
                seconds = step_seconds(layer, inputs, mode)
                if repeat > 0:
                    times[mode].append(seconds)
        kept, *flushed = (statistics.median(times[mode]) for mode in MODES)
        rows.append([name, f"{kept * 1e3:.1f}", *(f"{value * 1e3:.1f} ({kept / value:.2f}x)"
                                                  for value in flushed)])
    print_table(["cell", "ms, denormals kept", *(f"ms, flushed: {mode}" for mode in MODES[1:])],
                rows)


if __name__ == "__main__":
    main()
