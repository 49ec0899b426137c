"""The optimizer of a run and the moving average of its weights."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from rnnkit.training.config import TrainConfig


def build_optimizer(model: nn.Module, settings: TrainConfig) -> torch.optim.Optimizer:
    """SGD or RMSprop (with optional momentum), Adam or AdamW over the model's parameters."""
    parameters = model.parameters()
    if settings.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=settings.lr, momentum=settings.momentum,
                               weight_decay=settings.weight_decay)
    if settings.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=settings.lr, momentum=settings.momentum,
                                   weight_decay=settings.weight_decay)
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=settings.lr, weight_decay=settings.weight_decay)
    return torch.optim.Adam(parameters, lr=settings.lr, weight_decay=settings.weight_decay)


def weight_average(model: nn.Module, decay: float) -> AveragedModel | None:
    """A copy of ``model`` whose weights (and buffers) follow the exponential moving average
    ``average = decay * average + (1 - decay) * weights`` after every step (Polyak
    averaging, Keras' ``use_ema``), or ``None`` when ``decay`` is 0."""
    if decay == 0.0:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
