"""Distillation targets against hand-computed mixtures and the cross-entropy they stand for."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from rnnkit.tasks.classify.distillation import mean_probabilities, mixed_targets
from rnnkit.tasks.classify.training import ClassificationConfig


def test_targets_mix_the_label_and_the_teachers_by_the_weight() -> None:
    teachers = torch.tensor([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]])
    got = mixed_targets(torch.tensor([0, 2]), teachers, 0.25)
    want = torch.tensor([[0.75 + 0.175, 0.05, 0.025], [0.1, 0.1, 0.75 + 0.05]])
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(mixed_targets(torch.tensor([1, 0]), teachers, 0.0),
                               torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    torch.testing.assert_close(mixed_targets(torch.tensor([1, 0]), teachers, 1.0), teachers)


def test_the_loss_on_mixed_targets_is_the_mixed_loss() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 4, generator=generator, dtype=torch.float64)
    labels = torch.tensor([0, 3, 1, 1, 2])
    teachers = torch.randn(5, 4, generator=generator, dtype=torch.float64).softmax(dim=1)
    weight = 0.3
    log_p = logits - logits.exp().sum(dim=1, keepdim=True).log()  # log-softmax by hand
    hard = -log_p[torch.arange(5), labels].mean()
    soft = -(teachers * log_p).sum(dim=1).mean()
    got = F.cross_entropy(logits, mixed_targets(labels, teachers, weight))
    torch.testing.assert_close(got, (1 - weight) * hard + weight * soft)


def test_teachers_are_averaged_and_bad_shapes_are_named() -> None:
    first, second = torch.tensor([[0.9, 0.1]]), torch.tensor([[0.5, 0.5]])
    torch.testing.assert_close(mean_probabilities([first, second]), torch.tensor([[0.7, 0.3]]))
    with pytest.raises(ValueError, match="at least one teacher"):
        mean_probabilities([])
    with pytest.raises(ValueError, match="share one"):
        mean_probabilities([first, torch.ones(2, 2) / 2])
    with pytest.raises(ValueError, match=r"shape \(2, classes\)"):
        mixed_targets(torch.tensor([0, 1]), first, 0.5)
    with pytest.raises(ValueError, match=r"distill_weight must be a finite number in \[0, 1\]"):
        ClassificationConfig(distill_weight=1.5)
