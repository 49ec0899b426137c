"""The language-modeling task's loss and evaluations against a NumPy cross-entropy of a
hand-run torch.nn model: carried state over the whole text, fixed windows, conditions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rnnkit.metrics.language import (
    cross_entropy,
    stateful_loss,
    stateful_loss_sums,
    windowed_loss,
)

VOCAB, CONDITIONS = 7, 3


class TorchLanguageModel(nn.Module):
    """torch.nn only: embedding (+ a condition embedding), LSTM, dropout, linear head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(VOCAB, 4)
        self.condition = nn.Embedding(CONDITIONS, 4)
        self.lstm = nn.LSTM(4, 6, batch_first=True)
        self.dropout = nn.Dropout(0.5)
        self.head = nn.Linear(6, VOCAB)

    def forward(self, tokens, state=None):
        if tokens.dim() == 3:  # (batch, time, 1 + conditions)
            x = self.embedding(tokens[..., 0]) + self.condition(tokens[..., 1])
        else:
            x = self.embedding(tokens)
        output, state = self.lstm(x, state)
        return self.head(self.dropout(output)), state


def nll_sum(model: nn.Module, inputs: torch.Tensor, targets: np.ndarray) -> float:
    """Summed negative log-likelihood in NumPy of one row run from a zero state, eval mode."""
    model.eval()
    with torch.no_grad():
        logits = model(inputs.unsqueeze(0))[0][0].double().numpy()  # (time, vocab)
    model.train()
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probabilities[np.arange(len(targets)), targets].sum())


def text(tokens: int, conditions: bool = False) -> torch.Tensor:
    generator = torch.Generator().manual_seed(tokens)
    ids = torch.randint(0, VOCAB, (tokens,), generator=generator)
    if conditions:
        ids = torch.stack([ids, torch.randint(0, CONDITIONS, (tokens,), generator=generator)], 1)
    return ids


@pytest.mark.parametrize(("tokens", "batch_size", "seq_len", "streams"), [
    (41, 3, 4, 3),   # 13 tokens a stream, windows of 4 + 4 + 4
    (41, 2, 50, 2),  # one window longer than the streams
    (5, 4, 3, 2),    # too short for 4 streams of two tokens: 2 streams
    (3, 4, 2, 1),
])
@pytest.mark.parametrize("conditions", [False, True], ids=["tokens", "conditions"])
def test_stateful_evaluation_equals_each_stream_run_whole(tokens, batch_size, seq_len, streams,
                                                          conditions):
    model = TorchLanguageModel().train()
    ids = text(tokens, conditions)
    length = tokens // streams
    total, count = 0.0, 0
    for row in range(streams):
        stream = ids[row * length:(row + 1) * length]
        targets = stream[1:, 0] if conditions else stream[1:]
        total += nll_sum(model, stream[:-1], targets.numpy())
        count += length - 1
    loss = stateful_loss(model, ids, batch_size=batch_size, seq_len=seq_len)
    assert loss == pytest.approx(total / count, rel=1e-5)
    assert model.training  # its mode is given back
    streams_given = ids[: length * streams].view(streams, length, *ids.shape[1:])
    assert stateful_loss_sums(model, streams_given, seq_len) == (
        pytest.approx(total, rel=1e-5), count)
    assert model.training


def test_no_streams_sum_to_nothing():
    assert stateful_loss_sums(TorchLanguageModel(), torch.zeros(0, 5, dtype=torch.long), 3) == \
        (0.0, 0)


@pytest.mark.parametrize("batch_size", [1, 2, 5])
@pytest.mark.parametrize("conditions", [False, True], ids=["tokens", "conditions"])
def test_window_evaluation_restarts_every_window_from_zero(batch_size, conditions):
    model = TorchLanguageModel().train()
    ids = text(24, conditions)  # 23 targets: 5 windows of 4, 3 left out
    total = 0.0
    for start in range(0, 20, 4):
        window = ids[start:start + 5]
        targets = window[1:, 0] if conditions else window[1:]
        total += nll_sum(model, window[:-1], targets.numpy())
    loss = windowed_loss(model, ids, window=4, batch_size=batch_size)
    assert loss == pytest.approx(total / 20, rel=1e-5)
    assert model.training


def test_window_evaluation_needs_one_window_and_a_target():
    with pytest.raises(ValueError, match="4 tokens, fewer than one window of 4 \\+ 1"):
        windowed_loss(TorchLanguageModel(), text(4), window=4,
                                                batch_size=2)
    loss = windowed_loss(TorchLanguageModel(), text(5), window=4,
                                                   batch_size=2)
    assert np.isfinite(loss)


@pytest.mark.parametrize("conditions", [False, True], ids=["tokens", "conditions"])
def test_loss_is_the_mean_cross_entropy_of_the_tokens(conditions):
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 3, VOCAB, generator=generator, dtype=torch.float64)
    tokens = torch.randint(0, VOCAB, (2, 3), generator=generator)
    targets = torch.stack([tokens, torch.ones_like(tokens)], -1) if conditions else tokens
    array = logits.numpy().reshape(6, VOCAB)
    log_probabilities = array - np.log(np.exp(array).sum(axis=1, keepdims=True))
    expected = -log_probabilities[np.arange(6), tokens.numpy().reshape(6)].mean()
    loss = cross_entropy(logits, targets)
    assert float(loss) == pytest.approx(expected, rel=1e-12)
