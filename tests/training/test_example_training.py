"""Example tasks on the one loop: weight averaging against a moving average computed by
hand, and the step bound across epochs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnnkit.training.example_training import ExampleTask, ExampleTrainingConfig, train_on_examples


class _Batch:
    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        self.inputs, self.targets = inputs, targets

    def to(self, device: torch.device) -> _Batch:
        return self

    def __len__(self) -> int:
        return len(self.inputs)


def _batches(epoch: int) -> list[_Batch]:
    generator = torch.Generator().manual_seed(epoch)
    return [_Batch(torch.randn(4, 3, generator=generator), torch.randn(4, 2, generator=generator))
            for _ in range(5)]


def _task(loss_of, validate) -> ExampleTask:
    return ExampleTask(batches=_batches, loss_of=loss_of, validate=validate,
                       error_of=lambda f: f["error"], figure_names=("error",),
                       saved_config={"probe": {}}, saved_tables={})


def _train(decay: float, tmp_path) -> tuple[nn.Module, list[list[torch.Tensor]],
                                             list[list[torch.Tensor]], list[dict]]:
    """Train a linear layer 2 epochs of 5 steps; return it, its weights before every step,
    the weights that were validated each epoch and the history."""
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    seen: list[list[torch.Tensor]] = []
    validated: list[list[torch.Tensor]] = []

    def loss_of(module: nn.Module, batch: _Batch) -> torch.Tensor:
        seen.append([p.detach().clone() for p in module.parameters()])  # before this step
        return nn.functional.mse_loss(module(batch.inputs), batch.targets)

    def validate(module: nn.Module) -> dict[str, float]:
        validated.append([p.detach().clone() for p in module.parameters()])
        return {"error": float(len(validated))}

    config = ExampleTrainingConfig(lr=0.1, max_epochs=2, average_decay=decay, progress=False,
                                   clip_norm=1e9, out_dir=str(tmp_path))
    trained = train_on_examples(model, config, _task(loss_of, validate))
    return model, seen, validated, trained.history


def _moving_average(steps: list[list[torch.Tensor]], decay: float) -> list[torch.Tensor]:
    average = [p.clone() for p in steps[0]]
    for weights in steps[1:]:
        average = [decay * a + (1 - decay) * w for a, w in zip(average, weights, strict=True)]
    return average


def test_the_averaged_weights_are_validated_and_left_in_the_model(tmp_path) -> None:
    decay = 0.7
    model, _, validated, history = _train(decay, tmp_path)
    final = [p.detach().clone() for p in model.parameters()]
    # The model now holds the average; the last step's own weights are those the plain
    # run ends with (averaging never changes the steps taken).
    plain_model, plain_seen, _, _ = _train(0.0, tmp_path)
    plain_steps = [*plain_seen[1:], [p.detach().clone() for p in plain_model.parameters()]]
    assert len(plain_steps) == 10 and len(history) == 2
    # The average starts from the weights after the first step (AveragedModel copies them).
    first_epoch = _moving_average(plain_steps[:5], decay)
    whole = _moving_average(plain_steps, decay)
    for got, want in zip(validated[0], first_epoch, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    for got, want in zip(validated[1], whole, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    for got, want in zip(final, whole, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    assert not torch.allclose(whole[0], plain_steps[-1][0])


def test_a_decay_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"average_decay must be a finite number in \[0, 1\)"):
        ExampleTrainingConfig(average_decay=1.0)


@pytest.mark.parametrize(("max_steps", "steps", "validated_epochs"), [
    (3, 3, [1]),       # inside the first epoch: validates there and stops
    (5, 5, [1]),       # at the end of the first epoch
    (7, 7, [1, 2]),    # inside the second
    (None, 15, [1, 2, 3]),
])
def test_max_steps_bounds_the_optimizer_steps_across_epochs(
        max_steps: int | None, steps: int, validated_epochs: list[int], tmp_path) -> None:
    model = nn.Linear(3, 2)
    taken = []

    def loss_of(module: nn.Module, batch: _Batch) -> torch.Tensor:
        taken.append(1)
        return nn.functional.mse_loss(module(batch.inputs), batch.targets)

    config = ExampleTrainingConfig(max_epochs=3, max_steps=max_steps, progress=False,
                                   out_dir=str(tmp_path))
    trained = train_on_examples(model, config,
                                _task(loss_of, lambda module: {"error": 1.0}))
    assert len(taken) == steps
    assert [row["epoch"] for row in trained.history] == validated_epochs


def test_max_steps_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        ExampleTrainingConfig(max_steps=0)


def test_a_validation_that_draws_does_not_shift_a_resumed_run(tmp_path) -> None:
    """The stop half-way validates off the schedule; what that validation draws from the
    generators must not move the steps after a resume (the loss here draws too)."""

    def loss_of(module: nn.Module, batch: _Batch) -> torch.Tensor:
        noise = torch.rand(batch.targets.shape)  # a draw in every step, like dropout
        return nn.functional.mse_loss(module(batch.inputs), batch.targets + noise)

    def validate(module: nn.Module) -> dict[str, float]:
        return {"error": float(torch.rand(()))}  # a validation that samples

    def run(out_dir, max_steps: int, resume: bool = False) -> torch.Tensor:
        torch.manual_seed(0)
        model = nn.Linear(3, 2)
        config = ExampleTrainingConfig(max_epochs=3, max_steps=max_steps, progress=False,
                                       out_dir=str(out_dir), resume=resume, device="cpu")
        train_on_examples(model, config, _task(loss_of, validate))
        return model.weight.detach().clone()

    straight = run(tmp_path / "straight", 8)
    run(tmp_path / "resumed", 3)
    assert torch.equal(run(tmp_path / "resumed", 8, resume=True), straight)
