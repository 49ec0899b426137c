"""Every rnnkit cell variant against torch.nn's fused layers and the naive cell loop.

For each hidden size and batch, one training step (forward + backward, sequence length
100, input size = hidden size) of every model is timed side by side: the repeats are
interleaved, so drift on a shared machine hits all models alike, and the table reports
medians with the ratio to the torch.nn layer each variant extends. The ratio is the median
of per-repeat ratios (each model against its reference in the same repeat), which cancels
most of the load drift of a shared machine. Achieved GFLOP/s (the matrix products of the
step) stands next to a plain matrix product's rate measured in the same run. With
--memory, each model's training step also runs in a fresh process and reports its peak
resident memory above what the process held before the step (Linux's VmHWM after resetting
it, so every byte the step touches counts, torch's allocator or oneDNN's), or torch's peak
allocation (CUDA).

    python benchmarks/cells.py                       # the full grid of docs/performance.md
    python benchmarks/cells.py --hidden 256 --batch 32 --repeats 3 --memory
    python benchmarks/cells.py --device cuda
    python benchmarks/cells.py --no-native          # the engine without its C++ kernels
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import torch
from common import machine_line, median_seconds, print_table
from torch import Tensor, nn

import rnnkit


@dataclass(frozen=True)
class Variant:
    """A model to time: how to build it, the torch.nn layer it extends, its gate count."""

    name: str
    build: Callable[[int], nn.Module]
    reference: str  # "nn.LSTM" or "nn.GRU"
    gates: int
    training: bool = True


class NaiveLoop(nn.Module):
    """What users write when torch.nn lacks their cell: a Python loop over a torch.nn cell."""

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: Tensor) -> tuple[Tensor, None]:
        state, outputs = None, []
        for step in x:  # x: (time, batch, features)
            state = self.cell(step, state)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(outputs), None


VARIANTS = [
    Variant("nn.LSTM", lambda h: nn.LSTM(h, h), "nn.LSTM", 4),
    Variant("nn.GRU", lambda h: nn.GRU(h, h), "nn.GRU", 3),
    Variant("naive nn.LSTMCell loop", lambda h: NaiveLoop(nn.LSTMCell(h, h)), "nn.LSTM", 4),
    Variant("naive nn.GRUCell loop", lambda h: NaiveLoop(nn.GRUCell(h, h)), "nn.GRU", 3),
    Variant("rnnkit LSTM", lambda h: rnnkit.LSTM(h, h), "nn.LSTM", 4),
    Variant("rnnkit GRU", lambda h: rnnkit.GRU(h, h), "nn.GRU", 3),
    Variant("rnnkit LSTM on rnnkit engine", lambda h: rnnkit.LSTM(h, h, engine="rnnkit"),
            "nn.LSTM", 4),
    Variant("rnnkit GRU on rnnkit engine", lambda h: rnnkit.GRU(h, h, engine="rnnkit"),
            "nn.GRU", 3),
    Variant("LSTM peephole", lambda h: rnnkit.LSTM(h, h, peephole=True), "nn.LSTM", 4),
    Variant("LSTM layer_norm", lambda h: rnnkit.LSTM(h, h, layer_norm=True), "nn.LSTM", 4),
    Variant("LSTM recurrent_dropout=0.25", lambda h: rnnkit.LSTM(h, h, recurrent_dropout=0.25),
            "nn.LSTM", 4),
    Variant("LSTM weight_dropout=0.5", lambda h: rnnkit.LSTM(h, h, weight_dropout=0.5),
            "nn.LSTM", 4),
    Variant("GRU reset_after=False", lambda h: rnnkit.GRU(h, h, reset_after=False),
            "nn.GRU", 3),
    Variant("GRU layer_norm", lambda h: rnnkit.GRU(h, h, layer_norm=True), "nn.GRU", 3),
    Variant("GRU recurrent_dropout=0.25", lambda h: rnnkit.GRU(h, h, recurrent_dropout=0.25),
            "nn.GRU", 3),
]
BY_NAME = {variant.name: variant for variant in VARIANTS}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def training_step(model: nn.Module, x: Tensor) -> Callable[[], None]:
    """One forward + backward of ``model`` on ``x`` (time, batch, hidden)."""

    def step() -> None:
        output, _ = model(x)
        output.sum().backward()
        synchronize(x.device)

    return step


def step_gflop(gates: int, hidden: int, batch: int, time: int) -> float:
    """Matrix-product GFLOP of one training step: input and recurrent products forward,
    twice that backward (input size = hidden size)."""
    forward = 2 * time * batch * (2 * hidden) * gates * hidden
    return 3 * forward / 1e9


def matmul_gflops(hidden: int, batch: int, time: int, device: torch.device) -> float:
    """A plain (batch * time, hidden) @ (hidden, 4 * hidden) product's rate, the roofline here."""
    a = torch.randn(batch * time, hidden, device=device)
    b = torch.randn(hidden, 4 * hidden, device=device)
    seconds = median_seconds(lambda: (a @ b, synchronize(device)), repeats=5)
    return 2 * batch * time * hidden * 4 * hidden / seconds / 1e9


