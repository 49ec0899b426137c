"""Learning-rate schedules against their formulas."""

import math

import pytest
import torch

from rnnkit.training.config import TrainConfig
from rnnkit.training.schedule import LearningRateSchedule


def rates(config: TrainConfig, steps: int, per_epoch: int = 10, total: int | None = 100):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.lr)
    schedule = LearningRateSchedule(optimizer, config, per_epoch, total)
    seen = [schedule.lr]
    for _ in range(steps):
        schedule.after_step()
        seen.append(schedule.lr)
    return seen


def test_step_decay_follows_zaremba() -> None:
    config = TrainConfig(max_epochs=13, lr=1.0, schedule="step", decay_start_epoch=4,
                         decay_factor=0.5)
    seen = rates(config, 70)
    assert seen[0] == seen[39] == 1.0  # epochs 0-3 (steps 0-39) at the full rate
    assert seen[40] == 0.5 and seen[50] == 0.25 and seen[69] == 0.125


def test_cosine_with_warmup() -> None:
    config = TrainConfig(max_steps=100, lr=1.0, schedule="cosine", warmup_steps=10, min_lr=0.1)
    seen = rates(config, 100)
    assert seen[0] == pytest.approx(0.1) and seen[9] == pytest.approx(1.0)
    middle = 10 + 45
    assert seen[middle] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert seen[100] == pytest.approx(0.1)


def test_plateau_reduces_after_patience() -> None:
    config = TrainConfig(max_steps=100, lr=1.0, schedule="plateau", plateau_patience=1,
                         decay_factor=0.25)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = LearningRateSchedule(optimizer, config, 10, 100)
    for loss in (3.0, 2.0, 2.5, 2.6):
        schedule.after_validation(loss)
    assert schedule.lr == pytest.approx(0.25)


def test_cosine_without_a_bound_is_an_error() -> None:
    config = TrainConfig(max_time=1.0, schedule="cosine")
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match=r"cosine.* needs decay_steps, max_steps or max_epochs"):
        LearningRateSchedule(optimizer, config, 10, None)
