"""A numeric series made ready for a forecaster: chronological parts, a scaler fitted on
the training part, and windows of past values with the values that follow them.

The parts are cut in time order, never shuffled across the cut::

    | train ............................ | valid ..... | test ...... |
    0                                  train        train+valid     n

An example is named by its *origin* ``s``, the index of the first value to forecast: its
inputs are the ``window`` values before ``s`` and its targets the ``horizon`` values from
``s``. A training example lies wholly inside the training part; a validation or test
example takes its targets inside its part and its inputs from wherever they are, the parts
before it included (a rolling origin: every origin sees the true history up to itself).

Shapes (:class:`WindowBatch`):
    segments:     (batch, window + horizon) scaled values, inputs then targets
    inputs:       (batch, window, 1)
    targets:      (batch, horizon)
    step_targets: (batch, window, horizon); row ``t`` holds the values ``t + 1 .. t + horizon``
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import Tensor

PARTS = ("train", "valid", "test")


@dataclass(frozen=True)
class Scaler:
    """Standardization, after an optional natural log: ``(log(y) - mean) / std``.

    Fitted on the training part only (:meth:`fit`), so nothing of the validation or test
    values leaks into the inputs; saved with a checkpoint (:meth:`to_dict`) so forecasts
    come back in the series' units (:meth:`inverse`).
    """

    mean: float
    std: float
    log: bool = False

    @classmethod
    def fit(cls, training_values: ArrayLike, log: bool = False) -> Scaler:
        """The scaler of ``training_values``; refuses a constant training part (std 0) and,
        with ``log``, a value that is not positive."""
        values = _checked_log(np.asarray(training_values, dtype=np.float64), log, "Scaler.fit")
        std = float(values.std()) if values.size else 0.0
        if std == 0.0:
            raise ValueError(f"Scaler.fit needs a training part that varies, got "
                             f"{values.size} values with standard deviation {std}")
        return cls(float(values.mean()), std, log)

    def transform(self, values: ArrayLike) -> NDArray[np.float64]:
        """Series values to scaled values (any shape)."""
        array = _checked_log(np.asarray(values, dtype=np.float64), self.log, "Scaler.transform")
        return (array - self.mean) / self.std

    def inverse(self, scaled: ArrayLike) -> NDArray[np.float64]:
        """Scaled values back to series values (any shape)."""
        values = np.asarray(scaled, dtype=np.float64) * self.std + self.mean
        return np.exp(values) if self.log else values

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, for a checkpoint's vocabulary file."""
        return {"mean": self.mean, "std": self.std, "log": self.log}

    @classmethod
    def from_dict(cls, fields: dict[str, Any]) -> Scaler:
        """The scaler :meth:`to_dict` wrote."""
        return cls(float(fields["mean"]), float(fields["std"]), bool(fields["log"]))


@dataclass(frozen=True)
class SplitSizes:
    """How many values each chronological part holds (train, then valid, then test)."""

    train: int
    valid: int
    test: int

    def start(self, part: str) -> int:
        """The index of the first value of ``part``."""
        return {"train": 0, "valid": self.train, "test": self.train + self.valid}[part]

    def size(self, part: str) -> int:
        """The number of values of ``part``."""
        return {"train": self.train, "valid": self.valid, "test": self.test}[part]


def split_sizes(length: int, valid_fraction: float, test_fraction: float) -> SplitSizes:
    """The last ``round(length * test_fraction)`` values are the test part, the
    ``round(length * valid_fraction)`` before them the validation part, the rest training.

    Example:
        >>> split_sizes(144, 0.1, 0.1)
        SplitSizes(train=116, valid=14, test=14)
    """
    valid, test = round(length * valid_fraction), round(length * test_fraction)
    return SplitSizes(length - valid - test, valid, test)


def example_origins(sizes: SplitSizes, part: str, window: int, horizon: int) -> range:
    """The origins (first forecast index) of every complete example of ``part``.

    Raises :class:`ValueError`, naming the lengths, when the series is shorter than
    ``window + horizon`` or ``part`` has no complete example.

    Example:
        >>> sizes = SplitSizes(train=20, valid=5, test=5)
        >>> example_origins(sizes, "train", 4, 2), example_origins(sizes, "test", 4, 2)
        (range(4, 19), range(25, 29))
    """
    length = sizes.train + sizes.valid + sizes.test
    if length < window + horizon:
        raise ValueError(f"a series of {length} values is shorter than the window plus the "
                         f"horizon ({window} + {horizon} = {window + horizon}): no example fits")
    if part == "train":
        first, last = window, sizes.train - horizon
        needed = f"window + horizon = {window + horizon} values"
    else:
        first, last = sizes.start(part), sizes.start(part) + sizes.size(part) - horizon
        needed = f"horizon = {horizon} values"
    if last < first:
        raise ValueError(f"the {part} part ({sizes.size(part)} of {length} values; parts "
                         f"train {sizes.train}, valid {sizes.valid}, test {sizes.test}) has no "
                         f"complete example: it needs at least {needed}")
    return range(first, last + 1)


@dataclass
class WindowBatch:
    """Scaled segments of a series, each a window of inputs and the values after it
    (module docstring for shapes)."""

    segments: Tensor
    window: int

    def __len__(self) -> int:
        return self.segments.shape[0]

    def to(self, device: torch.device) -> WindowBatch:
        """The batch on ``device``."""
        return WindowBatch(self.segments.to(device), self.window)

    @property
    def inputs(self) -> Tensor:
        """The windows: (batch, window, 1)."""
        return self.segments[:, :self.window, None]

    @property
    def targets(self) -> Tensor:
        """The values after each window: (batch, horizon)."""
        return self.segments[:, self.window:]

    @property
    def step_targets(self) -> Tensor:
        """Every step's targets: (batch, window, horizon), row ``t`` the values
        ``t + 1 .. t + horizon`` of the segment."""
        horizon = self.segments.shape[1] - self.window
        return self.segments[:, 1:].unfold(1, horizon, 1)  # (batch, window, horizon)


def window_batch(scaled: ArrayLike, origins: Sequence[int], window: int,
                 horizon: int) -> WindowBatch:
    """The examples at ``origins`` of the scaled series, as one float32 batch.

    Example:
        >>> batch = window_batch(np.arange(10.0), [3, 5], window=3, horizon=2)
        >>> batch.inputs[:, :, 0].tolist(), batch.targets.tolist()
        ([[0.0, 1.0, 2.0], [2.0, 3.0, 4.0]], [[3.0, 4.0], [5.0, 6.0]])
    """
    values = np.asarray(scaled, dtype=np.float32)
    starts = np.asarray(origins, dtype=np.int64) - window
    if starts.size and (starts.min() < 0 or starts.max() + window + horizon > len(values)):
        raise ValueError(f"window_batch: origins must lie in {window}.."
                         f"{len(values) - horizon} (a window before, a horizon after), got "
                         f"{int(starts.min()) + window}..{int(starts.max()) + window}")
    rows = starts[:, None] + np.arange(window + horizon)[None, :]
    return WindowBatch(torch.from_numpy(values[rows].reshape(-1, window + horizon)), window)


def _checked_log(values: NDArray[np.float64], log: bool, owner: str) -> NDArray[np.float64]:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{owner} expected finite values, got NaN or infinity")
    if not log:
        return values
    if values.size and values.min() <= 0:
        raise ValueError(f"{owner}: log_transform needs positive values, got a minimum of "
                         f"{values.min()}")
    return np.log(values)
