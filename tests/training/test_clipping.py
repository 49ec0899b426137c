"""Gradient clipping matches torch's own clip_grad_norm_ / clip_grad_value_ and reports the
norms before and after."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rnnkit.training.clipping import clip_gradients


def model_with_gradients() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3), nn.Linear(3, 3))
    model[3].weight.requires_grad_(False)  # a parameter without a gradient is skipped
    (model(torch.randn(4, 5)) * 10).square().sum().backward()
    return model


def gradients(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize(("clip_norm", "clip_value"),
                         [(None, None), (0.5, None), (None, 0.01), (0.5, 0.01), (1e9, None)])
def test_same_gradients_as_torch(clip_norm: float | None, clip_value: float | None) -> None:
    ours, reference = model_with_gradients(), model_with_gradients()
    expected_before = float(torch.nn.utils.clip_grad_norm_(
        [p for p in reference.parameters() if p.grad is not None], math.inf))
    if clip_value is not None:
        torch.nn.utils.clip_grad_value_(reference.parameters(), clip_value)
    if clip_norm is not None:
        torch.nn.utils.clip_grad_norm_(reference.parameters(), clip_norm)
    before, after = clip_gradients(ours.parameters(), clip_norm=clip_norm,
                                   clip_value=clip_value)
    for mine, theirs in zip(gradients(ours), gradients(reference), strict=True):
        torch.testing.assert_close(mine, theirs)
    assert before == pytest.approx(expected_before)
    measured = float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in
                                                         gradients(ours)])))
    assert after == pytest.approx(measured, rel=1e-5)
    assert before > 1.0  # large enough for every threshold above to bite


def test_a_non_finite_norm_is_returned_for_the_caller_to_stop() -> None:
    model = model_with_gradients()
    next(model.parameters()).grad[0, 0] = math.inf
    before, after = clip_gradients(model.parameters(), clip_norm=1.0)
    assert math.isinf(before) and not math.isfinite(after)
