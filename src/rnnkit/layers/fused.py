"""torch's fused recurrent kernels (oneDNN/native on CPU, cuDNN on GPU) behind rnnkit layers.

``torch.lstm``, ``torch.gru``, ``torch.rnn_tanh`` and ``torch.rnn_relu`` are the operators
that torch.nn's layers call. They take the flat weight list in torch.nn's order (per layer
and direction: w_ih, w_hh, b_ih, b_hh, w_hr), which rnnkit's layers keep.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor

FUSED_OPS = {
    "LSTM": torch.lstm,
    "GRU": torch.gru,
    "RNN_TANH": torch.rnn_tanh,
    "RNN_RELU": torch.rnn_relu,
}


def autocast_blocker(device: torch.device) -> str | None:
    """Why the autocast active now on ``device`` keeps torch's fused kernels from running,
    or None: bfloat16 autocast on a CPU whose oneDNN has no bfloat16 recurrent kernels."""
    if device.type != "cpu" or not torch.is_autocast_enabled("cpu"):
        return None
    if torch.get_autocast_dtype("cpu") != torch.bfloat16:
        return None
    return cpu_bf16_unavailable()


@functools.cache
def cpu_bf16_unavailable() -> str | None:
    """Why torch's fused recurrent kernels cannot run in bfloat16 on this CPU, or None.

    oneDNN's bfloat16 LSTM needs AVX-512 (or newer); on an AVX2-only CPU it fails deep in
    the first forward with "could not create a primitive descriptor". One tiny step under
    autocast finds out once; the layers then run on rnnkit's own kernels (in float32) there.
    """
    weights = [torch.zeros(4, 1), torch.zeros(4, 1)]
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            torch.lstm(torch.zeros(1, 1, 1), [torch.zeros(1, 1, 1), torch.zeros(1, 1, 1)],
                       weights, False, 1, 0.0, False, False, False)
    except RuntimeError as error:
        return ("torch's bfloat16 recurrent kernels (oneDNN) do not run on this CPU "
                f"({str(error).splitlines()[0][:60]}...; they need AVX-512)")
    return None


@dataclass(frozen=True)
class FusedSettings:
    """The layer-wide arguments every fused operator takes."""

    mode: str
    has_biases: bool
    num_layers: int
    dropout: float
    training: bool
    bidirectional: bool


def fused_padded(
    settings: FusedSettings, input: Tensor, state: tuple[Tensor, ...], weights: list[Tensor]
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run a fused kernel on a time-major (time, batch, features) input.

    ``state`` is ``(h_0,)`` or ``(h_0, c_0)`` shaped (layers * directions, batch, size).
    """
    op = FUSED_OPS[settings.mode]
    hx = list(state) if settings.mode == "LSTM" else state[0]
    result = op(input, hx, weights, settings.has_biases, settings.num_layers, settings.dropout,
                settings.training, settings.bidirectional, False)
    return result[0], tuple(result[1:])


def fused_packed(
    settings: FusedSettings,
    data: Tensor,
    batch_sizes: Tensor,
    state: tuple[Tensor, ...],
    weights: list[Tensor],
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run a fused kernel on packed data; ``state`` must already be in sorted batch order."""
    op = FUSED_OPS[settings.mode]
    hx = list(state) if settings.mode == "LSTM" else state[0]
    result = op(data, batch_sizes, hx, weights, settings.has_biases, settings.num_layers,
                settings.dropout, settings.training, settings.bidirectional)
    return result[0], tuple(result[1:])
