"""minGRU and minLSTM: the parallel scan against the same layer run step by step, and both
against torch.nn's fused LSTM and GRU, one training step (forward + backward) each.

For every sequence length T, the models below are timed side by side (the repeats
interleaved, so load drift on a shared machine hits them alike); the table gives medians
and the speedup of the scan over the step-by-step form (the cell called once per step, as
a recurrence is run without a scan), per repeat then the median:

- ``scan``: rnnkit.MinGRU / MinLSTM (one input projection, one log-space scan over time);
- ``steps``: rnnkit.MinGRUCell / MinLSTMCell called once per step in a Python loop;
- ``nn.LSTM`` / ``nn.GRU`` of the same hidden size (torch's fused kernels, oneDNN on CPU);
- ``nn.LSTM, same params``: the hidden size that gives the LSTM the minGRU's parameter
  count.

    python benchmarks/parallel_scan.py                    # docs/parallel-rnns.md's table
    python benchmarks/parallel_scan.py --lengths 64 512 --hidden 512 --repeats 3
    python benchmarks/parallel_scan.py --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from common import machine_line, print_table
from torch import nn

import rnnkit

Step = Callable[[], None]


def scan_step(layer: nn.Module, x: torch.Tensor) -> Step:
    def step() -> None:
        output, _ = layer(x)
        output.sum().backward()
    return step


def cell_loop_step(cell: nn.Module, x: torch.Tensor) -> Step:
    def step() -> None:
        h, outputs = None, []
        for x_t in x:
            h = cell(x_t, h)
            outputs.append(h)
        torch.stack(outputs).sum().backward()
    return step


def same_parameter_lstm_size(parameters: int, input_size: int) -> int:
    """The LSTM hidden size h with about ``parameters`` parameters:
    4 h (input + h) + 8 h = parameters."""
    return round((-(input_size + 2) + ((input_size + 2) ** 2 + parameters) ** 0.5) / 2)


def models(kind: str, hidden: int, x: torch.Tensor, device: str) -> dict[str, Step]:
    """Every model's training step on the time-major input ``x``."""
    layer_cls, cell_cls = ((rnnkit.MinGRU, rnnkit.MinGRUCell) if kind == "mingru"
                           else (rnnkit.MinLSTM, rnnkit.MinLSTMCell))
    layer = layer_cls(hidden, hidden).to(device)
    cell = cell_cls(hidden, hidden).to(device)
    same = same_parameter_lstm_size(sum(p.numel() for p in layer.parameters()), hidden)
    return {
        "scan": scan_step(layer, x),
        "steps": cell_loop_step(cell, x),
        "nn.LSTM": scan_step(nn.LSTM(hidden, hidden).to(device), x),
        "nn.GRU": scan_step(nn.GRU(hidden, hidden).to(device), x),
        "nn.LSTM same params": scan_step(nn.LSTM(hidden, same).to(device), x),
    }


def time_side_by_side(steps: dict[str, Step], repeats: int, device: str,
                      skip_steps: bool) -> dict[str, list[float]]:
    def timed(step: Step) -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    names = [name for name in steps if not (skip_steps and name == "steps")]
    for name in names:
        timed(steps[name])  # warm-up
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(repeats):
        for name in names:
            times[name].append(timed(steps[name]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 256, 512, 1024, 4096])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--kinds", nargs="+", default=["mingru", "minlstm"],
                        choices=("mingru", "minlstm"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps-up-to", type=int, default=4096,
                        help="time the step-by-step form only up to this length")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    print(machine_line())
    print(f"# batch {args.batch}, hidden {args.hidden} (input = hidden), one training step "
          f"(forward + backward), median of {args.repeats}, seed {args.seed}, "
          f"device {args.device}")
    started = time.perf_counter()
    rows = []
    for kind in args.kinds:
        for length in args.lengths:
            x = torch.randn(length, args.batch, args.hidden, device=args.device)
            times = time_side_by_side(models(kind, args.hidden, x, args.device),
                                      args.repeats, args.device,
                                      skip_steps=length > args.steps_up_to)
            medians = {name: statistics.median(values) for name, values in times.items()}
            speedup = "-"
            if "steps" in times:
                ratios = [s / p for s, p in zip(times["steps"], times["scan"], strict=True)]
                speedup = f"{statistics.median(ratios):.1f}x"
            rows.append([kind, length, f"{medians['scan'] * 1e3:.1f}",
                         f"{medians['steps'] * 1e3:.1f}" if "steps" in medians else "-",
                         speedup, *(f"{value * 1e3:.1f}" for name, value in medians.items()
                                    if name.startswith("nn."))])
    print_table(["cell", "T", "scan ms", "steps ms", "scan speedup", "nn.LSTM ms", "nn.GRU ms",
                 "nn.LSTM same params ms"], rows)
    for kind, gates in (("mingru", 2), ("minlstm", 3)):
        size = same_parameter_lstm_size(gates * args.hidden * (args.hidden + 1), args.hidden)
        print(f"# same parameter count as {kind}: nn.LSTM with hidden size {size}")
    print(f"# {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
