"""The Task protocol: what the one training loop (:func:`rnnkit.training.trainer.fit`) asks
of a task, and nothing more.

A task owns its data, its loss and its figures; the loop owns the optimization. The loop
walks epochs of batches: ``batches(epoch)`` must give the same batches every time it is
called with the same epoch (shuffle with a generator seeded by the epoch), because a
resumed run finds its place by position. A task that reads one long text with a carried
state (the language model) returns the state its loss produced and receives it back with
the next batch of the epoch; the loop detaches it between batches and starts every epoch
from ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from torch import Tensor, nn

from rnnkit.training.distributed import Distributed


@dataclass
class StepLoss:
    """What a task's loss returns for one batch.

    ``loss`` is the mean over what this process holds of the batch; ``count`` is how many
    things it is the mean of (target tokens, examples): under several processes the ranks'
    losses are weighted by it, so the step equals one process's on the whole batch, and it
    is what the progress bar counts per second. ``state`` is the recurrent state to carry
    into the next batch, or ``None``.
    """

    loss: Tensor
    count: int
    state: Any = None


class Task(Protocol):
    """What :func:`~rnnkit.training.trainer.fit` drives.

    Attributes: ``figure_names`` (the keys of ``validate``'s figures, in the order the log
    shows them); ``divergence_bound`` (a training loss above it stops the run before the
    update reaches the weights; ``math.inf`` for none); ``validates_at_end`` (measure once
    more, ``final``, at the end of a run); ``forward_only`` (the loss calls only the
    model's forward, so DDP can wrap it; otherwise the loop averages the gradients itself).
    """

    figure_names: tuple[str, ...]
    divergence_bound: float
    validates_at_end: bool
    forward_only: bool

    def bind(self, distributed: Distributed) -> None:
        """Called once before training: this process's place among the processes, so that
        ``batches`` gives this rank's share and ``validate`` adds up every rank's."""

    def batches(self, epoch: int) -> Sequence[Any]:
        """This process's batches of ``epoch`` (0-based), the same on every call."""

    def loss(self, model: nn.Module, batch: Any, state: Any) -> StepLoss:
        """The mean training loss of ``batch`` (moved to the model's device here)."""

    def validate(self, model: nn.Module, *, final: bool) -> dict[str, float]:
        """Held-out figures of ``model``; ``final`` at the end of a run (a task may then
        measure more thoroughly than at the scheduled validations). Every rank calls it."""

    def error(self, figures: dict[str, float]) -> float:
        """The figure to minimize: it picks the best checkpoint, drives a plateau schedule
        and early stopping."""

    def describe(self, figures: dict[str, float], *, final: bool) -> str:
        """``figures`` (of a ``final`` validation or not) as one line for the terminal."""

    def closing_report(self, model: nn.Module) -> str:
        """Lines shown when a run ends (a sample of generated text), or ``""``."""

    def saved_config(self) -> dict[str, Any]:
        """The JSON-able configuration saved with every checkpoint (a resume compares it)."""

    def saved_tables(self) -> dict[str, Any]:
        """The JSON-able vocabularies and label tables a checkpoint needs to be used."""

    def state_dict(self) -> dict[str, Any]:
        """What the task itself must carry across a resume (its own generators): JSON
        values and tensors."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`state_dict` gave."""


def figures_line(figures: dict[str, float]) -> str:
    """``name value`` pairs joined by commas: the default :meth:`Task.describe`."""
    return ", ".join(f"{name} {value:.4f}" for name, value in figures.items())


def first_device(model: nn.Module) -> Any:
    """The device of ``model``'s first parameter."""
    return next(model.parameters()).device


__all__ = ["StepLoss", "Task", "figures_line", "first_device"]

