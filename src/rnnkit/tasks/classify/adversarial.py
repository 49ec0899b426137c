"""Adversarial training on the input features of a classifier (Miyato, Dai and Goodfellow
2017, "Adversarial Training Methods for Semi-Supervised Text Classification").

Words are discrete, so the perturbation goes where the model is continuous: the features
each step feeds the recurrent layer (the embedding, and the spelling's features when the
encoder reads them). For a batch with loss ``L(e)`` at features ``e`` (batch, time,
features), the worst perturbation of norm ``epsilon`` is, to first order, along the
gradient, taken per example over all its steps and features:

    r = epsilon * g / ||g||,   g = dL/de (batch, time, features), held constant

and the training loss is ``L(e) + L(e + r)``: the model is asked to keep its answer when
every sentence is pushed a small distance in its own most damaging direction. Padding
steps get no perturbation, since the layer never reads them (their gradient is zero).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.models.classifier import SequenceClassifier


def worst_direction(gradient: Tensor) -> Tensor:
    """The unit vector of each example along ``gradient`` (batch, time, features),
    normalized over its time and features; an all-zero gradient gives zero."""
    norms = gradient.flatten(1).norm(dim=1).clamp_min(1e-12)  # (batch,)
    return gradient / norms[:, None, None]


def adversarial_classification_loss(model: SequenceClassifier, tokens: Tensor,
                                    lengths: Tensor, chars: Tensor | None, targets: Tensor,
                                    epsilon: float) -> Tensor:
    """Mean cross-entropy of ``model`` on the batch plus, when ``epsilon`` > 0, the mean
    cross-entropy at the features pushed ``epsilon`` along each example's gradient
    (module docs). Shapes as for :class:`SequenceClassifier`; ``targets``: (batch,) class
    ids or (batch, classes) target distributions (distillation)."""
    embedded, lengths = model.encoder.embed(tokens, lengths, chars)
    loss = F.cross_entropy(model.classify_embedded(embedded, lengths), targets)
    if epsilon == 0.0:
        return loss
    (gradient,) = torch.autograd.grad(loss, embedded, retain_graph=True)
    perturbed = embedded + epsilon * worst_direction(gradient.detach())
    return loss + F.cross_entropy(model.classify_embedded(perturbed, lengths), targets)
