"""What bf16 does to a carried state: stateful validation loss of a checkpoint in float32
and under bf16 autocast, with windows of several lengths.

Under autocast torch's fused LSTM returns ``(h, c)`` rounded to bf16, and the trainer casts
them back to float32 before the next window; shorter windows mean more such roundings.
If the bf16-minus-fp32 gap does not grow as the windows shrink, rounding the state at
window boundaries is not what bf16 costs.

    python benchmarks/carried_state_precision.py --checkpoint runs/shakespeare_char
"""

from __future__ import annotations

import argparse
import time

import torch
from common import machine_line, print_table

from rnnkit.data.batching import get_window, make_streams, num_windows
from rnnkit.data.corpus import load_corpus
from rnnkit.inference import load_language_model
from rnnkit.metrics.language import target_tokens
from rnnkit.models.language_model import detach_state
from rnnkit.training.precision import carried_state


@torch.no_grad()
def stateful_loss(model, streams, window: int, autocast: bool) -> float:
    """Mean loss over the streams, windows under bf16 autocast or not, the state between
    windows carried in float32 (as the trainer carries it)."""
    total, count, state = 0.0, 0, None
    for index in range(num_windows(streams, window)):
        inputs, targets = get_window(streams, index, window)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            logits, state = model(inputs, detach_state(state))
        state = carried_state(state, torch.float32)
        total += float(torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]), target_tokens(targets).reshape(-1),
            reduction="sum"))
        count += target_tokens(targets).numel()
    return total / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--windows", type=int, nargs="+", default=[8, 64, 512])
    parser.add_argument("--streams", type=int, default=32)
    args = parser.parse_args()
    loaded = load_language_model(args.checkpoint, device="cpu")
    corpus = load_corpus(loaded.config.data, vocab_dict=loaded.vocab.to_dict())
    streams = make_streams(corpus.splits["valid"][: args.tokens], args.streams)
    print(machine_line())
    print(f"# {args.checkpoint}: first {args.tokens:,} validation tokens in {args.streams} "
          f"streams of {streams.shape[1]:,}")
    rows = []
    for window in args.windows:
        start = time.perf_counter()
        fp32 = stateful_loss(loaded.model, streams, window, autocast=False)
        bf16 = stateful_loss(loaded.model, streams, window, autocast=True)
        rows.append([window, num_windows(streams, window), f"{fp32:.5f}", f"{bf16:.5f}",
                     f"{bf16 - fp32:+.5f}", f"{time.perf_counter() - start:.1f}"])
    print_table(["window", "boundaries per stream", "fp32 loss", "bf16 loss", "bf16 - fp32",
                 "seconds"], rows)


if __name__ == "__main__":
    main()
