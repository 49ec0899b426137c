"""rnnkit's trainer against a plain hand-written PyTorch loop: tokens per second, side by side.

Same data (Shakespeare, character level), same batch layout (parallel streams, truncated
BPTT with carried state), same model shape, same optimizer; the runs alternate so drift on
a shared machine hits both. Three columns:
  - rnnkit trainer: ``rnnkit.training.trainer.training_loop`` with its progress bar, CSV and
    TensorBoard records, driving ``rnnkit.models.LanguageModel`` (rnnkit.LSTM inside);
  - plain loop, same model: the hand-written loop driving the same LanguageModel;
  - plain loop, torch.nn model: the hand-written loop driving an nn.LSTM model.

    python benchmarks/lm_throughput.py [--steps 30 --repeats 5 --hidden-size 512]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from common import PlainLanguageModel, machine_line, plain_train_steps, print_table

from rnnkit.models import ModelConfig
from rnnkit.tasks.language_model.training import prepare_run
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig
from rnnkit.training.records import RunRecords
from rnnkit.training.trainer import training_loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="windows per timed run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seq-len", type=int, default=100)
    args = parser.parse_args()
    print(machine_line())
    # the trainer's checkpoints and logs: removed afterwards, not left in /tmp
    with tempfile.TemporaryDirectory(prefix="rnnkit-throughput-") as out_dir:
        time_loops(args, out_dir)


def time_loops(args: argparse.Namespace, out_dir: str) -> None:
    """Times the trainer and the two plain loops side by side, writing into ``out_dir``,
    and prints the table."""
    config = RunConfig(
        data=DataConfig(dataset="shakespeare"),
        model=ModelConfig(embedding_size=128, hidden_size=args.hidden_size,
                          num_layers=args.num_layers, dropout=0.2),
        train=TrainConfig(batch_size=args.batch_size, seq_len=args.seq_len, lr=2e-3,
                          max_steps=10**9, eval_every=10**9, out_dir=out_dir, progress=True,
                          tensorboard=True),
    )
    run = prepare_run(config)
    tokens_per_run = args.steps * args.batch_size * args.seq_len
    same_model_optimizer = torch.optim.Adam(run.model.parameters(), lr=2e-3)
    torch_model = PlainLanguageModel(len(run.task.corpus.vocab), 128, args.hidden_size,
                                     args.num_layers, 0.2)
    torch_optimizer = torch.optim.Adam(torch_model.parameters(), lr=2e-3)
    timings: dict[str, list[float]] = {"rnnkit trainer": [], "plain loop, same model": [],
                                       "plain loop, torch.nn model": []}
    windows = {"plain loop, same model": 0, "plain loop, torch.nn model": 0}

    def time_trainer() -> float:
        records = RunRecords(Path(out_dir), total_steps=None, start_step=run.progress.step,
                             progress=True, tensorboard=True, max_time_s=None)
        run.settings = replace(run.settings, max_steps=run.progress.step + args.steps)
        start = time.perf_counter()
        training_loop(run, records)
        elapsed = time.perf_counter() - start
        records.close()
        return elapsed

    def time_plain(name: str, model, optimizer) -> float:
        start = time.perf_counter()
        plain_train_steps(model, optimizer, run.task.streams, args.seq_len, windows[name],
                          args.steps)
        windows[name] += args.steps
        return time.perf_counter() - start

    for repeat in range(args.repeats + 1):  # the first round warms up and is discarded
        results = {
            "rnnkit trainer": time_trainer(),
            "plain loop, same model": time_plain("plain loop, same model", run.model,
                                                 same_model_optimizer),
            "plain loop, torch.nn model": time_plain("plain loop, torch.nn model", torch_model,
                                                     torch_optimizer),
        }
        if repeat:
            for name, seconds in results.items():
                timings[name].append(seconds)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    plain = medians["plain loop, same model"]
    rows = [[name, f"{tokens_per_run / seconds:,.0f}", f"{plain / seconds:.3f}"]
            for name, seconds in medians.items()]
    print(f"# LSTM {args.num_layers}x{args.hidden_size}, batch {args.batch_size}, "
          f"seq {args.seq_len}, {args.steps} windows per run, median of {args.repeats}")
    print_table(["loop", "tokens/s", "speed vs plain loop (same model)"], rows)


if __name__ == "__main__":
    main()