def interleaved_samples(steps: dict[str, Callable[[], object]], repeats: int
                        ) -> dict[str, list[float]]:
    """Seconds of every repeat of every step, the models taking turns in each repeat."""
    for step in steps.values():  # warm up (and build the C++ kernels once)
        step()
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = perf_counter()
            step()
            samples[name].append(perf_counter() - start)
    return samples


def paired_ratio(samples: dict[str, list[float]], name: str, reference: str) -> float:
    """Median over repeats of (time of ``name`` / time of ``reference`` in the same repeat):
    neighbours in time share the machine's load, so their ratio drifts less than either."""
    return statistics.median(a / b for a, b in zip(samples[name], samples[reference],
                                                    strict=True))


def build(variant: Variant, hidden: int, device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    return variant.build(hidden).to(device).train(variant.training)


def peak_memory_in_subprocess(name: str, hidden: int, batch: int, time: int, device: str
                              ) -> float:
    """MiB a training step of ``name`` needs at its peak, measured in a fresh process."""
    command = [sys.executable, __file__, "--memory-of", name, "--hidden", str(hidden),
               "--batch", str(batch), "--time", str(time), "--device", device]
    # Big blocks straight from mmap (and back on free): resident memory then follows what
    # is alive instead of what glibc's heap keeps cached from an earlier step.
    environment = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    result = subprocess.run(command, capture_output=True, text=True, check=True,
                            env=environment)
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_mib"]


def measure_own_peak(name: str, hidden: int, batch: int, time: int, device: torch.device
                     ) -> None:
    """(In the child process.) Print the peak memory of two training steps as JSON."""
    model = build(BY_NAME[name], hidden, device)
    x = torch.randn(time, batch, hidden, device=device)
    step = training_step(model, x)
    if device.type == "cuda":
        step()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        step()  # the first step's one-time allocations (thread pools, kernels) are not its cost
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        before = resident_kib("VmRSS")
        reset_peak_resident()
        step()
        peak = (resident_kib("VmHWM") - before) * 1024
    print(json.dumps({"peak_mib": peak / 2**20}))


def resident_kib(field: str) -> int:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}; --memory needs Linux")


