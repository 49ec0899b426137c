"""Long-range training: it learns a short adding problem, scores copy on recalled steps only,
records clipped and unclipped gradient norms, saves its results, and names bad settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rnnkit.data.long_range import copy_task
from rnnkit.training.long_range import (
    LongRangeConfig,
    evaluate,
    save_long_range_result,
    train_long_range,
)


def test_a_short_adding_problem_is_learned_far_below_the_baseline() -> None:
    config = LongRangeConfig(task="adding", cell="lstm", length=8, hidden_size=16, steps=400,
                             batch_size=32, lr=1e-2, test_size=256, eval_every=100,
                             progress=False)
    result = train_long_range(config)
    assert result.metric == "test_mse"
    assert result.value < 0.1 * result.baseline


def test_copy_accuracy_counts_only_the_recalled_steps() -> None:
    config = LongRangeConfig(task="copy", cell="gru", length=4, copy_length=3, num_symbols=4,
                             progress=False)
    batch = copy_task(5, delay=4, copy_length=3, num_symbols=4,
                      generator=torch.Generator().manual_seed(0))

    class Oracle(torch.nn.Module):
        def __init__(self, answer: torch.Tensor) -> None:
            super().__init__()
            self.answer = answer

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.one_hot(self.answer, 6).float()

    assert evaluate(config, Oracle(batch.targets), batch) == 1.0
    blanks_right = batch.targets.clone()
    blanks_right[batch.recall] = 0  # right on every blank, wrong on every recalled symbol
    assert evaluate(config, Oracle(blanks_right), batch) == 0.0


def test_gradient_norms_are_recorded_before_and_after_clipping(tmp_path: Path) -> None:
    config = LongRangeConfig(task="adding", cell="rnn_tanh", length=6, hidden_size=8, steps=5,
                             clip_norm=1e-3, eval_every=5, test_size=16, progress=False)
    result = train_long_range(config)
    assert len(result.curve) == 5
    assert all(row["clipped_norm"] == pytest.approx(min(row["grad_norm"], 1e-3))
               for row in result.curve)
    assert any(row["grad_norm"] > 1e-3 for row in result.curve)
    paths = save_long_range_result(result, tmp_path / "run")
    saved = json.loads(paths[0].read_text())
    assert saved["config"]["cell"] == "rnn_tanh" and saved["value"] == result.value
    assert paths[1].read_bytes()[:4] == b"\x89PNG"


def test_same_seed_same_run() -> None:
    config = LongRangeConfig(task="copy", cell="irnn", length=3, hidden_size=8, steps=4,
                             eval_every=2, test_size=8, progress=False)
    assert train_long_range(config).curve == train_long_range(config).curve


@pytest.mark.parametrize(("settings", "message"), [
    ({"task": "adding", "cell": "lstm", "length": 1}, "length >= 2"),
    ({"task": "copy", "cell": "lstm", "length": 0}, r"length \(the delay\) >= 1"),
    ({"task": "adding", "cell": "elman"}, "'elman'"),
    ({"task": "sorting", "cell": "lstm"}, "'sorting'"),
    ({"task": "adding", "cell": "lstm", "clip_norm": 0.0}, "clip_norm"),
])
def test_impossible_settings_are_named(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LongRangeConfig(**settings)
