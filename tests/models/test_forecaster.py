"""The series forecaster: shapes of both outputs, the last step is the forecast, every step
sees only its past, and the errors of bad windows and configurations."""

from __future__ import annotations

import pytest
import torch
from learning import assert_every_parameter_learns

from rnnkit.models.forecaster import ForecasterConfig, SequenceForecaster


def small(**values) -> SequenceForecaster:
    torch.manual_seed(0)
    settings = dict(hidden_size=8, horizon=3)
    settings.update(values)
    return SequenceForecaster(ForecasterConfig(**settings)).eval()


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_shapes_and_the_forecast_is_the_last_step(cell: str, num_layers: int) -> None:
    model = small(cell=cell, num_layers=num_layers)
    window = torch.randn(4, 10, 1)  # (batch, window, 1)
    forecast, every = model(window), model.forward_every_step(window)
    assert forecast.shape == (4, 3) and every.shape == (4, 10, 3)
    torch.testing.assert_close(forecast, every[:, -1])


def test_each_step_sees_only_the_values_up_to_it() -> None:
    """Step t forecasts t + 1 .. t + horizon, so changing a later value cannot change it."""
    model = small()
    window = torch.randn(2, 8, 1)
    changed = window.clone()
    changed[:, 5:] += 3.0
    before, after = model.forward_every_step(window), model.forward_every_step(changed)
    torch.testing.assert_close(before[:, :5], after[:, :5])
    assert not torch.allclose(before[:, 5:], after[:, 5:])


def test_gradients_reach_every_parameter() -> None:
    model = small(mode="many-to-many")
    window = torch.randn(3, 6, 1, generator=torch.Generator().manual_seed(0))
    assert_every_parameter_learns(
        model, lambda: model.forward_every_step(window).square().mean())


def test_dropout_acts_in_training_only() -> None:
    model = small(dropout=0.5)
    window = torch.randn(16, 6, 1)
    torch.testing.assert_close(model(window), model(window))
    model.train()
    assert not torch.allclose(model(window), model(window))


@pytest.mark.parametrize(("window", "message"), [
    (torch.randn(4, 10), r"shape \(batch, window, 1\).*got shape \(4, 10\)"),
    (torch.randn(4, 10, 2), r"got shape \(4, 10, 2\)"),
    (torch.randn(4, 0, 1), r"at least one step, got shape \(4, 0, 1\)"),
])
def test_bad_window_shapes_are_named(window: torch.Tensor, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        small()(window)


def test_integer_window_is_refused() -> None:
    with pytest.raises(TypeError, match=r"floating-point window.*torch\.int64"):
        small()(torch.ones(2, 5, 1, dtype=torch.long))
    with pytest.raises(TypeError, match=r"torch\.Tensor, got list"):
        small()([[1.0]])


@pytest.mark.parametrize(("field", "value", "message"), [
    ("mode", "one-to-many", 'mode must be one of "many-to-one", "many-to-many"'),
    ("horizon", 0, r"horizon must be an int in \[1, 100000\], got 0"),
    ("cell", "transformer", "cell must be one of"),
    ("dropout", 1.0, r"dropout must be a finite number in \[0, 1\), got 1.0"),
])
def test_bad_configurations_are_refused(field: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ForecasterConfig(**{field: value})


def test_repr_shows_horizon_and_mode() -> None:
    assert "horizon=3, mode='many-to-one'" in repr(small())


def test_a_relative_forecaster_moves_with_the_level_and_never_reads_later_steps() -> None:
    torch.manual_seed(0)
    model = SequenceForecaster(ForecasterConfig(hidden_size=6, horizon=2,
                                                relative=True)).double().eval()
    window = torch.randn(3, 7, 1, dtype=torch.float64)
    shifted = model(window + 5.0)
    torch.testing.assert_close(shifted, model(window) + 5.0, rtol=0, atol=1e-12)
    every = model.forward_every_step(window)
    torch.testing.assert_close(every[:, -1], model(window), rtol=0, atol=1e-12)
    changed = window.clone()
    changed[:, 4:] += torch.randn(3, 3, 1, dtype=torch.float64)
    torch.testing.assert_close(model.forward_every_step(changed)[:, :4], every[:, :4],
                               rtol=0, atol=1e-12)