def reset_peak_resident() -> None:
    """Make VmHWM start again from the current resident size (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def dispatch_overhead(device: torch.device, repeats: int = 300) -> None:
    """What rnnkit adds around torch's kernel: a forward at a size where the kernel is tiny
    (hidden 32, batch 4, time 10), rnnkit.LSTM/GRU against torch.nn's, in microseconds."""
    x = torch.randn(10, 4, 32, device=device)
    rows = []
    for name, reference, ours in (("LSTM", nn.LSTM(32, 32), rnnkit.LSTM(32, 32)),
                                  ("GRU", nn.GRU(32, 32), rnnkit.GRU(32, 32))):
        reference, ours = reference.to(device), ours.to(device)

        def forward(model: nn.Module) -> Callable[[], None]:
            def run() -> None:
                with torch.no_grad():
                    model(x)
                synchronize(device)
            return run

        samples = interleaved_samples({"torch.nn": forward(reference), "rnnkit": forward(ours)},
                                      repeats)
        torch_us = statistics.median(samples["torch.nn"]) * 1e6
        ours_us = statistics.median(samples["rnnkit"]) * 1e6
        rows.append([name, f"{torch_us:.0f}", f"{ours_us:.0f}", f"{ours_us - torch_us:.0f}"])
    print(f"\n## dispatch overhead: forward at hidden 32, batch 4, time 10 "
          f"(median of {repeats})\n")
    print_table(["layer", "torch.nn µs", "rnnkit µs", "rnnkit adds µs"], rows)


def run_grid(args: argparse.Namespace, device: torch.device) -> None:
    print(machine_line())
    dispatch_overhead(device)
    print(f"# training step (forward + backward), time {args.time}, input = hidden, "
          f"median of {args.repeats} interleaved repeats; device {device}")
    variants = [BY_NAME[name] for name in args.variants] if args.variants else VARIANTS
    for hidden in args.hidden:
        for batch in args.batch:
            x = torch.randn(args.time, batch, hidden, device=device, requires_grad=True)
            models = {v.name: build(v, hidden, device) for v in variants}
            samples = interleaved_samples({name: training_step(model, x)
                                           for name, model in models.items()}, args.repeats)
            seconds = {name: statistics.median(times) for name, times in samples.items()}
            peak = matmul_gflops(hidden, batch, args.time, device)
            print(f"\n## hidden {hidden}, batch {batch} (plain matmul: {peak:.0f} GFLOP/s)\n")
            header = ["model", "backend", "median ms", "x its torch.nn layer", "GFLOP/s",
                      "% of matmul"]
            if args.memory:
                header += ["peak MiB", "x torch.nn memory"]
            rows, memory = [], {}
            for variant in variants:
                model = models[variant.name]
                backend = getattr(model, "backend", "torch-fused" if variant.name.startswith(
                    "nn.") else "python loop")
                ms = seconds[variant.name] * 1e3
                ratio = paired_ratio(samples, variant.name, variant.reference)
                gflops = step_gflop(variant.gates, hidden, batch, args.time) / seconds[
                    variant.name]
                row = [variant.name, backend, f"{ms:.1f}", f"{ratio:.2f}", f"{gflops:.0f}",
                       f"{100 * gflops / peak:.0f}"]
                if args.memory:
                    memory[variant.name] = peak_memory_in_subprocess(
                        variant.name, hidden, batch, args.time, device.type)
                    row += [f"{memory[variant.name]:.0f}",
                            f"{memory[variant.name] / memory[variant.reference]:.2f}"
                            if variant.reference in memory else "-"]
                rows.append(row)
            print_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 256, 512, 1024])
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--time", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--variants", nargs="+", choices=sorted(BY_NAME), default=None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--memory", action="store_true",
                        help="also measure each model's peak memory in a fresh process")
    parser.add_argument("--memory-of", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-native", action="store_true",
                        help="run the scan engine on its torch-operator kernels (RNNKIT_NATIVE=0)")
    args = parser.parse_args()
    if args.no_native:
        os.environ["RNNKIT_NATIVE"] = "0"  # read when the engine first looks for its kernels
    device = torch.device(args.device)
    if args.memory_of:
        measure_own_peak(args.memory_of, args.hidden[0], args.batch[0], args.time, device)
        return
    run_grid(args, device)


if __name__ == "__main__":
    main()
