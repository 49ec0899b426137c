"""The Shakespeare character LM as an LSTM and as a Transformer of the same size.

Three parts:

    # train each model for the same wall time (one CPU thread each, side by side)
    python benchmarks/rnn_vs_transformer.py train --which lstm --minutes 12 --threads 1 &
    python benchmarks/rnn_vs_transformer.py train --which transformer --minutes 12 --threads 1
    # validation loss against training time in one plot, and the training throughput
    python benchmarks/rnn_vs_transformer.py report --plot docs/figures/rnn_vs_transformer.png
    # generation speed and the state kept per generated token as the context grows
    python benchmarks/rnn_vs_transformer.py generate --threads 1

The LSTM is the ``make demo`` recipe (src/rnnkit/recipes/shakespeare_char.toml: 2 x 256, embeddings
of 64, batch 32 x 64 with the state carried, Adam 3e-3); the Transformer is its twin in
src/rnnkit/recipes/shakespeare_char_transformer.toml: 4 pre-norm layers of 128 with 4 heads over a
context of 128 (:class:`rnnkit.models.transformer_lm.TransformerLanguageModel`), batch
16 x 128 (the same 2,048 tokens a step), Adam 1e-3 after 200 warm-up steps. Both are
trained by the same trainer and validated the same way: stateful, windows of 256, on the
first 100,000 validation characters along the way and on the whole split at the end (the
LSTM's state runs through the whole text; the Transformer's is its cache, so each
character is predicted from the 64 to 127 before it).

The generation part times ``model(token, state)`` one token at a time at batch 1 and
records the bytes of the state carried from token to token. It uses fresh weights (speed
and memory do not depend on them), and a Transformer context of ``--max-context`` so its
cache can grow that far.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch
from common import machine_line, print_table

from rnnkit.inference import load_language_model
from rnnkit.models.factory import build_language_model
from rnnkit.plotting import pyplot, save_figure
from rnnkit.tasks.language_model.training import train
from rnnkit.training.config import RunConfig, load_config_file
from rnnkit.training.records import read_log

RUNS = Path(os.environ.get("RNN_VS_TRANSFORMER_RUNS", "runs/rnn_vs_transformer"))
NAMES = ("lstm", "transformer")


RECIPES = {"lstm": "src/rnnkit/recipes/shakespeare_char.toml",
           "transformer": "src/rnnkit/recipes/shakespeare_char_transformer.toml"}


def run_config(which: str, minutes: float, threads: int | None,
               seed: int | None = None) -> RunConfig:
    """The demo recipe, or its Transformer twin, bounded by ``minutes`` of training (with
    ``seed``, or the recipe's own seed if None)."""
    config = load_config_file(RECIPES[which])
    seed = config.train.seed if seed is None else seed
    settings = replace(config.train, max_time=minutes, max_steps=None, seed=seed,
                       out_dir=str(RUNS / which), overwrite=True, threads=threads,
                       eval_max_tokens=100_000,
                       eval_window=256, tensorboard=False, progress=False)
    return replace(config, train=settings)


def command_train(args: argparse.Namespace) -> None:
    result = train(run_config(args.which, args.minutes, args.threads, args.seed))
    print(f"{args.which}: validation loss {result.val_loss:.4f} after {result.steps} steps")


def command_report(args: argparse.Namespace) -> None:
    print(machine_line())
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(7, 4.5))
    rows = []
    for which in NAMES:
        train_rows, valid_rows = read_log(RUNS / which / "log.csv")
        # Along the way: the first 100,000 validation characters; at the end: all of them.
        along, final = valid_rows[:-1], valid_rows[-1]
        minutes = [row["elapsed_s"] / 60 for row in along]
        losses = [row["val_loss"] for row in along]
        line, = axis.plot(minutes, losses, marker="o", markersize=3,
                          label=f"{which} (first 100,000 characters)")
        axis.plot([final["elapsed_s"] / 60], [final["val_loss"]], marker="*", markersize=12,
                  linestyle="none", color=line.get_color(),
                  label=f"{which} at the end (whole split)")
        speed = statistics.median(row["tokens_per_s"] for row in train_rows)
        model = load_language_model(RUNS / which, device="cpu").model
        size = sum(p.numel() for p in model.parameters())
        rows.append([which, f"{size:,}", f"{train_rows[-1]['step']:.0f}", f"{speed:,.0f}",
                     f"{min(losses):.4f}", f"{final['val_loss']:.4f}",
                     f"{final['elapsed_s'] / 60:.1f}"])
    axis.set_xlabel("minutes of training (one CPU thread each)")
    axis.set_ylabel("validation loss (nats per character)")
    axis.set_title("Shakespeare characters: LSTM against Transformer, same size")
    axis.grid(alpha=0.3)
    axis.legend()
    print_table(["model", "parameters", "steps", "training tokens/s (median)",
                 "best val loss (first 100k)", "final val loss (whole split)", "minutes"], rows)
    if args.plot:
        print(save_figure(figure, args.plot))


