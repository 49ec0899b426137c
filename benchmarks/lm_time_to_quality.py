"""Time to quality: an rnnkit recipe against the plain PyTorch loop on the same text and split.

The plain loop is the issue's reference: a torch.nn 2x512 LSTM, Adam 2e-3, sequence 100,
batch 64, dropout 0.2, trained by a hand-written truncated-BPTT loop. Both sides are timed
on training alone (validation excluded) and validated the same way: stateful, 32 streams,
windows of 256, on the first ``--eval-tokens`` validation characters along the way and on
the whole validation split at the end. Prints a table and writes both curves in one PNG.
``--text-file`` puts both sides on another text (split 90/10 by position). Several recipes
(``--recipe A B ...``) are trained one after another and drawn in the same plot, each with
its loss at ``--at`` minutes read off its curve; ``--plain-minutes 0`` leaves the plain loop
out, and ``--recipe`` with no name runs the plain loop alone.

    python benchmarks/lm_time_to_quality.py --recipe shakespeare_char \
        --plain-minutes 4 --plot docs/figures/time_to_quality_demo.png
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from common import PlainLanguageModel, machine_line, plain_train_steps, print_table

from rnnkit.data.batching import make_streams
from rnnkit.data.corpus import load_corpus
from rnnkit.metrics.language import stateful_loss
from rnnkit.plotting import pyplot, save_figure
from rnnkit.tasks.language_model.training import train
from rnnkit.training.checkpoint import load_checkpoint_config
from rnnkit.training.config import RunConfig, load_config_file
from rnnkit.training.environment import seed_everything
from rnnkit.training.records import read_log

EVAL_STREAMS, EVAL_WINDOW = 32, 256


def validation_loss(model: torch.nn.Module, ids: torch.Tensor) -> float:
    return stateful_loss(model, ids, batch_size=EVAL_STREAMS,
                                                    seq_len=EVAL_WINDOW)


def run_plain(corpus, minutes: float, eval_tokens: int, eval_every_s: float, seed: int):
    """Train the reference loop for ``minutes`` of training time; returns its curve."""
    seed_everything(seed)
    model = PlainLanguageModel(len(corpus.vocab), 128, 512, 2, 0.2)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    streams = make_streams(corpus.splits["train"], 64)
    per_epoch = (streams.shape[1] - 1) // 100  # full windows only, as plain_train_steps
    curve, trained_s, window, state, next_eval = [], 0.0, 0, None, eval_every_s
    while trained_s < minutes * 60:
        start = time.perf_counter()
        _, state = plain_train_steps(model, optimizer, streams, 100, window, 1, state)
        trained_s += time.perf_counter() - start
        window = (window + 1) % per_epoch
        if trained_s >= next_eval:
            curve.append((trained_s, validation_loss(model, corpus.splits["valid"][:eval_tokens])))
            next_eval += eval_every_s
    return curve, validation_loss(model, corpus.splits["valid"]), window


def on_text(config: RunConfig, text_file: Path | None) -> RunConfig:
    """``config`` with its data set replaced by ``text_file`` (split 90/10 by position)."""
    if text_file is None:
        return config
    return replace(config, data=replace(config.data, dataset=None, text_file=str(text_file)))


def run_recipe(recipe: str, eval_tokens: int, seed: int, eval_every: int | None = None,
               text_file: Path | None = None):
    """Train the rnnkit recipe; returns its curve, its final full validation loss and its
    training minutes.
    ``eval_every`` (steps) replaces the recipe's, so that curves have points alike;
    ``text_file`` replaces its data set (split 90/10 by position, as ``--text-file``)."""
    config = on_text(load_config_file(recipe), text_file)
    # The run's folder (its checkpoints: 45-80 MB for the long recipes) goes when the
    # figures are read from it.
    with tempfile.TemporaryDirectory(prefix="rnnkit-ttq-") as folder:
        out_dir = Path(folder)
        config = replace(config, train=replace(config.train, out_dir=str(out_dir), seed=seed,
                                               eval_every=eval_every or config.train.eval_every,
                                               eval_max_tokens=eval_tokens,
                                               eval_batch_size=EVAL_STREAMS,
                                               eval_window=EVAL_WINDOW, progress=False))
        result = train(config)
        planned = load_checkpoint_config(out_dir)  # what "auto" settings became
        _, valid_rows = read_log(out_dir / "log.csv")
    plan = {"max_steps": planned["train"]["max_steps"], "dropout": planned["model"]["dropout"],
            "precision": result.environment["precision"], "steps": result.steps,
            "stop_reason": result.stop_reason}
    print(f"{Path(recipe).stem}: max_steps {plan['max_steps']}, dropout {plan['dropout']}, "
          f"precision {plan['precision']}; {result.steps:,} steps trained, "
          f"{result.stop_reason}", flush=True)
    curve = [(row["elapsed_s"], row["val_loss"]) for row in valid_rows[:-1]]
    return curve, result.val_loss, result.elapsed_s / 60, plan


def time_to_reach(curve: list[tuple[float, float]], target: float) -> float | None:
    """First training time at which the curve is at or below ``target``, interpolated."""
    previous = None
    for seconds, loss in curve:
        if loss <= target:
            if previous is None:
                return seconds
            (s0, l0) = previous
            return s0 + (seconds - s0) * (l0 - target) / (l0 - loss)
        previous = (seconds, loss)
    return None


def loss_at(curve: list[tuple[float, float]], seconds: float) -> float | None:
    """The curve's loss at ``seconds`` of training, interpolated; None outside it."""
    for (s0, l0), (s1, l1) in itertools.pairwise(curve):
        if s0 <= seconds <= s1:
            return l0 + (l1 - l0) * (seconds - s0) / (s1 - s0)
    if curve and abs(curve[-1][0] - seconds) < 1.0:  # the run's last point, at its end
        return curve[-1][1]
    return None


