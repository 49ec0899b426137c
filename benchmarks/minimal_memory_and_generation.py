"""Memory of a training step and one-stream generation speed: minGRU/minLSTM against the LSTM.

Memory (batch 32, hidden 256, input 256, one forward and backward of the summed output),
two measures for each layer and length:
- what autograd saves for the backward pass, counted exactly with
  ``torch.autograd.graph.saved_tensors_hooks`` (distinct storages, bytes);
- the peak resident memory a fresh process gains over the step (sampled every
  millisecond), which adds the temporaries of the forward and the gradients.

Generation: characters per second of ``rnnkit.generate.sample_tokens`` (one stream,
temperature 1, seed 0) for language models of the recipes' shapes; speed does not depend
on the weights, so the models are untrained.

    python benchmarks/minimal_memory_and_generation.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace

import torch
from common import machine_line, print_table
from torch import nn

import rnnkit
from rnnkit.generate import sample_tokens
from rnnkit.models import LanguageModel
from rnnkit.training.config import load_config_file

BATCH, HIDDEN = 32, 256
LAYERS = {
    "rnnkit MinGRU (C++ loop)": lambda: rnnkit.MinGRU(HIDDEN, HIDDEN),
    "rnnkit MinGRU (log-space scan)": lambda: rnnkit.MinGRU(HIDDEN, HIDDEN, engine="scan"),
    "rnnkit MinLSTM (C++ loop)": lambda: rnnkit.MinLSTM(HIDDEN, HIDDEN),
    "torch.nn.LSTM": lambda: nn.LSTM(HIDDEN, HIDDEN),
    "torch.nn.GRU": lambda: nn.GRU(HIDDEN, HIDDEN),
}
GENERATION_RECIPES = ("shakespeare_char", "shakespeare_char_long", "shakespeare_char_mingru",
                      "shakespeare_char_mingru_long", "shakespeare_char_minlstm",
                      "shakespeare_char_minlstm_long")
VOCAB = 80  # about the characters of the Shakespeare text


def training_step(layer: nn.Module, inputs: torch.Tensor) -> None:
    output, _ = layer(inputs)
    output.sum().backward()


def saved_bytes(name: str, time_steps: int) -> int:
    """Bytes of the distinct storages autograd saves for the backward of one step."""
    torch.manual_seed(0)
    layer, inputs = LAYERS[name](), torch.randn(time_steps, BATCH, HIDDEN, requires_grad=True)
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        output, _ = layer(inputs)
    output.sum().backward()
    return sum(storages.values())


def resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def peak_gain_child(name: str, time_steps: int) -> None:
    """Run in a fresh process: print the resident-memory peak a step adds, in bytes.

    A thread samples the resident set every millisecond (``ru_maxrss`` read 0 under the
    quiet tool's supervision, so the peak is observed directly)."""
    torch.manual_seed(0)
    layer, inputs = LAYERS[name](), torch.randn(time_steps, BATCH, HIDDEN, requires_grad=True)
    before, peak, done = resident_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], resident_bytes())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    training_step(layer, inputs)
    done.set()
    sampler.join()
    print(json.dumps({"peak_gain_bytes": max(peak[0], resident_bytes()) - before}))


def peak_gain(name: str, time_steps: int, threads: int) -> int:
    result = subprocess.run(
        [sys.executable, __file__, "--child", name, str(time_steps), "--threads", str(threads)],
        capture_output=True, text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])["peak_gain_bytes"]


def characters_per_second(recipe: str, length: int, repeats: int) -> float:
    config = load_config_file(recipe).model
    # generation runs in eval mode, where dropout (a number or "auto") does nothing
    model = LanguageModel(replace(config, vocab_size=VOCAB, dropout=0.0)).eval()
    times = []
    for _ in range(repeats + 1):  # the first run warms up
        generator = torch.Generator().manual_seed(0)
        started = time.perf_counter()
        sample_tokens(model, [0], length, generator=generator)
        times.append(time.perf_counter() - started)
    return length / statistics.median(times[1:])


def mebibytes(count: int) -> str:
    return f"{count / 2**20:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--characters", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-generation", action="store_true")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--child", nargs=2, metavar=("LAYER", "T"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        peak_gain_child(args.child[0], int(args.child[1]))
        return
    print(machine_line())
    started = time.perf_counter()
    memory = [[name, time_steps, mebibytes(saved_bytes(name, time_steps)),
               mebibytes(peak_gain(name, time_steps, args.threads))]
              for time_steps in args.lengths for name in LAYERS]
    print_table(["layer", "T", "saved for backward (MiB)", "peak resident gain (MiB)"],
                memory)
    generation = [] if args.skip_generation else [
        [recipe, f"{characters_per_second(recipe, args.characters, args.repeats):.0f}"]
        for recipe in GENERATION_RECIPES]
    if generation:
        print_table(["model of recipe", "characters/s (one stream)"], generation)
    print(f"wall time {time.perf_counter() - started:.0f} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump({"memory": memory, "generation": generation}, file, indent=1)


if __name__ == "__main__":
    main()
