"""``precision = "auto"``: the probe's choice, made to go each way with real autocast.

The models here are slow (a sleep) in one precision, or lose accuracy under bf16 by
construction, so that each reason for a choice really happens; the trainer tests then show
that the probe leaves the run as it would have been and that a resumed run keeps its
choice.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import torch
from test_trainer import tiny_config
from torch import nn

from rnnkit.tasks.language_model.training import train
from rnnkit.training.auto_precision import MIN_SPEEDUP, choose_precision
from rnnkit.training.checkpoint import load_checkpoint

CPU = torch.device("cpu")
PAUSE = 0.03  # seconds: far above the timing noise of a tiny model's step


class Sleepy(nn.Module):
    """A small network with dropout that pauses in one precision: under autocast
    (``slow_under_autocast``) or outside it."""

    def __init__(self, slow_under_autocast: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layers = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Dropout(0.5),
                                    nn.Linear(32, 4))
        self.slow_under_autocast = slow_under_autocast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_autocast_enabled("cpu") == self.slow_under_autocast:
            time.sleep(PAUSE)
        return self.layers(x)


def cross_entropy_of(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor):
    return lambda: nn.functional.cross_entropy(model(inputs).float(), targets)


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(64, 16, generator=generator), torch.randint(0, 4, (64,),
                                                                   generator=generator)


def test_bf16_is_chosen_when_it_is_faster_and_agrees() -> None:
    model = Sleepy(slow_under_autocast=False)
    choice = choose_precision(cross_entropy_of(model, *batch()), model, CPU, tried=["bf16"])
    assert choice.chosen == "bf16" and not choice.passed_over
    assert choice.step_seconds["fp32"] > PAUSE > choice.step_seconds["bf16"]
    # the same dropout masks for both, so the losses differ by bf16's rounding only (other
    # masks move this loss by about 1 %)
    assert choice.losses["bf16"] == pytest.approx(choice.losses["fp32"], rel=2e-3)
    assert all(parameter.grad is None for parameter in model.parameters())


def test_fp32_is_kept_when_bf16_is_slower() -> None:
    model = Sleepy(slow_under_autocast=True)
    choice = choose_precision(cross_entropy_of(model, *batch()), model, CPU, tried=["bf16"])
    assert choice.chosen == "fp32"
    assert f"below {MIN_SPEEDUP}x" in choice.passed_over["bf16"]
    assert choice.step_seconds["bf16"] > PAUSE > choice.step_seconds["fp32"]
    assert "chose fp32; bf16 not chosen:" in choice.describe()


class Rounded(nn.Module):
    """Two logits 0.75 apart on a base of 300, where bf16 keeps steps of 2: under bf16 they
    tie and the loss moves far beyond the tolerance. Slow in fp32, so speed alone would
    pick bf16."""

    def __init__(self) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.tensor([300.0, 299.25]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_autocast_enabled("cpu"):
            time.sleep(PAUSE)
        ones = torch.ones(x.shape[0], 1)
        return nn.functional.linear(ones, torch.zeros(2, 1), self.logits)  # (batch, 2)


def test_fp32_is_kept_when_the_bf16_loss_disagrees() -> None:
    model = Rounded()
    inputs, _ = batch()
    targets = torch.zeros(64, dtype=torch.long)
    choice = choose_precision(cross_entropy_of(model, inputs, targets), model, CPU,
                              tried=["bf16"])
    assert choice.chosen == "fp32"
    assert "differs from fp32's" in choice.passed_over["bf16"]
    assert choice.step_seconds["fp32"] > PAUSE > choice.step_seconds["bf16"]
    assert choice.losses["bf16"] == pytest.approx(0.6931, abs=1e-3)  # a tie: ln 2


def test_the_probe_gives_the_generators_back() -> None:
    model = Sleepy(slow_under_autocast=False)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    choose_precision(cross_entropy_of(model, *batch()), model, CPU, tried=["bf16"], steps=1)
    assert torch.equal(torch.rand(3), expected)


def test_an_auto_run_trains_as_a_run_of_its_choice_and_keeps_it_on_resume(
        text_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    train(tiny_config(text_file, tmp_path / "auto", max_steps=4, precision="auto"))
    probe_lines = [line for line in caplog.messages if line.startswith("precision auto:")]
    assert len(probe_lines) == 1 and "ms/step" in probe_lines[0]
    auto = load_checkpoint(tmp_path / "auto").trainer_state["precision"]["auto"]
    assert set(auto["step_seconds"]) >= {"fp32"} and auto["chosen"] in auto["step_seconds"]
    train(tiny_config(text_file, tmp_path / "fixed", max_steps=4, precision=auto["chosen"]))
    auto_weights = load_checkpoint(tmp_path / "auto").model_state
    fixed_weights = load_checkpoint(tmp_path / "fixed").model_state
    assert all(torch.equal(auto_weights[name], fixed_weights[name]) for name in fixed_weights)

    caplog.clear()
    train(tiny_config(text_file, tmp_path / "auto", max_steps=6, precision="auto",
                      resume=True))
    assert not any(line.startswith("precision auto:") for line in caplog.messages)
    assert f"precision: {auto['chosen']}, as precision auto chose when the run started" in (
        caplog.messages)
    assert load_checkpoint(tmp_path / "auto").trainer_state["precision"]["auto"] == auto
