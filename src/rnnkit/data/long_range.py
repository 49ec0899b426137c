"""Synthetic long-range tasks that a recurrent model can only solve by remembering.

- The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): add the two numbers
  that a marker channel points at, however far apart they are.
- The copy task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016): read a string of
  symbols, wait, then write the string back.

Both draw from a ``torch.Generator``, so a seed fixes a data set exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.validation import check_positive_int

ADDING_BASELINE_MSE = 1 / 6  # predicting the mean, 1, misses by Var(U + U') = 2/12


@dataclass(frozen=True)
class AddingBatch:
    """One batch of the adding problem.

    Shapes:
        inputs:  (batch, time, 2): channel 0 the values, uniform on [0, 1); channel 1 the
                 markers, 1.0 at exactly two steps (one in each half) and 0.0 elsewhere
        targets: (batch,) the sum of the two marked values
    """

    inputs: Tensor
    targets: Tensor

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def to(self, device: torch.device | str) -> AddingBatch:
        """The batch on ``device``."""
        return AddingBatch(self.inputs.to(device), self.targets.to(device))


def adding_problem(batch_size: int, length: int, generator: torch.Generator | None = None,
                   dtype: torch.dtype = torch.float32) -> AddingBatch:
    """Draw a batch of the adding problem with sequences of ``length`` steps.

    One marker sits uniformly in the first half and one in the second, so the model has to
    carry the first value across about ``length / 2`` steps on average. Predicting 1 for
    every sequence scores an MSE of 1/6 (:data:`ADDING_BASELINE_MSE`).

    Example:
        >>> batch = adding_problem(4, 10, torch.Generator().manual_seed(0))
        >>> batch.inputs.shape, batch.targets.shape
        (torch.Size([4, 10, 2]), torch.Size([4]))
    """
    check_positive_int("adding_problem", "batch_size", batch_size)
    _check_length("adding_problem", length, minimum=2)
    values = torch.rand(batch_size, length, generator=generator, dtype=dtype)
    half = length // 2
    first = torch.randint(0, half, (batch_size,), generator=generator)
    second = torch.randint(half, length, (batch_size,), generator=generator)
    markers = torch.zeros(batch_size, length, dtype=dtype)
    rows = torch.arange(batch_size)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return AddingBatch(torch.stack([values, markers], dim=-1), targets)


@dataclass(frozen=True)
class CopyBatch:
    """One batch of the copy task.

    Token ids: 0 is blank, 1..``num_symbols`` are symbols, ``num_symbols + 1`` is the
    delimiter that tells the model to start writing.

    Shapes (time = 2 * copy_length + delay):
        inputs:  (batch, time) the symbols, ``delay - 1`` blanks, the delimiter, then blanks
        targets: (batch, time) blanks, then the symbols in the last ``copy_length`` steps
        recall:  (batch, time) bool, True on the steps that score (the last ``copy_length``)
    """

    inputs: Tensor
    targets: Tensor
    recall: Tensor

    @property
    def vocab_size(self) -> int:
        """Blank, symbols and delimiter."""
        return int(self.inputs.max()) + 1

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def to(self, device: torch.device | str) -> CopyBatch:
        """The batch on ``device``."""
        return CopyBatch(self.inputs.to(device), self.targets.to(device), self.recall.to(device))


def copy_task(batch_size: int, delay: int, copy_length: int = 10, num_symbols: int = 8,
              generator: torch.Generator | None = None) -> CopyBatch:
    """Draw a batch of the copy task: remember ``copy_length`` symbols across ``delay`` steps.

    A model that has forgotten the symbols can do no better than guessing, an accuracy of
    ``1 / num_symbols`` on the recalled steps.

    Example:
        >>> batch = copy_task(2, delay=5, copy_length=3, generator=torch.Generator().manual_seed(0))
        >>> batch.inputs.shape, int(batch.recall.sum())
        (torch.Size([2, 11]), 6)
    """
    check_positive_int("copy_task", "batch_size", batch_size)
    _check_length("copy_task", delay, minimum=1, name="delay")
    check_positive_int("copy_task", "copy_length", copy_length)
    if isinstance(num_symbols, bool) or not isinstance(num_symbols, int) or num_symbols < 2:
        raise ValueError(f"copy_task needs num_symbols >= 2, got {num_symbols!r}")
    time = 2 * copy_length + delay
    symbols = torch.randint(1, num_symbols + 1, (batch_size, copy_length), generator=generator)
    inputs = torch.zeros(batch_size, time, dtype=torch.long)
    inputs[:, :copy_length] = symbols
    inputs[:, copy_length + delay - 1] = num_symbols + 1  # the delimiter: write now
    targets = torch.zeros(batch_size, time, dtype=torch.long)
    targets[:, -copy_length:] = symbols
    recall = torch.zeros(batch_size, time, dtype=torch.bool)
    recall[:, -copy_length:] = True
    return CopyBatch(inputs, targets, recall)


def _check_length(owner: str, value: object, *, minimum: int, name: str = "length") -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner} needs {name} >= {minimum}, got {value!r}")