def generation_rows(model: torch.nn.Module, contexts: list[int], vocab: int,
                    repeats: int) -> list[tuple[int, float, int]]:
    """(context, tokens/s around it, state bytes at it) for one model at batch 1."""
    rows, state, position = [], None, 0
    generator = torch.Generator().manual_seed(0)
    token = torch.randint(0, vocab, (1, 1), generator=generator)
    with torch.inference_mode():
        for context in contexts:
            while position < context - repeats:
                _, state = model(token, state)
                position += 1
            start = time.perf_counter()
            for _ in range(repeats):
                logits, state = model(token, state)
                token = logits[:, -1].argmax(dim=-1, keepdim=True)
            seconds = time.perf_counter() - start
            position += repeats
            size = sum(part.numel() * part.element_size() for part in _parts(state))
            rows.append((context, repeats / seconds, size))
    return rows


def _parts(state) -> tuple[torch.Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def command_generate(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    print(machine_line())
    vocab = args.vocab_size
    lstm = run_config("lstm", 1.0, None).model
    transformer = replace(run_config("transformer", 1.0, None).model, context=args.max_context)
    results = {}
    for which, config in (("lstm", lstm), ("transformer", transformer)):
        torch.manual_seed(0)
        model = build_language_model(replace(config, vocab_size=vocab)).eval()
        results[which] = generation_rows(model, args.contexts, vocab, args.repeats)
    rows = []
    for (context, lstm_speed, lstm_bytes), (_, tf_speed, tf_bytes) in zip(
            results["lstm"], results["transformer"], strict=True):
        rows.append([context, f"{lstm_speed:,.0f}", f"{tf_speed:,.0f}",
                     f"{lstm_speed / tf_speed:.2f}x", f"{lstm_bytes / 1024:,.1f}",
                     f"{tf_bytes / 1024:,.1f}"])
    print_table(["context (tokens so far)", "LSTM tokens/s", "Transformer tokens/s",
                 "LSTM / Transformer", "LSTM state KiB", "Transformer state KiB"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parts = parser.add_subparsers(dest="part", required=True)
    training = parts.add_parser("train")
    training.add_argument("--which", choices=NAMES, required=True)
    training.add_argument("--minutes", type=float, default=12.0)
    training.add_argument("--threads", type=int, default=None)
    training.add_argument("--seed", type=int, default=None,
                          help="the training seed (default: the recipe's, 1337)")
    training.set_defaults(handler=command_train)
    report = parts.add_parser("report")
    report.add_argument("--plot", type=Path, default=None)
    report.set_defaults(handler=command_report)
    generate = parts.add_parser("generate")
    generate.add_argument("--contexts", type=int, nargs="+",
                          default=[64, 128, 256, 512, 1024, 2048])
    generate.add_argument("--max-context", type=int, default=2048)
    generate.add_argument("--repeats", type=int, default=32)
    generate.add_argument("--vocab-size", type=int, default=65)
    generate.add_argument("--threads", type=int, default=None)
    generate.set_defaults(handler=command_generate)
    args = parser.parse_args()
    args.handler(args)


if __name__ == "__main__":
    main()
