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
    with pytest.raises(ValueError) as error:
        LearningRateSchedule(optimizer, config, 10, None)
    assert str(error.value) == ("schedule='cosine' needs decay_steps, max_steps or max_epochs "
                                "to know its end")


# --- mutation-testing additions (docs/testing-mutation.md) --------------------------------
def schedule_for(config: TrainConfig, per_epoch: int = 10, total: int | None = 100):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.lr)
    return LearningRateSchedule(optimizer, config, per_epoch, total)


def test_constant_with_linear_warmup() -> None:
    config = TrainConfig(max_steps=100, lr=0.8, warmup_steps=4)
    seen = rates(config, 8)
    expected = [0.8 * min(1.0, (step + 1) / 4) for step in range(9)]
    assert seen == pytest.approx(expected)
    assert rates(TrainConfig(max_steps=100, lr=0.8), 3) == pytest.approx([0.8] * 4)


def test_step_decay_counts_epochs_in_steps_per_epoch_and_warms_up() -> None:
    config = TrainConfig(max_epochs=9, lr=2.0, schedule="step", decay_start_epoch=2,
                         decay_factor=0.1, warmup_steps=2)
    seen = rates(config, 30, per_epoch=7)
    for step, rate in enumerate(seen):
        epoch = step // 7
        warmup = min(1.0, (step + 1) / 2)
        assert rate == pytest.approx(2.0 * warmup * 0.1 ** max(0, epoch + 1 - 2)), step


def test_cosine_follows_its_formula_and_decay_steps_overrides_the_bound() -> None:
    config = TrainConfig(max_steps=100, lr=0.5, schedule="cosine", warmup_steps=3, min_lr=0.05,
                         decay_steps=23)
    seen = rates(config, 40, total=100)  # decay_steps, not the bound of 100, ends the curve
    for step, rate in enumerate(seen):
        warmup = min(1.0, (step + 1) / 3)
        progress = min(1.0, max(0, step - 3) / (23 - 3))
        cosine = 0.05 + (0.5 - 0.05) * 0.5 * (1 + math.cos(math.pi * progress))
        assert rate == pytest.approx(warmup * cosine), step
    assert seen[23:] == pytest.approx([0.05] * 18)


def test_cosine_without_warmup_starts_at_full_rate() -> None:
    config = TrainConfig(max_steps=10, lr=1.0, schedule="cosine")
    seen = rates(config, 10, total=10)
    assert seen[0] == 1.0
    assert seen[5] == pytest.approx(0.5)
    assert seen[10] == pytest.approx(0.0, abs=1e-12)
    one_step = TrainConfig(max_steps=1, lr=1.0, schedule="cosine", min_lr=0.1)
    assert rates(one_step, 2, total=1) == pytest.approx([1.0, 0.1, 0.1])  # done in one step


def test_plateau_warms_up_then_owns_the_rate_down_to_min_lr() -> None:
    config = TrainConfig(max_steps=100, lr=1.0, schedule="plateau", warmup_steps=4,
                         plateau_patience=0, decay_factor=0.5, min_lr=0.2)
    schedule = schedule_for(config)
    seen = [schedule.lr]
    for _ in range(6):
        schedule.after_step()
        seen.append(schedule.lr)
    assert seen == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0])
    rates_after = []
    for loss in (3.0, 3.0, 3.0, 3.0, 3.0):
        schedule.after_validation(loss)
        schedule.after_step()  # steps after warm-up leave the plateau's rate alone
        rates_after.append(schedule.lr)
    assert rates_after == pytest.approx([1.0, 0.5, 0.25, 0.2, 0.2])


def test_validation_does_not_change_the_rate_of_other_schedules() -> None:
    schedule = schedule_for(TrainConfig(max_steps=100, lr=0.3))
    for loss in (1.0, 2.0, 3.0, 4.0):
        schedule.after_validation(loss)
    assert schedule.lr == pytest.approx(0.3)


@pytest.mark.parametrize("kind", ["step", "cosine", "plateau"])
def test_state_dict_resumes_the_same_curve(kind: str) -> None:
    config = TrainConfig(max_steps=60, lr=1.0, schedule=kind, warmup_steps=3, min_lr=0.01,
                         decay_start_epoch=1, decay_factor=0.5, plateau_patience=0)
    first = schedule_for(config)
    for step in range(25):
        first.after_step()
        if step % 5 == 4:
            first.after_validation(2.0)  # no improvement: the plateau schedule decays
    state = first.state_dict()
    second = schedule_for(config)
    second.load_state_dict(state)
    for group in second.optimizer.param_groups:  # the trainer restores the optimizer too
        group["lr"] = first.lr
    for step in range(25, 40):
        first.after_step()
        second.after_step()
        if step % 5 == 4:
            first.after_validation(2.0)
            second.after_validation(2.0)
        assert second.lr == pytest.approx(first.lr), step
    assert second.state_dict() == first.state_dict()


def test_a_plateau_cut_in_the_last_warmup_step_is_kept() -> None:
    config = TrainConfig(max_steps=100, lr=1.0, schedule="plateau", warmup_steps=2,
                         plateau_patience=0, decay_factor=0.5)
    schedule = schedule_for(config)
    schedule.after_step()  # step 1 of 2: the warm-up has reached the full rate
    schedule.after_validation(3.0)
    schedule.after_validation(3.0)  # no improvement: the plateau halves the rate
    assert schedule.lr == pytest.approx(0.5)
    for _ in range(3):
        schedule.after_step()  # warm-up over: the plateau owns the rate from step 2 on
        assert schedule.lr == pytest.approx(0.5)
