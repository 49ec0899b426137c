"""Cross-entropy of a linear output layer, computed over chunks of the vocabulary.

A word-level language model's output layer makes ``(tokens, vocab)`` logits: 400 tokens of
a 10,000-word vocabulary are 16 MB of float32 written, read by the softmax, written again
as its gradient and read by two products. :func:`linear_cross_entropy` never holds more
than ``(tokens, chunk_size)`` of them: the forward keeps a running log-sum-exp over the
chunks (and each token's target logit), the backward recomputes each chunk's logits and
turns them into that chunk's share of the three gradients. The result is the loss of
``F.cross_entropy(F.linear(features, weight, bias), targets)``: the same model, the same
gradients (to float32 rounding), one more product's worth of arithmetic, and a working
set that stays in cache.

Under autocast the products run in the autocast type (bf16 on a CPU) and everything
after them, the log-sum-exp and the gradients' accumulation, in float32.
"""

from __future__ import annotations

import torch
from torch import Tensor

DEFAULT_CHUNK_SIZE = 2048


def linear_cross_entropy(features: Tensor, weight: Tensor, bias: Tensor | None,
                         targets: Tensor, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Tensor:
    """Mean cross-entropy of ``features @ weight.T + bias`` against ``targets``.

    Shapes:
        features: (tokens, features)
        weight:   (vocab, features)
        bias:     (vocab,) or None
        targets:  (tokens,) int64 class ids in [0, vocab)
        output:   () float32
    """
    if features.dim() != 2 or weight.dim() != 2 or features.shape[1] != weight.shape[1]:
        raise ValueError(f"linear_cross_entropy expected features (tokens, n) and weight "
                         f"(vocab, n), got shapes {tuple(features.shape)} and "
                         f"{tuple(weight.shape)}")
    if targets.shape != features.shape[:1]:
        raise ValueError(f"linear_cross_entropy expected targets of shape "
                         f"({features.shape[0]},), got {tuple(targets.shape)}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"expected chunk_size to be an int >= 1, got {chunk_size!r}")
    compute = _autocast_dtype(features.device.type)
    return _LinearCrossEntropy.apply(features, weight, bias, targets, chunk_size, compute)


def _autocast_dtype(device_type: str) -> torch.dtype | None:
    if not torch.is_autocast_enabled(device_type):
        return None
    return torch.get_autocast_dtype(device_type)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, features, weight, bias, targets, chunk_size, compute):
        with torch.autocast(features.device.type, enabled=False):
            running_max = features.new_full((features.shape[0],), -torch.inf,
                                            dtype=_accumulated(features))
            running_sum = torch.zeros_like(running_max)
            target_logits = torch.zeros_like(running_max)
            for start, logits in _chunk_logits(features, weight, bias, chunk_size, compute):
                new_max = torch.maximum(running_max, logits.max(dim=1).values)
                running_sum = (running_sum * torch.exp(running_max - new_max)
                               + torch.exp(logits - new_max[:, None]).sum(dim=1))
                running_max = new_max
                rows, columns = _targets_in(targets, start, logits.shape[1])
                target_logits[rows] = logits[rows, columns]
            log_sum_exp = running_max + torch.log(running_sum)  # (tokens,)
        ctx.save_for_backward(features, weight, bias, targets, log_sum_exp)
        ctx.chunk_size, ctx.compute = chunk_size, compute
        return (log_sum_exp - target_logits).mean()

    @staticmethod
    def backward(ctx, grad_loss):
        features, weight, bias, targets, log_sum_exp = ctx.saved_tensors
        accumulate = _accumulated(features)
        scale = grad_loss.to(accumulate) / features.shape[0]
        with torch.autocast(features.device.type, enabled=False):
            grad_features = torch.zeros(features.shape, dtype=accumulate,
                                        device=features.device)
            grad_weight = torch.empty(weight.shape, dtype=accumulate, device=weight.device)
            grad_bias = None if bias is None else torch.empty(bias.shape, dtype=accumulate,
                                                              device=bias.device)
            for start, logits in _chunk_logits(features, weight, bias, ctx.chunk_size,
                                               ctx.compute):
                end = start + logits.shape[1]
                grad_logits = torch.exp(logits - log_sum_exp[:, None])  # softmax: (tokens, chunk)
                rows, columns = _targets_in(targets, start, logits.shape[1])
                grad_logits[rows, columns] -= 1.0
                grad_logits *= scale
                chunk_weight = weight[start:end]
                low = grad_logits if ctx.compute is None else grad_logits.to(ctx.compute)
                grad_features += (low @ _as(chunk_weight, ctx.compute)).to(accumulate)
                grad_weight[start:end] = (low.T @ _as(features, ctx.compute)).to(accumulate)
                if grad_bias is not None:
                    grad_bias[start:end] = grad_logits.sum(dim=0)
        return (grad_features.to(features.dtype), grad_weight.to(weight.dtype),
                None if grad_bias is None else grad_bias.to(bias.dtype), None, None, None)


def _accumulated(features: Tensor) -> torch.dtype:
    """float32, or float64 for float64 features: what sums and gradients are kept in."""
    return torch.promote_types(features.dtype, torch.float32)


def _as(tensor: Tensor, dtype: torch.dtype | None) -> Tensor:
    return tensor if dtype is None else tensor.to(dtype)


def _chunk_logits(features: Tensor, weight: Tensor, bias: Tensor | None, chunk_size: int,
                  compute: torch.dtype | None):
    """(start, logits of the vocabulary slice [start, start + chunk)), accumulated type."""
    low_features, accumulate = _as(features, compute), _accumulated(features)
    for start in range(0, weight.shape[0], chunk_size):
        chunk = weight[start:start + chunk_size]
        logits = (low_features @ _as(chunk, compute).T).to(accumulate)  # (tokens, chunk)
        if bias is not None:
            logits += bias[start:start + chunk_size].to(accumulate)
        yield start, logits


def _targets_in(targets: Tensor, start: int, width: int) -> tuple[Tensor, Tensor]:
    """The rows whose target falls in [start, start + width), and its column there."""
    rows = ((targets >= start) & (targets < start + width)).nonzero(as_tuple=True)[0]
    return rows, targets[rows] - start
