"""The long-range task generators: shapes, labels recomputed independently, seeds, errors."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.long_range import ADDING_BASELINE_MSE, adding_problem, copy_task


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_adding_targets_are_the_sum_of_the_two_marked_values() -> None:
    batch = adding_problem(64, 30, _seeded(0))
    assert batch.inputs.shape == (64, 30, 2) and batch.targets.shape == (64,)
    for values, markers, target in zip(batch.inputs[..., 0], batch.inputs[..., 1],
                                       batch.targets, strict=True):
        marked = [t for t in range(30) if markers[t] == 1.0]
        assert len(marked) == 2 and int((markers != 0).sum()) == 2
        assert marked[0] < 15 <= marked[1]  # one marker in each half
        assert float(target) == pytest.approx(float(values[marked[0]] + values[marked[1]]))
    assert float(batch.inputs[..., 0].min()) >= 0.0 and float(batch.inputs[..., 0].max()) < 1.0


def test_adding_baseline_is_the_variance_of_the_target() -> None:
    targets = adding_problem(200_000, 4, _seeded(1)).targets
    assert float(((targets - 1.0) ** 2).mean()) == pytest.approx(ADDING_BASELINE_MSE, rel=0.02)


def test_adding_is_reproducible_with_a_seed() -> None:
    first, again = adding_problem(8, 12, _seeded(5)), adding_problem(8, 12, _seeded(5))
    other = adding_problem(8, 12, _seeded(6))
    assert torch.equal(first.inputs, again.inputs) and torch.equal(first.targets, again.targets)
    assert not torch.equal(first.inputs, other.inputs)


def test_copy_targets_recall_the_symbols_after_the_delimiter() -> None:
    batch = copy_task(16, delay=7, copy_length=4, num_symbols=5, generator=_seeded(2))
    time = 2 * 4 + 7
    assert batch.inputs.shape == batch.targets.shape == batch.recall.shape == (16, time)
    for inputs, targets, recall in zip(batch.inputs, batch.targets, batch.recall, strict=True):
        symbols = inputs[:4].tolist()
        assert all(1 <= s <= 5 for s in symbols)
        assert inputs.tolist()[4:] == [0] * 6 + [6] + [0] * 4  # blanks, delimiter, blanks
        assert targets.tolist() == [0] * 11 + symbols
        assert recall.tolist() == [False] * 11 + [True] * 4
    assert batch.vocab_size == 7


@pytest.mark.parametrize(("call", "message"), [
    (lambda: adding_problem(4, 1), "length >= 2"),
    (lambda: adding_problem(4, 2.0), "length >= 2"),
    (lambda: adding_problem(0, 10), "batch_size"),
    (lambda: copy_task(4, delay=0), "delay >= 1"),
    (lambda: copy_task(4, delay=3, num_symbols=1), "num_symbols >= 2"),
    (lambda: copy_task(4, delay=3, copy_length=0), "copy_length"),
])
def test_impossible_settings_are_named(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
