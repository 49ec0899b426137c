"""``max_steps = "auto"``: the steps a run's ``max_time`` holds, timed before the first step."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from rnnkit.models.language_model import ModelConfig
from rnnkit.tasks.language_model.training import prepare_run, train
from rnnkit.training import auto_precision, step_horizon
from rnnkit.training.auto_precision import PrecisionChoice
from rnnkit.training.checkpoint import load_checkpoint, load_checkpoint_config
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig
from rnnkit.training.step_horizon import measure_step_seconds, plan_step_horizon, steps_in
from rnnkit.training.task import StepLoss

BATCH, SEQ = 4, 16   # 64 characters a step: 1,800 steps read 6.4 passes


def horizon_config(quote_text: Path, out_dir: Path, **train_settings) -> RunConfig:
    settings = dict(batch_size=BATCH, seq_len=SEQ, eval_every=10_000, sample_length=0,
                    seed=5, out_dir=str(out_dir), progress=False, tensorboard=False,
                    schedule="cosine", max_steps="auto", max_time=0.01)
    return RunConfig(data=DataConfig(dataset=None, text_file=str(quote_text)),
                     model=ModelConfig(embedding_size=8, hidden_size=16, num_layers=2,
                                       dropout="auto"),
                     train=TrainConfig(**{**settings, **train_settings}))


class SlowTask:
    """A least-squares task whose every loss takes at least ``seconds``."""

    divergence_bound = math.inf

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.batch = (torch.randn(8, 3), torch.randn(8, 1))
        self.losses: list[float] = []  # every loss asked for, in order

    def batches(self, epoch: int) -> list:
        return [self.batch]

    def loss(self, model: nn.Module, batch: tuple, state: object) -> StepLoss:
        time.sleep(self.seconds)
        inputs, targets = batch
        loss = ((model(inputs) - targets) ** 2).mean()
        self.losses.append(float(loss.detach()))
        return StepLoss(loss, len(inputs), None)


def test_the_plan_is_the_whole_steps_that_fit_in_max_time() -> None:
    assert steps_in(10.0, 0.09375) == 6400
    assert steps_in(10.0, 0.0937) == 6403      # rounded down, never past the clock
    assert steps_in(0.5, 0.01) == 3000
    assert steps_in(0.001, 5.0) == 1           # a step longer than the budget: one step


def test_the_probe_times_the_tasks_steps_and_plans_the_minutes_by_them() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    settings = TrainConfig(max_steps="auto", max_time=0.01)  # 0.6 seconds
    task = SlowTask(0.02)
    horizon = plan_step_horizon(model, task, settings, torch.device("cpu"))
    # whole steps: the optimizer moved the weights from each one to the next
    assert len(task.losses) == 6 and len(set(task.losses)) == 6
    assert horizon.step_seconds >= 0.02
    assert horizon.steps == steps_in(0.01, horizon.step_seconds) <= 30
    assert horizon.precision == "fp32"
    assert f"plans {horizon.steps:,} steps in 0.01 minutes" in horizon.describe()


def test_the_probe_gives_back_the_weights_and_the_generators() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(3, 1))  # the probe draws masks
    task = SlowTask(0.0)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    generator = torch.get_rng_state()
    settings = TrainConfig(max_steps="auto", max_time=1.0, lr=0.5)
    measure_step_seconds(model, task, settings, torch.device("cpu"), "fp32")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    assert all(parameter.grad is None for parameter in model.parameters())
    assert torch.equal(torch.get_rng_state(), generator)


def test_an_auto_run_is_the_run_with_its_number(quote_text: Path, tmp_path: Path) -> None:
    auto = prepare_run(horizon_config(quote_text, tmp_path / "auto"))
    auto_generator = torch.get_rng_state()
    steps = auto.settings.max_steps
    assert isinstance(steps, int) and steps >= 1
    assert auto.schedule.total_steps == steps  # the cosine ends there
    fixed = prepare_run(horizon_config(quote_text, tmp_path / "fixed", max_steps=steps))
    assert fixed.model.config.dropout == auto.model.config.dropout
    for name, tensor in fixed.model.state_dict().items():
        assert torch.equal(tensor, auto.model.state_dict()[name]), name
    assert torch.equal(torch.get_rng_state(), auto_generator)  # the probe drew nothing


@pytest.mark.parametrize(("step_seconds", "steps", "dropout"), [
    (0.004, 150, 0.0),     # 150 steps read 0.53 passes over 18,000 characters
    (0.0003, 2000, 0.2),   # 2,000 read 7.1
    (0.0001, 6000, 0.3)])  # 6,000 read 21
def test_dropout_auto_reads_the_planned_steps(
        quote_text: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        step_seconds: float, steps: int, dropout: float) -> None:
    # the host's speed, made up: 0.01 minutes of step_seconds steps
    monkeypatch.setattr(step_horizon, "measure_step_seconds", lambda *_: step_seconds)
    run = prepare_run(horizon_config(quote_text, tmp_path / "run"))
    assert run.settings.max_steps == steps
    assert run.model.config.dropout == dropout
    assert run.model.rnn.dropout == dropout


@pytest.mark.parametrize(("free", "masked", "probes", "steps", "dropout"), [
    (0.004, 0.006, [0.0], 150, 0.0),          # 150 steps read 0.53 passes: no masks to time
    (0.0002, 0.0003, [0.0, 0.3], 2000, 0.2),  # 3,000 read 10.7 passes; masked, 2,000 read 7.1
    (0.001, 0.0012, [0.0, 0.1], 500, 0.0)])   # 600 read 2.1; masked, 500 read 1.8: the edge
def test_the_steps_are_timed_with_the_dropout_the_run_trains_with(
        quote_text: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, free: float,
        masked: float, probes: list[float], steps: int, dropout: float) -> None:
    # Dropout's masks cost time (a 4x128 minLSTM step a third more): a probe that timed
    # them for a run that then trained without them left its last fifth of the minutes
    # unused. Made-up step times, without and with masks.
    timed = []

    def step_seconds(model: nn.Module, *_: object) -> float:
        timed.append(model.config.dropout)
        return masked if model.config.dropout else free

    monkeypatch.setattr(step_horizon, "measure_step_seconds", step_seconds)
    run = prepare_run(horizon_config(quote_text, tmp_path / "run"))
    assert timed == probes
    assert (run.settings.max_steps, run.model.config.dropout) == (steps, dropout)


def test_a_planned_run_chooses_its_precision_once_and_trains_in_it(
        quote_text: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # A close race: measured again, precision auto would choose otherwise, and the run
    # would train in a precision its steps were not timed in.
    answers, timed = iter(["bf16", "fp32", "fp32"]), []

    def choose(*_: object, **__: object) -> PrecisionChoice:
        return PrecisionChoice(next(answers), {"fp32": 0.0021, "bf16": 0.0020},
                               {"fp32": 4.0, "bf16": 4.0})

    def step_seconds(model: nn.Module, task: object, settings: object, device: object,
                     precision: str, *_: object) -> float:
        timed.append((model.config.dropout, precision))
        return 0.0003 if model.config.dropout else 0.0002  # 3,000 steps call for dropout

    monkeypatch.setattr(auto_precision, "choose_precision", choose)
    monkeypatch.setattr(step_horizon, "measure_step_seconds", step_seconds)
    caplog.set_level("INFO")
    out_dir = tmp_path / "run"
    run = prepare_run(horizon_config(quote_text, out_dir, precision="auto"))
    assert timed == [(0.0, "bf16"), (0.3, "bf16")]  # both timings in the one choice
    assert run.precision.precision == run.settings.precision == "bf16"
    assert sum("precision auto:" in message for message in caplog.messages) == 1
    assert next(answers) == "fp32"  # asked once

    monkeypatch.setattr(step_horizon, "measure_step_seconds", lambda *_: 0.05)
    answers = iter(["bf16", "fp32", "fp32"])
    train(horizon_config(quote_text, out_dir, precision="auto", overwrite=True))
    assert load_checkpoint_config(out_dir)["train"]["precision"] == "bf16"
    resumed = prepare_run(horizon_config(quote_text, out_dir, precision="auto", resume=True))
    assert resumed.precision.precision == "bf16"  # kept, not measured again
    assert next(answers) == "fp32"


def test_the_number_is_saved_and_a_resume_keeps_it(quote_text: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(step_horizon, "measure_step_seconds", lambda *_: 0.05)
    out_dir = tmp_path / "run"
    result = train(horizon_config(quote_text, out_dir, max_time=0.01))  # 12 steps planned
    assert load_checkpoint_config(out_dir)["train"]["max_steps"] == 12
    assert result.steps == 12 and result.stop_reason == "reached max_steps=12"
    probes = []
    monkeypatch.setattr(step_horizon, "measure_step_seconds",
                        lambda *_: probes.append(1) or 0.0001)  # a host 500x as fast
    resumed = prepare_run(replace(config := horizon_config(quote_text, out_dir),
                                  train=replace(config.train, resume=True)))
    assert resumed.settings.max_steps == 12 and resumed.progress.step == 12
    assert probes == []


def test_the_flag_takes_auto_and_a_run_logs_its_plan(quote_text: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "rnnkit", "train", "--text-file", str(quote_text),
               "--out-dir", str(tmp_path / "run"), "--hidden-size", "16", "--embedding-size",
               "8", "--batch-size", str(BATCH), "--seq-len", str(SEQ), "--sample-length",
               "0", "--no-progress", "--threads", "1", "--max-steps"]
    bad_word = subprocess.run([*command, "soon"], capture_output=True, text=True)
    assert bad_word.stderr.strip().splitlines()[-1] == (
        'rnnkit train: error: --max-steps must be an int >= 1 or "auto" or none, got "soon"')
    no_clock = subprocess.run([*command, "auto"], capture_output=True, text=True)
    assert no_clock.returncode == 1
    assert no_clock.stderr.strip().splitlines()[-1].endswith(
        "max_steps = 'auto' plans the steps that max_time minutes hold on this machine, so "
        "it needs max_time; got max_time None (give max_time, or a number for max_steps)")
    done = subprocess.run([*command, "auto", "--max-time", "0.002"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    planned = [line for line in done.stderr.splitlines() if "max_steps auto:" in line]
    assert len(planned) == 2 and "(fp32, median of 5) plans" in planned[0]
    steps = int(planned[0].split(" plans ", 1)[1].split()[0].replace(",", ""))
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["steps"] <= steps
    assert load_checkpoint_config(tmp_path / "run")["train"]["max_steps"] == steps
    assert f"of the {steps:,} steps planned" in planned[1]
    assert f"repeat this run with --max-steps {summary['steps']} " in planned[1]


def test_the_last_line_repeats_a_run_the_clock_stopped(
        quote_text: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from rnnkit.cli.main import main

    # A probe that claims 0.1 ms a step: 0.004 minutes plan 2,400 steps (7.5 passes, so
    # dropout 0.2), of which the clock lets the real steps take only some.
    monkeypatch.setattr(step_horizon, "measure_step_seconds", lambda *_: 0.0001)
    command = ["train", "--text-file", str(quote_text), "--hidden-size", "16",
               "--embedding-size", "8", "--batch-size", str(BATCH), "--seq-len", str(SEQ),
               "--schedule", "cosine", "--eval-every", "10000", "--sample-length", "0",
               "--seed", "5", "--no-progress", "--dropout", "auto", "--max-steps", "auto",
               "--max-time", "0.004", "--precision", "auto"]
    caplog.set_level("INFO")
    assert main([*command, "--out-dir", str(tmp_path / "clock")]) == 0
    (line,) = [record.getMessage() for record in caplog.records
               if "repeat this run with" in record.getMessage()]
    trained = load_checkpoint(tmp_path / "clock")
    assert trained.config["train"]["max_steps"] == 2400
    assert trained.config["model"]["dropout"] == 0.2
    steps = trained.trainer_state["progress"]["step"]
    assert 0 < steps < 2400, "the clock must stop the run before its plan"
    flags = line.split("repeat this run with ", 1)[1].split()
    chosen = trained.config["train"]["precision"]  # what the plan chose and the run trained in
    assert flags == ["--max-steps", str(steps), "--decay-steps", "2400", "--max-time", "none",
                     "--precision", chosen, "--dropout", "0.2"]
    caplog.clear()
    monkeypatch.undo()  # the repeat times nothing: it is bounded by its steps
    assert main([*command, *flags, "--out-dir", str(tmp_path / "repeat")]) == 0
    repeated = load_checkpoint(tmp_path / "repeat")
    assert repeated.trainer_state["progress"]["step"] == steps
    for name, tensor in trained.model_state.items():
        assert torch.equal(repeated.model_state[name], tensor), name


def test_a_run_handed_auto_unplanned_is_refused_by_name() -> None:
    from rnnkit.training.prepare import prepare_run as prepare_fit

    model = nn.Linear(3, 1)
    with pytest.raises(ValueError, match="max_steps = 'auto' is planned before the model is "
                                         "built"):
        prepare_fit(model, SlowTask(0.0), TrainConfig(max_steps="auto", max_time=1.0))
