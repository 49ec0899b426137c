"""Chronological parts, the scaler, and windows aligned with the values that follow them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.data.series_windows import (
    Scaler,
    SplitSizes,
    example_origins,
    split_sizes,
    window_batch,
)


def test_parts_are_cut_in_time_order_with_the_test_part_last() -> None:
    sizes = split_sizes(144, 0.1, 0.1)
    assert sizes == SplitSizes(train=116, valid=14, test=14)
    assert [sizes.start(part) for part in ("train", "valid", "test")] == [0, 116, 130]
    assert split_sizes(200, 0.2, 0.05) == SplitSizes(train=150, valid=40, test=10)


def test_training_examples_stay_inside_the_training_part() -> None:
    sizes = SplitSizes(train=30, valid=8, test=8)
    origins = example_origins(sizes, "train", window=6, horizon=3)
    assert origins[0] - 6 == 0  # the first window starts the series
    assert origins[-1] + 3 == 30  # the last target is the last training value
    assert len(origins) == 30 - 6 - 3 + 1


def test_held_out_targets_stay_in_their_part_and_inputs_reach_back() -> None:
    sizes = SplitSizes(train=30, valid=8, test=8)
    valid = example_origins(sizes, "valid", window=6, horizon=3)
    test = example_origins(sizes, "test", window=6, horizon=3)
    assert (valid[0], valid[-1] + 3) == (30, 38)  # targets 30..37, inputs from 24
    assert (test[0], test[-1] + 3) == (38, 46)  # targets 38..45, inputs from 32 (valid)
    assert len(test) == 8 - 3 + 1


def test_windows_and_targets_are_the_values_around_each_origin() -> None:
    series = np.arange(100.0) * 0.5
    batch = window_batch(series, [10, 40], window=4, horizon=2)
    assert len(batch) == 2 and batch.inputs.shape == (2, 4, 1)
    assert batch.inputs.dtype == torch.float32
    np.testing.assert_array_equal(batch.inputs[1, :, 0].numpy(), series[36:40])
    np.testing.assert_array_equal(batch.targets[1].numpy(), series[40:42])


def test_every_step_target_holds_the_next_horizon_values() -> None:
    series = np.arange(50.0)
    batch = window_batch(series, [20], window=5, horizon=3)  # inputs 15..19, targets 20..22
    step_targets = batch.step_targets  # (batch, window, horizon)
    assert step_targets.shape == (1, 5, 3)
    for step in range(5):
        first = 15 + step + 1
        assert step_targets[0, step].tolist() == [first, first + 1, first + 2]
    torch.testing.assert_close(step_targets[:, -1], batch.targets)


def test_a_window_may_end_the_series_for_a_forecast_past_it() -> None:
    batch = window_batch(np.arange(10.0), [10], window=3, horizon=0)
    assert batch.inputs[0, :, 0].tolist() == [7.0, 8.0, 9.0]
    with pytest.raises(ValueError, match=r"origins must lie in 3..9.*got 10..10"):
        window_batch(np.arange(10.0), [10], window=3, horizon=1)


def test_a_series_shorter_than_the_window_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"a series of 20 values is shorter than the window "
                                         r"plus the horizon \(24 \+ 1 = 25\)"):
        example_origins(split_sizes(20, 0.1, 0.1), "train", window=24, horizon=1)


def test_a_part_without_a_complete_example_is_named() -> None:
    sizes = split_sizes(60, 0.1, 0.1)  # 48, 6, 6
    with pytest.raises(ValueError, match=r"the test part \(6 of 60 values.*horizon = 7"):
        example_origins(sizes, "test", window=4, horizon=7)
    with pytest.raises(ValueError, match=r"the train part \(48 of 60.*window \+ horizon = 49"):
        example_origins(sizes, "train", window=45, horizon=4)


def test_the_scaler_standardizes_and_inverts() -> None:
    scaler = Scaler.fit([1.0, 2.0, 3.0, 4.0])
    assert scaler.mean == pytest.approx(2.5) and scaler.std == pytest.approx(np.sqrt(1.25))
    np.testing.assert_allclose(scaler.inverse(scaler.transform([7.0, -3.0])), [7.0, -3.0])
    assert Scaler.from_dict(scaler.to_dict()) == scaler


def test_the_log_scaler_works_on_logs_and_refuses_non_positive_values() -> None:
    scaler = Scaler.fit([1.0, np.e, np.e ** 2], log=True)
    assert scaler.mean == pytest.approx(1.0)
    np.testing.assert_allclose(scaler.inverse(scaler.transform([5.0, 0.1])), [5.0, 0.1])
    with pytest.raises(ValueError, match=r"log_transform needs positive values.*minimum of 0\.0"):
        scaler.transform([3.0, 0.0])


def test_a_constant_training_part_cannot_be_scaled() -> None:
    with pytest.raises(ValueError, match="a training part that varies, got 3 values"):
        Scaler.fit([2.0, 2.0, 2.0])
