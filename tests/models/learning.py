""""Every parameter learns", checked so that a zero gradient cannot pass.

``grad is not None`` holds for a parameter whose gradient is all zeros (a weight multiplied
by zero, a branch cut off with a constant): such a parameter never learns. This check wants,
for every parameter, a finite gradient with a nonzero entry, and a loss that falls over a
few optimizer steps on the same batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn


def assert_every_parameter_learns(model: nn.Module, loss_of: Callable[[], Tensor], *,
                                  steps: int = 8, lr: float = 0.05) -> None:
    """``loss_of()`` computes the model's loss on a fixed batch (dropout off or seeded)."""
    model.zero_grad(set_to_none=True)
    loss_of().backward()
    silent = [name for name, parameter in model.named_parameters()
              if parameter.grad is None or not bool(parameter.grad.ne(0).any())]
    assert not silent, f"no gradient (or an all-zero one) reaches {silent}"
    broken = [name for name, parameter in model.named_parameters()
              if not bool(torch.isfinite(parameter.grad).all())]
    assert not broken, f"non-finite gradients in {broken}"
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    with torch.no_grad():
        before = float(loss_of())
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss_of().backward()
        optimizer.step()
    with torch.no_grad():
        after = float(loss_of())
    assert after < 0.9 * before, f"the loss did not fall: {before:.4g} -> {after:.4g}"
