"""Adversarial training's loss against finite differences and a row-by-row computation."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from rnnkit.models.classifier import ClassifierConfig, SequenceClassifier
from rnnkit.tasks.classify.adversarial import adversarial_classification_loss, worst_direction
from rnnkit.tasks.classify.training import ClassificationConfig


def _model(chars: bool = False) -> SequenceClassifier:
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size=12, num_classes=3, embedding_size=4, hidden_size=3,
                              pooling="attention", dropout=0.0,
                              char_vocab_size=6 if chars else 0,
                              char_embedding_size=3 if chars else 0, char_filters=2)
    return SequenceClassifier(config).double().eval()


TOKENS = torch.tensor([[4, 5, 6], [7, 8, 0]])
LENGTHS = torch.tensor([3, 2])
TARGETS = torch.tensor([2, 0])


def test_no_epsilon_is_the_plain_cross_entropy() -> None:
    model = _model()
    plain = F.cross_entropy(model(TOKENS, LENGTHS), TARGETS)
    got = adversarial_classification_loss(model, TOKENS, LENGTHS, None, TARGETS, 0.0)
    torch.testing.assert_close(got, plain, rtol=0, atol=0)


def test_the_perturbation_follows_the_finite_difference_gradient() -> None:
    model, epsilon, step = _model(), 0.3, 1e-6
    embedded, lengths = model.encoder.embed(TOKENS, LENGTHS)
    embedded = embedded.detach()

    @torch.no_grad()
    def loss_at(features: torch.Tensor) -> float:
        return float(F.cross_entropy(model.classify_embedded(features, lengths), TARGETS))

    gradient = torch.zeros_like(embedded)
    for index in range(embedded.numel()):
        nudge = torch.zeros(embedded.numel(), dtype=embedded.dtype)
        nudge[index] = step
        nudge = nudge.view_as(embedded)
        gradient.view(-1)[index] = (loss_at(embedded + nudge)
                                    - loss_at(embedded - nudge)) / (2 * step)
    assert gradient[1, 2].abs().max() == 0  # the padding step is never read
    norms = gradient.flatten(1).norm(dim=1)[:, None, None]
    want = loss_at(embedded) + loss_at(embedded + epsilon * gradient / norms)
    got = adversarial_classification_loss(model, TOKENS, LENGTHS, None, TARGETS, epsilon).detach()
    assert abs(float(got) - want) < 1e-8
    assert float(got) > 2 * loss_at(embedded)  # the push made the loss worse


def test_a_padded_row_is_pushed_as_if_it_were_alone() -> None:
    model = _model(chars=True)
    chars = torch.randint(1, 6, (2, 3, 4))
    chars[1, 2] = 0
    together = adversarial_classification_loss(model, TOKENS, LENGTHS, chars, TARGETS, 0.5)
    alone = [adversarial_classification_loss(model, TOKENS[row:row + 1, :length],
                                             LENGTHS[row:row + 1], chars[row:row + 1, :length],
                                             TARGETS[row:row + 1], 0.5)
             for row, length in enumerate(LENGTHS.tolist())]
    torch.testing.assert_close(together, sum(alone) / 2, rtol=1e-10, atol=1e-10)


def test_worst_direction_has_unit_norm_per_example_and_keeps_zero() -> None:
    gradient = torch.randn(3, 4, 5)
    gradient[2] = 0
    direction = worst_direction(gradient)
    torch.testing.assert_close(direction.flatten(1).norm(dim=1), torch.tensor([1.0, 1.0, 0.0]))
    torch.testing.assert_close(direction[0], gradient[0] / gradient[0].norm())


def test_a_negative_epsilon_is_refused() -> None:
    with pytest.raises(ValueError, match="adversarial_epsilon must be a finite number >= 0"):
        ClassificationConfig(adversarial_epsilon=-1.0)
