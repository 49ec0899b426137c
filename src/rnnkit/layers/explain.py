"""``rnnkit.explain``: which path each recurrent layer of a module takes, and why."""

from __future__ import annotations

import torch
from torch import nn

from rnnkit.layers.base import RecurrentLayer
from rnnkit.layers.dispatch import BACKEND_FUSED, BACKEND_LOOP
from rnnkit.layers.minimal import MinimalRecurrentLayer

_FUSED_WHY = ("torch has this configuration: its fused kernel runs (cuDNN on GPU; one step "
              "on the CPU runs the step function)")
_NATIVE_WHY = "rnnkit's scan engine with its C++ kernels"


def explain_layer(layer: RecurrentLayer, device: torch.device | str | None = None) -> str:
    """One line: the backend ``layer`` takes now (training mode included) and the reason."""
    backend = layer.backend_for(device)
    if backend == BACKEND_FUSED:
        return f"{backend}: {_FUSED_WHY}"
    reason = layer.fused_blocker(device)
    if backend == BACKEND_LOOP:
        return f"{backend}: {reason}; no scan kernel either: {layer.engine_blocker()}"
    native_why = layer.native_blocker(device)
    how = _NATIVE_WHY if native_why is None else f"rnnkit's scan in torch operators ({native_why})"
    return f"{backend}: {reason}; runs on {how}"


def explain(module: nn.Module, device: torch.device | str | None = None) -> str:
    """Say, for every rnnkit recurrent layer inside ``module``, which path it takes and why.

    The answer depends on the mode (``recurrent_dropout`` moves a layer off torch's kernel
    only in training) and on the device (default: where the layer's parameters are).

    Example:
        >>> import rnnkit
        >>> print(rnnkit.explain(rnnkit.LSTM(4, 8)))  # doctest: +NORMALIZE_WHITESPACE
        LSTM: torch-fused: torch has this configuration: its fused kernel runs (cuDNN on GPU;
        one step on the CPU runs the step function)
    """
    lines = []
    for name, layer in module.named_modules():
        label = name or type(layer).__name__
        if isinstance(layer, RecurrentLayer):
            lines.append(f"{label}: {explain_layer(layer, device)}")
        elif isinstance(layer, MinimalRecurrentLayer):
            lines.append(f"{label}: {layer.explain_backend(device and torch.device(device))}")
    if not lines:
        return f"{type(module).__name__} holds no rnnkit recurrent layer"
    return "\n".join(lines)
