"""The module a training step calls: the model, wrapped for several processes and for
``torch.compile`` as the settings ask."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from rnnkit.training.config import TrainConfig
from rnnkit.training.distributed import Distributed


def trained_module(model: nn.Module, distributed: Distributed, settings: TrainConfig,
                   ddp: bool = True) -> nn.Module:
    """The module the training step calls: DDP around the model when several processes
    train (and ``ddp``: the task's loss only calls the model's forward), then
    ``torch.compile`` when asked (compiling the DDP module lets Dynamo split the graph at
    DDP's gradient buckets)."""
    trained = model
    if distributed.enabled and ddp:
        device = next(model.parameters()).device
        trained = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if not settings.compile:
        return trained
    backends = torch._dynamo.list_backends(exclude_tags=())
    if settings.compile_backend not in backends:
        raise ValueError(f"compile_backend={settings.compile_backend!r} is not a torch.compile "
                         f"backend; known: {', '.join(sorted(backends))}")
    return torch.compile(trained, backend=settings.compile_backend)
