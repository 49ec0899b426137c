"""Seq2Seq training-step time: the stepped decoder (input feeding) against the one-call
decoder (no input feeding, full teacher forcing), on G2P-shaped batches; and the
Transformer baseline of about the same size on the same batches.

    python benchmarks/seq2seq_training_step.py [--batch 64] [--hidden 256]

A batch of ``--batch`` words of 8 letters and 8 phonemes + 1 (the CMU dictionary's median
shape); one step is forward, cross-entropy, backward and Adam. The fused kernels serve the
encoder either way; only the one-call decoder can use them for the target side. Without
attention there is no input feeding, so both columns of ``none`` take the one-call path.
"""

from __future__ import annotations

import argparse

import torch
from common import machine_line, median_seconds, print_table
from torch.nn import functional as F

from rnnkit.models.factory import build_seq2seq
from rnnkit.models.seq2seq import Seq2SeqConfig


def step_seconds(config: Seq2SeqConfig, batch: int, repeats: int) -> float:
    """Median seconds of one training step."""
    torch.manual_seed(0)
    model = build_seq2seq(config).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    source = torch.randint(3, config.source_vocab_size, (batch, 8))
    lengths = torch.full((batch,), 8)
    target = torch.randint(3, config.target_vocab_size, (batch, 9))

    def step() -> None:
        logits = model(source, lengths, target).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return median_seconds(step, repeats, warmup=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--transformer-width", type=int, default=192)
    args = parser.parse_args()
    print(machine_line())
    rows = []
    for attention in ("none", "additive", "dot", "general"):
        times = {}
        for feeding in (True, False):
            config = Seq2SeqConfig(source_vocab_size=30, target_vocab_size=42,
                                   hidden_size=args.hidden, attention=attention,
                                   input_feeding=feeding)
            times[feeding] = step_seconds(config, args.batch, args.repeats)
        rows.append([attention, f"{times[True] * 1e3:.1f}", f"{times[False] * 1e3:.1f}",
                     f"{times[True] / times[False]:.2f}x"])
    print_table(["attention", "stepped ms/batch (input feeding)", "one call ms/batch",
                 "speed-up"], rows)
    transformer = Seq2SeqConfig(source_vocab_size=30, target_vocab_size=42,
                                architecture="transformer", hidden_size=args.transformer_width,
                                num_layers=2, num_heads=4)
    seconds = step_seconds(transformer, args.batch, args.repeats)
    print(f"\nTransformer ({args.transformer_width} wide, 2 + 2 layers, 4 heads): "
          f"{seconds * 1e3:.1f} ms/batch")


if __name__ == "__main__":
    main()
