"""The trainer flushes denormal floats in every CPU thread while a run trains, records it,
and leaves the threads as it found them; ``flush_denormals = false`` keeps them."""

from __future__ import annotations

import math
import platform
from pathlib import Path

import pytest
import torch
from test_trainer import tiny_config
from torch import nn

from rnnkit.cli import main
from rnnkit.engine.denormals import FLUSHED_EVERY_THREAD, KEPT, denormal_handling
from rnnkit.engine.native import OPENMP_FLAGS, native_unavailable_reason
from rnnkit.tasks.language_model.training import train
from rnnkit.tasks.long_range.config import LongRangeConfig
from rnnkit.tasks.long_range.training import train_long_range
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import TrainConfig
from rnnkit.training.example_training import ExampleTrainingConfig
from rnnkit.training.step_horizon import plan_step_horizon
from rnnkit.training.task import StepLoss, figures_line
from rnnkit.training.trainer import TrainingDivergedError, fit

pytestmark = [
    pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                       reason="MXCSR flushing is x86's"),
    pytest.mark.skipif(native_unavailable_reason(torch.device("cpu")) is not None,
                       reason="every thread is reached through the C++ extension: "
                              f"{native_unavailable_reason(torch.device('cpu'))}"),
    pytest.mark.skipif(not OPENMP_FLAGS, reason="the kernels are built without OpenMP"),
    pytest.mark.usefixtures("two_threads"),
]


class HandlingSpyTask:
    """Least squares on one batch, noting how denormals were treated at every loss and
    validation; from ``diverge_at`` on, the loss is infinite (the run stops)."""

    figure_names = ("loss",)
    divergence_bound = math.inf
    validates_at_end = False
    forward_only = True

    def __init__(self, diverge_at: int | None = None) -> None:
        generator = torch.Generator().manual_seed(0)
        self.batch = (torch.randn(8, 3, generator=generator),
                      torch.randn(8, 1, generator=generator))
        self.diverge_at = diverge_at
        self.seen: list[str] = []

    def bind(self, distributed: object) -> None:
        pass

    def batches(self, epoch: int) -> list:
        return [self.batch]

    def loss(self, model: nn.Module, batch: tuple, state: object) -> StepLoss:
        self.seen.append(denormal_handling())
        inputs, targets = batch
        loss = ((model(inputs) - targets) ** 2).mean()
        if self.diverge_at is not None and len(self.seen) >= self.diverge_at:
            loss = loss * math.inf
        return StepLoss(loss, len(inputs))

    @torch.no_grad()
    def validate(self, model: nn.Module, *, final: bool) -> dict[str, float]:
        self.seen.append(denormal_handling())
        inputs, targets = self.batch
        return {"loss": float(((model(inputs) - targets) ** 2).mean())}

    def error(self, figures: dict[str, float]) -> float:
        return figures["loss"]

    def describe(self, figures: dict[str, float], *, final: bool) -> str:
        return figures_line(figures)

    def closing_report(self, model: nn.Module) -> str:
        return ""

    def saved_config(self) -> dict:
        return {}

    def saved_tables(self) -> dict:
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def settings(out_dir: Path, **values: object) -> TrainConfig:
    return TrainConfig(**{"max_steps": 4, "eval_every": 2, "out_dir": str(out_dir),
                          "progress": False, "tensorboard": False, **values})


def test_every_step_and_validation_runs_flushed_and_the_run_records_it(tmp_path: Path) -> None:
    task = HandlingSpyTask()
    result = fit(nn.Linear(3, 1), task, settings(tmp_path / "run"))
    assert task.seen == [FLUSHED_EVERY_THREAD] * 6  # 4 steps, 2 validations
    assert result.environment["denormals"] == FLUSHED_EVERY_THREAD
    saved = load_checkpoint(tmp_path / "run").trainer_state["environment"]
    assert saved["denormals"] == FLUSHED_EVERY_THREAD
    assert denormal_handling() == KEPT  # given back after the run


def test_flush_denormals_false_keeps_them_and_says_so(tmp_path: Path) -> None:
    task = HandlingSpyTask()
    result = fit(nn.Linear(3, 1), task, settings(tmp_path / "run", flush_denormals=False))
    assert task.seen == [KEPT] * 6
    assert result.environment["denormals"] == KEPT


def test_a_run_that_diverges_gives_the_threads_back(tmp_path: Path) -> None:
    task = HandlingSpyTask(diverge_at=3)
    with pytest.raises(TrainingDivergedError):
        fit(nn.Linear(3, 1), task, settings(tmp_path / "run"))
    assert task.seen[-1] == FLUSHED_EVERY_THREAD
    assert denormal_handling() == KEPT


def test_the_language_model_records_it_and_the_flag_turns_it_off(text_file: Path,
                                                                  tmp_path: Path) -> None:
    result = train(tiny_config(text_file, tmp_path / "flushed", max_steps=2))
    assert result.environment["denormals"] == FLUSHED_EVERY_THREAD
    assert main(["train", "--text-file", str(text_file), "--dataset", "none",
                 "--hidden-size", "8", "--embedding-size", "4", "--max-steps", "2",
                 "--out-dir", str(tmp_path / "kept"), "--no-progress", "--no-tensorboard",
                 "--sample-length", "0", "--no-flush-denormals"]) == 0
    environment = load_checkpoint(tmp_path / "kept").trainer_state["environment"]
    assert environment["denormals"] == KEPT


@pytest.mark.parametrize("flush", [True, False])
def test_max_steps_auto_times_the_steps_as_the_run_will_take_them(flush: bool) -> None:
    task = HandlingSpyTask()
    plan_step_horizon(nn.Linear(3, 1), task,
                      settings(Path("unused"), max_steps="auto", max_time=0.01,
                               flush_denormals=flush), torch.device("cpu"))
    assert task.seen and set(task.seen) == {FLUSHED_EVERY_THREAD if flush else KEPT}
    assert denormal_handling() == KEPT


@pytest.mark.parametrize("flush", [True, False])
def test_a_long_range_run_passes_the_setting_to_the_loop(tmp_path: Path, flush: bool) -> None:
    config = LongRangeConfig(task="adding", cell="rnn_tanh", length=5, hidden_size=4,
                             max_steps=2, eval_every=2, test_size=4, batch_size=4,
                             out_dir=str(tmp_path / "run"), progress=False,
                             flush_denormals=flush)
    train_long_range(config)
    environment = load_checkpoint(tmp_path / "run").trainer_state["environment"]
    assert environment["denormals"] == (FLUSHED_EVERY_THREAD if flush else KEPT)


def test_the_example_tasks_pass_the_setting_to_the_loop() -> None:
    assert ExampleTrainingConfig().train_settings().flush_denormals is True
    assert ExampleTrainingConfig(flush_denormals=False).train_settings().flush_denormals is False
