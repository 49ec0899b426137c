"""The word-level output layer: the full softmax against linear_cross_entropy's chunks and
the adaptive softmax.

Times forward and backward of the output layer and its loss (a linear layer to the
vocabulary, then cross-entropy) at the shapes of the Penn Treebank recipes, every way, in
float32 and under bf16 autocast, side by side in one run (medians of ``--repeats`` after
warm-ups). The full way is ``F.cross_entropy(F.linear(features, weight, bias), targets)``.
The adaptive softmax (``output_layer = "adaptive"``, cutoffs 2000 and 5000) is another
model, timed two ways: the full log-probabilities and a cross-entropy over them (what
validation and sampling read) and torch's target-only loss, in float32 outside autocast
(``adaptive_target_loss``, what ``LanguageModel.next_token_loss`` trains through). Targets are drawn
from a Zipf law over the ids, as word frequencies fall, so most of them sit in the head.

    python benchmarks/output_layer_speed.py --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from functools import partial

import torch
from common import machine_line, median_seconds, print_table
from torch.nn import functional as F

from rnnkit.models.chunked_softmax import linear_cross_entropy
from rnnkit.models.language_model import adaptive_target_loss

SHAPES = {"zaremba_small (20x20 tokens, 200 features)": (400, 200),
          "zaremba_medium (20x35 tokens, 650 features)": (700, 650)}
VOCAB = 10000
ADAPTIVE_CUTOFFS = [2000, 5000]


def shape_rows(name: str, tokens: int, width: int, chunks: list[int], repeats: int
               ) -> list[list[object]]:
    """Both ways, both precisions, at one shape: a table row each."""
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(tokens, width, generator=generator, requires_grad=True)
    weight = (torch.randn(VOCAB, width, generator=generator) * 0.1).requires_grad_()
    bias = torch.zeros(VOCAB, requires_grad=True)
    zipf = 1.0 / torch.arange(1, VOCAB + 1, dtype=torch.float64)
    targets = torch.multinomial(zipf, tokens, replacement=True, generator=generator)
    variants = {"full softmax": lambda: F.cross_entropy(
        F.linear(features, weight, bias).float(), targets)}
    for chunk in chunks:
        variants[f"chunks of {chunk}"] = partial(linear_cross_entropy, features, weight, bias,
                                                 targets, chunk_size=chunk)
    adaptive = torch.nn.AdaptiveLogSoftmaxWithLoss(width, VOCAB, ADAPTIVE_CUTOFFS)
    variants["adaptive: full log-probs (validation, sampling)"] = lambda: F.cross_entropy(
        adaptive.log_prob(features), targets)
    variants["adaptive: target-only, float32 (training)"] = partial(
        adaptive_target_loss, adaptive, features, targets)
    rows = []
    for precision in ("fp32", "bf16"):
        times = {variant: median_seconds(partial(step, loss_of, precision), repeats, warmup=3)
                 for variant, loss_of in variants.items()}
        for variant, seconds in times.items():
            rows.append([name, precision, variant, f"{seconds * 1e3:.2f}",
                         f"{times['full softmax'] / seconds:.2f}x"])
    return rows


def step(loss_of: Callable[[], torch.Tensor], precision: str) -> None:
    """One forward (under bf16 autocast for ``bf16``) and backward."""
    with (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16"
          else contextlib.nullcontext()):
        loss = loss_of()
    loss.backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--chunks", type=int, nargs="+", default=[1024, 2048, 4096])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line())
    start = time.perf_counter()
    rows = [row for name, (tokens, width) in SHAPES.items()
            for row in shape_rows(name, tokens, width, args.chunks, args.repeats)]
    print_table(["shape", "precision", "output layer", "ms per forward+backward",
                 "speed vs full"], rows)
    print(f"# wall {time.perf_counter() - start:.0f} s, {args.repeats} repeats")


if __name__ == "__main__":
    main()
