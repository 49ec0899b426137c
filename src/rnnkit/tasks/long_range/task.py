"""What the one loop trains on a long-range task: its data, model, loss and score.

The synthetic tasks draw a fresh batch every step from one seeded stream (they are
endless) and a test set once from a stream of its own; sequential digits samples batches
from a fixed training split and scores the held-out split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data.digits import (
    NUM_CLASSES,
    load_digits,
    pixel_order,
    pixel_sequences,
    split_digits,
)
from rnnkit.data.long_range import ADDING_BASELINE_MSE, adding_problem, copy_task
from rnnkit.models.long_range import LastStepRegressor, StepClassifier
from rnnkit.tasks.long_range.config import LongRangeConfig
from rnnkit.training.example_training import ExampleTask
from rnnkit.training.task import first_device

# The digits split and pixel permutation stay fixed across training seeds, so runs that
# differ only in their seed are scored on the same images read in the same order.
DIGITS_SPLIT_SEED = 0


@dataclass(frozen=True)
class TaskData:
    """A task's batch sampler, test batch, metric and trivial baseline.

    ``draw(size, generator)`` returns a batch with ``inputs`` and ``targets``.
    """

    draw: Callable[[int, torch.Generator], Any]
    test_batch: Any
    metric: str
    baseline: float


class StreamBatches(Sequence):
    """An endless task's batches as the loop's epoch of ``count`` steps: each batch is the
    next draw of ``generator``.

    The loop reads the positions in order, once each (a repeated read of the last position
    gives the same batch). Which draw comes next lives in the generator, not in the
    position: the task saves the generator with every checkpoint, so a resumed run draws
    what the uninterrupted run would have.
    """

    def __init__(self, draw: Callable[[int, torch.Generator], Any], size: int,
                 generator: torch.Generator, count: int) -> None:
        self._draw, self._size, self._generator, self._count = draw, size, generator, count
        self._last: tuple[int, Any] | None = None

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, position: Any) -> Any:
        if not isinstance(position, int) or not 0 <= position < self._count:
            raise IndexError(f"a stream of {self._count} batches has no position {position!r}")
        if self._last is None or self._last[0] != position:
            self._last = (position, self._draw(self._size, self._generator))
        return self._last[1]


def task_data(config: LongRangeConfig) -> TaskData:
    """The sampler, test batch, metric and trivial baseline of ``config.task``."""
    if config.task == "digits":
        return _digits_data(config)

    def draw(size: int, stream: torch.Generator) -> Any:
        if config.task == "adding":
            return adding_problem(size, config.length, stream)
        return copy_task(size, config.length, config.copy_length, config.num_symbols, stream)

    test_batch = draw(config.test_size, torch.Generator().manual_seed(config.seed + 1))
    if config.task == "adding":
        return TaskData(draw, test_batch, "test_mse", ADDING_BASELINE_MSE)
    return TaskData(draw, test_batch, "test_accuracy", 1 / config.num_symbols)


def _digits_data(config: LongRangeConfig) -> TaskData:
    train, test = split_digits(load_digits(), seed=DIGITS_SPLIT_SEED)
    order = pixel_order(config.pixel_order, seed=DIGITS_SPLIT_SEED)

    def draw(size: int, stream: torch.Generator) -> Any:
        return pixel_sequences(train, order, torch.randint(len(train), (size,),
                                                           generator=stream))

    majority = torch.bincount(test.labels, minlength=NUM_CLASSES).max() / len(test)
    return TaskData(draw, pixel_sequences(test, order), "test_accuracy", float(majority))


def build_task_model(config: LongRangeConfig) -> nn.Module:
    """A fresh model for ``config.task``: many-to-one for adding and digits, many-to-many for
    copy."""
    if config.task == "adding":
        return LastStepRegressor(config.cell, 2, config.hidden_size,
                                 num_layers=config.num_layers, forget_bias=config.forget_bias)
    if config.task == "digits":
        return LastStepRegressor(config.cell, 1, config.hidden_size, NUM_CLASSES,
                                 num_layers=config.num_layers, forget_bias=config.forget_bias)
    return StepClassifier(config.cell, config.num_symbols + 2, config.hidden_size,
                          num_layers=config.num_layers, forget_bias=config.forget_bias)


def task_loss(config: LongRangeConfig, output: Tensor, batch: Any) -> Tensor:
    """MSE for adding; cross-entropy over every step for copy and over the class for digits."""
    if config.task == "adding":
        return F.mse_loss(output, batch.targets)
    return F.cross_entropy(output.flatten(0, -2), batch.targets.flatten())


@torch.no_grad()
def evaluate(config: LongRangeConfig, model: nn.Module, batch: Any) -> float:
    """Test MSE (adding), accuracy on the recalled symbols (copy) or on the digits."""
    output = _output_in_eval_mode(model, batch.inputs)
    if config.task == "adding":
        return float(F.mse_loss(output, batch.targets))
    hits = output.argmax(-1) == batch.targets
    if config.task == "copy":
        hits = hits[batch.recall]
    return float(hits.double().mean())


@torch.no_grad()
def recall_accuracy_by_position(model: nn.Module, batch: Any) -> list[float]:
    """The copy task's accuracy at each recalled position: entry ``k`` is the share of
    sequences whose ``k``-th symbol the model wrote back right. Their mean is
    :func:`evaluate`'s accuracy, since every sequence recalls the same number of symbols.

    Shapes:
        batch.inputs, batch.targets, batch.recall: (batch, time)
        returns: copy_length floats
    """
    output = _output_in_eval_mode(model, batch.inputs)  # (batch, time, symbols)
    hits = output.argmax(-1) == batch.targets
    recalled = hits[batch.recall].view(batch.targets.shape[0], -1)  # (batch, copy_length)
    return recalled.double().mean(0).tolist()


def _output_in_eval_mode(model: nn.Module, inputs: Tensor) -> Tensor:
    """``model(inputs)`` with dropout off, the model left in training mode after."""
    model.eval()
    output = model(inputs)
    model.train()
    return output


def long_range_task(config: LongRangeConfig, data: TaskData, model: nn.Module) -> ExampleTask:
    """``config.task`` as a task of the one loop: one epoch of ``max_steps`` batches drawn
    from a stream seeded with ``config.seed`` (saved with every checkpoint), scored on the
    test batch."""
    stream = torch.Generator().manual_seed(config.seed)
    batches = StreamBatches(data.draw, config.batch_size, stream, config.max_steps)
    test_batch = data.test_batch

    def validate(trained: nn.Module) -> dict[str, float]:
        return {data.metric: evaluate(config, trained, test_batch.to(first_device(trained)))}

    return ExampleTask(
        batches=lambda epoch: batches,
        loss_of=lambda trained, batch: task_loss(config, trained(batch.inputs), batch),
        validate=validate, error_of=lambda figures: config.error(figures[data.metric]),
        figure_names=(data.metric,), generator=stream,
        saved_config={"long_range": _saved_settings(config),
                      "model": {"cell": config.cell, "hidden_size": config.hidden_size,
                                "num_layers": config.num_layers,
                                "forget_bias": config.forget_bias,
                                "parameters": sum(p.numel() for p in model.parameters())}},
        saved_tables={})


def _saved_settings(config: LongRangeConfig) -> dict[str, Any]:
    return {key: value for key, value in asdict(config).items()
            if key not in ("cell", "hidden_size", "num_layers", "forget_bias")}
