"""What every benchmark prints and how it times: the machine, medians, a table."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def machine_line() -> str:
    """One line naming the machine, torch version and thread count."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"{device}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
            f"python {platform.python_version()}")


def median_seconds(function: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``function`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def print_table(header: list[str], rows: list[list[object]]) -> None:
    """A Markdown table, so the output pastes into docs/ as it is."""
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


class PlainLanguageModel(nn.Module):
    """The pytorch/examples word_language_model shape, written with torch.nn only."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int,
                 num_layers: int, dropout: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.lstm = nn.LSTM(embedding_size, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: Tensor, state=None):
        output, state = self.lstm(self.dropout(self.embedding(tokens)), state)
        return self.decoder(self.dropout(output)), state


def plain_train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, streams: Tensor,
                      seq_len: int, first_window: int, count: int, state=None,
                      clip_norm: float = 5.0):
    """A hand-written truncated-BPTT loop over ``count`` windows; returns the last loss and
    the carried state. ``streams`` is (batch, steps)."""
    model.train()
    loss = torch.zeros(())
    windows = (streams.shape[1] - 1) // seq_len
    for offset in range(count):
        index = (first_window + offset) % windows
        start = index * seq_len
        inputs = streams[:, start : start + seq_len]
        targets = streams[:, start + 1 : start + 1 + seq_len]
        if index == 0:
            state = None
        if state is not None:
            state = tuple(s.detach() for s in state)
        logits, state = model(inputs, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimizer.step()
    return float(loss.detach()), state
