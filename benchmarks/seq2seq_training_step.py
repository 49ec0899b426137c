"""Seq2Seq training-step time: the stepped decoder (input feeding) against the one-call
decoder (no input feeding, full teacher forcing), on G2P-shaped batches.

    python benchmarks/seq2seq_training_step.py [--batch 64] [--hidden 256]

A batch of ``--batch`` words of 8 letters and 8 phonemes + 1 (the CMU dictionary's median
shape); one step is forward, cross-entropy, backward and Adam. The fused kernels serve the
encoder either way; only the one-call decoder can use them for the target side.
"""

from __future__ import annotations

import argparse

import torch
from common import machine_line, median_seconds, print_table
from torch.nn import functional as F

from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig


def step_seconds(config: Seq2SeqConfig, batch: int, repeats: int) -> float:
    """Median seconds of one training step."""
    torch.manual_seed(0)
    model = Seq2Seq(config).train()
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


if __name__ == "__main__":
    main()