def plot(curves: dict[str, list[tuple[float, float]]], eval_tokens: int, path: Path) -> None:
    figure, axis = pyplot().subplots(figsize=(7, 4.5))
    for label, curve in curves.items():
        axis.plot([s / 60 for s, _ in curve], [loss for _, loss in curve], "o-", label=label,
                  markersize=3)
    # The first validation of a run without dropout can sit far above the rest (4.85 on
    # the 1 MB text); the axis shows every curve from its second point on instead.
    later = [loss for curve in curves.values() for _, loss in curve[1:]]
    if later:
        low, high = min(later), max(later)
        axis.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
    axis.set_xlabel("training time (minutes, 2 CPU cores)")
    axis.set_ylabel(f"validation loss, first {eval_tokens:,} chars\n(nats/char, stateful)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    save_figure(figure, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", nargs="*", default=["shakespeare_char"],
                        help="shipped recipes' names or TOML files, trained in turn (none: "
                             "the plain loop alone, on the demo recipe's data)")
    parser.add_argument("--plain-minutes", type=float, default=4.0,
                        help="the plain loop's training minutes (0: leave it out)")
    parser.add_argument("--at", type=float, nargs="*", default=[],
                        help="also report each curve's loss at these training minutes")
    parser.add_argument("--eval-tokens", type=int, default=100_000)
    parser.add_argument("--eval-every-s", type=float, default=20.0,
                        help="the plain loop validates every this many training seconds")
    parser.add_argument("--eval-every", type=int,
                        help="the recipes validate every this many steps (default: theirs)")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--text-file", type=Path,
                        help="train and validate both sides on this text instead of the "
                             "recipe's data set")
    parser.add_argument("--plot", type=Path, default=Path("docs/figures/time_to_quality.png"))
    parser.add_argument("--json", type=Path, help="also write the curves and figures here")
    parser.add_argument("--include", type=Path, nargs="*", default=[],
                        help="earlier runs' --json files whose curves join the table and plot")
    args = parser.parse_args()
    print(machine_line())
    started = time.perf_counter()
    curves, finals, minutes, plans = {}, {}, {}, {}
    for earlier in args.include:
        saved = json.loads(earlier.read_text(encoding="utf-8"))
        curves.update(saved["curves"])
        finals.update(saved["finals"])
        minutes.update(saved["minutes"])
        plans.update(saved.get("plans", {}))
    for recipe in args.recipe:
        label = f"rnnkit {Path(recipe).stem}"
        run_started = time.perf_counter()
        curves[label], finals[label], minutes[label], plans[label] = run_recipe(
            recipe, args.eval_tokens, args.seed, args.eval_every, args.text_file)
        print(f"{label}: {minutes[label]:.2f} training minutes, full-split loss "
              f"{finals[label]:.4f}, wall {(time.perf_counter() - run_started) / 60:.1f} min",
              flush=True)
    if args.plain_minutes > 0:
        # the plain loop trains on the last recipe's data (the demo's when none is named)
        data_recipe = args.recipe[-1] if args.recipe else "shakespeare_char"
        corpus = load_corpus(on_text(load_config_file(data_recipe), args.text_file).data)
        label = "plain torch.nn loop (2x512, Adam 2e-3, seq 100, batch 64)"
        curves[label], finals[label], _ = run_plain(corpus, args.plain_minutes,
                                                    args.eval_tokens, args.eval_every_s,
                                                    args.seed)
        minutes[label] = args.plain_minutes
    print_table(
        ["run", "training minutes", "final validation loss (full split, nats/char)",
         f"validation loss on first {args.eval_tokens:,} chars at the end",
         *(f"... at {at:g} min" for at in args.at)],
        [[label, f"{minutes[label]:.2f}", f"{finals[label]:.4f}",
          f"{curve[-1][1]:.4f}" if curve else "-",
          *(_format(loss_at(curve, at * 60)) for at in args.at)]
         for label, curve in curves.items()])
    if args.plain_minutes > 0:
        plain_label = next(iter(reversed(curves)))
        for label, curve in list(curves.items())[:-1]:
            reach = time_to_reach(curve, curves[plain_label][-1][1]) if curves[plain_label] \
                else None
            if reach is not None:
                print(f"{label} reaches the plain loop's final subset loss after "
                      f"{reach / 60:.2f} training minutes")
    print(f"wall time {(time.perf_counter() - started) / 60:.1f} min")
    plot({_short(label): curve for label, curve in curves.items()}, args.eval_tokens,
         args.plot)
    if args.json:
        # plans: what each recipe's "auto" settings became and where it stopped
        args.json.write_text(json.dumps({"curves": curves, "finals": finals,
                                         "minutes": minutes, "plans": plans,
                                         "seed": args.seed}, indent=1))


def _short(label: str) -> str:
    """The plain loop's label without its settings; a recipe's label whole (two runs of one
    recipe differ only in what follows its name)."""
    return label.split(" (")[0] if label.startswith("plain") else label


def _format(loss: float | None) -> str:
    return "-" if loss is None else f"{loss:.4f}"


if __name__ == "__main__":
    main()
