"""Gradient clipping, by value and by total norm, with the norms before and after measured.

One function serves the language-model trainer and the long-range tasks, so both clip the
same way and both can report how much clipping changed the gradient.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn


def clip_gradients(parameters: Iterable[nn.Parameter], *, clip_norm: float | None = None,
                   clip_value: float | None = None) -> tuple[float, float]:
    """Clip gradients in place; returns their total 2-norm before and after clipping.

    ``clip_value`` first clamps every entry to ``[-clip_value, clip_value]``; ``clip_norm``
    then scales the whole gradient down to at most that norm (Pascanu et al. 2013). Either may
    be ``None``. A non-finite norm is returned as it is, so callers can stop before the step.
    """
    parameters = [p for p in parameters if p.grad is not None]
    gradients = [p.grad for p in parameters]
    before = after = float(torch.nn.utils.get_total_norm(gradients))
    if clip_value is not None:
        torch.nn.utils.clip_grad_value_(parameters, clip_value)
        after = float(torch.nn.utils.get_total_norm(gradients))
    if clip_norm is not None:
        # The norm just measured is handed over, not computed a second time.
        torch.nn.utils.clip_grads_with_norm_(parameters, clip_norm, torch.tensor(after))
        after = min(after, clip_norm) if math.isfinite(after) else after
    return before, after
