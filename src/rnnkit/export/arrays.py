"""Tensors as the float32 NumPy arrays that exported graphs store as weights."""

from __future__ import annotations

import numpy as np
import torch


def float32_array(tensor: torch.Tensor) -> np.ndarray:
    """A detached float32 CPU copy of ``tensor`` as NumPy (ONNX initializers are float32)."""
    return tensor.detach().to("cpu", torch.float32).numpy()
