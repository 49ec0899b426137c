"""Knowledge distillation: training a classifier toward the averaged answers of trained
ones (Hinton, Vinyals and Dean 2015; with teachers of the student's own shape, Furlanello
et al. 2018, "Born-Again Neural Networks").

An ensemble of N models predicts better than each of them but costs N times as much; its
class probabilities on the training texts carry what it learned (how sure, and which way
an ambiguous snippet leans) in a form one model can be trained on. Each training text's
target becomes a mixture of its label and the teachers' mean probabilities:

    target = (1 - weight) * one_hot(label) + weight * mean_k p_k(text)

and since cross-entropy is linear in its target, the loss on it is exactly
``(1 - weight) * CE(label) + weight * CE(teachers)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F


def mean_probabilities(probabilities: Sequence[Tensor]) -> Tensor:
    """The mean of the teachers' class probabilities, each (texts, classes)."""
    if not probabilities:
        raise ValueError("distillation needs at least one teacher")
    shapes = {tuple(p.shape) for p in probabilities}
    if len(shapes) != 1:
        raise ValueError(f"teachers' probabilities must share one (texts, classes) shape, "
                         f"got {sorted(shapes)}")
    return torch.stack(list(probabilities)).mean(dim=0)


def mixed_targets(labels: Tensor, teachers: Tensor, weight: float) -> Tensor:
    """Target distributions (texts, classes): ``labels`` (texts,) class ids as one-hot rows
    mixed with the teachers' probabilities (texts, classes) by ``weight`` in [0, 1]."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"distillation weight must be in [0, 1], got {weight}")
    if teachers.dim() != 2 or teachers.shape[0] != labels.shape[0]:
        raise ValueError(f"expected teachers' probabilities of shape ({labels.shape[0]}, "
                         f"classes), got {tuple(teachers.shape)}")
    one_hot = F.one_hot(labels, teachers.shape[1]).to(teachers.dtype)
    return (1.0 - weight) * one_hot + weight * teachers
