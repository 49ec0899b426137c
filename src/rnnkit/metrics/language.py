"""Language-model quality: the cross-entropy of a model on a text, measured with the state
carried through it or in fixed windows, and the figures made from it (perplexity, bits).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data.batching import get_window, make_streams, num_windows
from rnnkit.layers.state import detach_state

LN2 = math.log(2.0)


def perplexity(loss_nats: float) -> float:
    """exp(loss); capped to stay finite for diverged runs."""
    return math.exp(min(loss_nats, 700.0))


def bits_per_token(loss_nats: float) -> float:
    """Loss in bits; bits per character for a character-level model."""
    return loss_nats / LN2


def loss_report(loss_nats: float) -> dict[str, float]:
    """``{"loss": nats/token, "perplexity": ..., "bits_per_token": ...}``."""
    return {"loss": loss_nats, "perplexity": perplexity(loss_nats),
            "bits_per_token": bits_per_token(loss_nats)}


def target_tokens(targets: Tensor) -> Tensor:
    """The token ids of a window's targets, (batch, time), without any condition ids."""
    return targets[..., 0] if targets.dim() == 3 else targets


def cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy in nats per token. logits (batch, time, vocab), targets
    (batch, time), or (batch, time, 1 + conditions) when the data carries condition ids
    with each token (only the token is predicted)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                           target_tokens(targets).reshape(-1))


def stateful_loss(model: nn.Module, ids: Tensor, *, batch_size: int, seq_len: int) -> float:
    """Mean loss with the state carried through the whole text.

    The text is laid out as ``batch_size`` parallel streams (as in training), and each
    stream's state runs from its first token to its last.
    """
    total, count = stateful_loss_sums(model, evaluation_streams(ids, batch_size), seq_len)
    return total / count


def windowed_loss(model: nn.Module, ids: Tensor, *, window: int, batch_size: int) -> float:
    """Mean loss over non-overlapping windows of ``window`` targets, each from a zero state.

    This is how nanoGPT-style Transformers are measured (a fixed context), so the two
    kinds of model can be compared on equal terms.
    """
    device = _device_of(model)
    count_windows = (ids.shape[0] - 1) // window
    if count_windows < 1:
        raise ValueError(f"evaluation text has {ids.shape[0]} tokens, fewer than one "
                         f"window of {window} + 1")
    usable = ids[: count_windows * window + 1]
    features = usable.shape[1:]
    inputs_all = usable[:-1].view(count_windows, window, *features)  # (windows, time)
    targets_all = usable[1:].reshape(count_windows, window, *features)
    total = 0.0
    was_training = model.training
    model.eval()
    # A context manager rather than the decorator: mutmut does not mutate decorated
    # functions, and this loop is where a user's validation figure comes from.
    with torch.no_grad():
        for start in range(0, count_windows, batch_size):
            inputs = inputs_all[start : start + batch_size].to(device)
            targets = targets_all[start : start + batch_size].to(device)
            logits, _ = model(inputs)
            total += float(_summed_cross_entropy(logits, targets))
    model.train(was_training)
    return total / target_tokens(targets_all).numel()


def evaluation_streams(ids: Tensor, batch_size: int) -> Tensor:
    """``ids`` as up to ``batch_size`` parallel streams, fewer for a text too short to give
    every stream two tokens."""
    return make_streams(ids, min(batch_size, max(1, (ids.shape[0] - 1) // 2)))


def stateful_loss_sums(model: nn.Module, streams: Tensor, seq_len: int) -> tuple[float, int]:
    """Summed cross-entropy and target count over ``streams`` (batch, steps[, features]),
    each row's state carried from its first window to its last. No rows: ``(0.0, 0)``."""
    if streams.shape[0] == 0:
        return 0.0, 0
    streams = streams.to(_device_of(model))
    total, count, state = 0.0, 0, None
    was_training = model.training
    model.eval()
    with torch.no_grad():  # not the decorator, so that mutmut mutates this loop
        for index in range(num_windows(streams, seq_len)):
            inputs, targets = get_window(streams, index, seq_len)
            logits, state = model(inputs, detach_state(state))
            total += float(_summed_cross_entropy(logits, targets))
            count += target_tokens(targets).numel()
    model.train(was_training)
    return total, count


def _summed_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(),
                           target_tokens(targets).reshape(-1), reduction="sum")


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device
