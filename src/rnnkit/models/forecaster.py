"""A recurrent forecaster of one numeric series: a window of past values to the next
``horizon`` values.

Scaled values (one feature per step) → a rnnkit recurrent layer → dropout → a linear layer
to ``horizon`` values at each step. Step ``t`` of a window forecasts the values ``t + 1``
to ``t + horizon``, so the last step's output is the window's forecast.

Two ways to train it (``mode``), one way to use it:

- ``"many-to-one"``: the loss reads the last step only (:meth:`SequenceForecaster.forward`).
- ``"many-to-many"``: the loss reads every step (:meth:`SequenceForecaster.forward_every_step`),
  so one window gives ``window`` training targets instead of one; early steps forecast
  from a short history, which is the price of the denser signal.

Either way a forecast is the last step's output: :meth:`~SequenceForecaster.forward`
returns ``(batch, horizon)`` whatever the mode.

With ``relative=True`` the model sees values relative to the window's first value and
forecasts changes: each step's output is added to that step's own value. A trending series
then looks the same at every level, so a test part that lies above everything in training
(airline passengers) is no longer out of range; after a log transform, changes are ratios.

Shapes:
    window:   (batch, window, 1) float, scaled values, oldest first
    forward:  (batch, horizon), the values after the window
    every:    (batch, window, horizon); row ``t`` forecasts the values ``t + 1 .. t + horizon``
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.layers.factory import CELL_NAMES, build_layer
from rnnkit.validation import (
    MAX_LAYERS,
    MAX_SIZE,
    Rule,
    check_fields,
    check_tensor,
    shape_text,
)

FORECAST_MODES = ("many-to-one", "many-to-many")


@dataclass(frozen=True)
class ForecasterConfig:
    """Shape of a :class:`SequenceForecaster` and which steps its loss reads (``mode``);
    saved as JSON next to its weights."""

    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0  # between layers and on the top layer's output
    horizon: int = 1
    mode: str = "many-to-one"
    relative: bool = False  # forecast changes from the latest value seen (module docs)

    RANGES: ClassVar[dict[str, Rule]] = {
        "cell": CELL_NAMES, "hidden_size": f"[1, {MAX_SIZE}]",
        "num_layers": f"[1, {MAX_LAYERS}]", "dropout": "[0, 1)", "horizon": "[1, 100000]",
        "mode": FORECAST_MODES}

    def __post_init__(self) -> None:
        check_fields(self)


class SequenceForecaster(nn.Module):
    """Windows of scaled values to forecasts of the next ``horizon`` values (module docs).

    Example:
        >>> import torch
        >>> model = SequenceForecaster(ForecasterConfig(hidden_size=8, horizon=3))
        >>> window = torch.randn(4, 12, 1)  # (batch, window, 1)
        >>> model(window).shape, model.forward_every_step(window).shape
        (torch.Size([4, 3]), torch.Size([4, 12, 3]))
    """

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = build_layer(config.cell, 1, config.hidden_size, num_layers=config.num_layers,
                               dropout=config.dropout)
        self.head = nn.Linear(config.hidden_size, config.horizon)

    def forward(self, window: Tensor) -> Tensor:
        """The forecast of the ``horizon`` values after each window: (batch, horizon)."""
        window = self._checked(window)
        if not self.config.relative:
            return self._head(self._outputs(window)[:, -1])
        return self._head(self._outputs(window - window[:, :1])[:, -1]) + window[:, -1]

    def forward_every_step(self, window: Tensor) -> Tensor:
        """Every step's forecast: (batch, window, horizon), row ``t`` for the values
        ``t + 1 .. t + horizon`` (the last row is :meth:`forward`'s output)."""
        window = self._checked(window)
        if not self.config.relative:
            return self._head(self._outputs(window))
        # The inputs are taken relative to the window's first value, which every step has
        # seen (the last one would leak the future into early steps); each step's forecast
        # is a change from its own value.
        return self._head(self._outputs(window - window[:, :1])) + window

    def _checked(self, window: Tensor) -> Tensor:
        window = check_tensor("SequenceForecaster", "window", window)
        if window.dim() != 3 or window.shape[-1] != 1 or window.shape[1] == 0:
            raise ValueError("SequenceForecaster expected a window of shape (batch, window, 1) "
                             f"with at least one step, got shape {shape_text(window)}")
        if not window.dtype.is_floating_point:
            raise TypeError("SequenceForecaster expected a floating-point window (scaled "
                            f"values), got dtype {window.dtype}")
        return window

    def _outputs(self, window: Tensor) -> Tensor:
        """The top layer's outputs (batch, window, hidden_size)."""
        outputs, _ = self.rnn(window, lengths=None)  # (batch, window, hidden)
        return outputs

    def _head(self, features: Tensor) -> Tensor:
        return self.head(F.dropout(features, self.config.dropout, self.training))

    def extra_repr(self) -> str:
        """The options a printout should show: horizon and training mode."""
        relative = ", relative=True" if self.config.relative else ""
        return f"horizon={self.config.horizon}, mode={self.config.mode!r}{relative}"
