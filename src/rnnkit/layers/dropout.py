"""Dropout inside the recurrence: one mask per sequence on ``h`` and DropConnect on ``W_hh``.

Variational (recurrent) dropout, Gal & Ghahramani (2016): a mask over ``h``'s features is
drawn once per sequence and multiplies ``h`` wherever it enters the recurrent product, at
every step, so the recurrence sees the same thinned network throughout a sequence.
DropConnect on the recurrent weights, Wan et al. (2013) as used by AWD-LSTM (Merity et al.
2018): a mask over ``W_hh``'s entries is drawn once per forward. Both scale the kept
values by ``1 / (1 - p)`` so evaluation needs no rescaling.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass

from torch import Tensor

Cell = tuple[int, int]


@dataclass(frozen=True)
class ForwardDraws:
    """One forward's weights (DropConnect applied) and recurrent masks, per (layer, direction).

    Shapes: a recurrent mask is (batch, hidden) or None.
    """

    weights: dict[Cell, dict[str, Tensor]]
    masks: dict[Cell, Tensor | None]


def check_dropout_probability(owner: str, name: str, value: object) -> float:
    """Return ``value`` as a float in [0, 1), else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner} expected {name} to be a number, got {type(value).__name__}")
    if not 0 <= float(value) < 1:
        raise ValueError(f"{owner} expected {name} in [0, 1), got {value}")
    return float(value)


def check_layer_dropout(owner: str, dropout: object, num_layers: int) -> float:
    """A stacked layer's ``dropout`` between layers, in [0, 1] as torch.nn's, with a warning
    where it does nothing (one layer)."""
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number):
        raise TypeError(f"{owner} expected dropout to be a number, got {type(dropout).__name__}")
    if not 0 <= float(dropout) <= 1:
        raise ValueError(f"{owner} expected dropout in [0, 1], got {dropout}")
    if dropout > 0 and num_layers == 1:
        warnings.warn(f"{owner}: dropout={dropout} applies between layers only, so with "
                      "num_layers=1 it does nothing", stacklevel=4)
    return float(dropout)


def keep_mask(shape: tuple[int, ...], p: float, like: Tensor) -> Tensor:
    """Bernoulli(1 - p) entries scaled by 1 / (1 - p), with ``like``'s dtype and device."""
    return like.new_empty(shape).bernoulli_(1 - p).div_(1 - p)


def draw_dropout(
    weights: dict[Cell, dict[str, Tensor]],
    batch: int,
    hidden: int,
    *,
    recurrent: float,
    weight: float,
    like: Tensor,
) -> ForwardDraws:
    """Draw this forward's masks; with both probabilities 0, the weights pass unchanged."""
    masks: dict[Cell, Tensor | None] = {}
    dropped = {}
    for cell, cell_weights in weights.items():
        masks[cell] = keep_mask((batch, hidden), recurrent, like) if recurrent else None
        if weight:
            weight_hh = cell_weights["weight_hh"]
            cell_weights = {**cell_weights,
                            "weight_hh": weight_hh * keep_mask(weight_hh.shape, weight, like)}
        dropped[cell] = cell_weights
    return ForwardDraws(dropped, masks)
