"""Long-range training on the one loop: it learns a short adding problem and made-up
sequential digits, scores copy on recalled steps only, clips by value and by norm and records
the norms before and after, stops at a target, keeps a run folder it can resume, saves its
results, and names bad settings."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.cli import main
from rnnkit.data.digits import DigitImages
from rnnkit.data.long_range import copy_task
from rnnkit.tasks.long_range import task as long_range_task
from rnnkit.tasks.long_range.config import LongRangeConfig
from rnnkit.tasks.long_range.result import save_long_range_result
from rnnkit.tasks.long_range.task import (
    build_task_model,
    evaluate,
    recall_accuracy_by_position,
)
from rnnkit.tasks.long_range.training import (
    train_long_range,
    train_or_load,
    train_or_load_each,
)
from rnnkit.training.checkpoint import load_checkpoint


def test_a_short_adding_problem_is_learned_far_below_the_baseline() -> None:
    config = LongRangeConfig(task="adding", cell="lstm", length=8, hidden_size=16, max_steps=400,
                             batch_size=32, lr=1e-2, test_size=256, eval_every=100,
                             progress=False)
    result = train_long_range(config)
    assert result.metric == "test_mse"
    assert result.value < 0.1 * result.baseline


class Oracle(torch.nn.Module):
    """Answers ``answer`` (one-hot over ``classes``) whatever it reads."""

    def __init__(self, answer: torch.Tensor, classes: int) -> None:
        super().__init__()
        self.answer, self.classes = answer, classes

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(self.answer, self.classes).float()


def test_copy_accuracy_counts_only_the_recalled_steps() -> None:
    config = LongRangeConfig(task="copy", cell="gru", length=4, copy_length=3, num_symbols=4,
                             progress=False)
    batch = copy_task(5, delay=4, copy_length=3, num_symbols=4,
                      generator=torch.Generator().manual_seed(0))
    assert evaluate(config, Oracle(batch.targets, 6), batch) == 1.0
    blanks_right = batch.targets.clone()
    blanks_right[batch.recall] = 0  # right on every blank, wrong on every recalled symbol
    assert evaluate(config, Oracle(blanks_right, 6), batch) == 0.0


def test_copy_accuracy_by_position_matches_numpy() -> None:
    batch = copy_task(64, delay=5, copy_length=4, num_symbols=6,
                      generator=torch.Generator().manual_seed(3))
    answer = batch.targets.clone()
    # Wrong on a different share of the rows at each recalled position (none at the first).
    wrong = torch.rand(answer.shape, generator=torch.Generator().manual_seed(4)) < (
        torch.arange(answer.shape[1]) - 9).clamp(min=0) / 8
    answer[wrong & batch.recall] = 0
    targets, answered = batch.targets.numpy(), answer.numpy()
    expected = (targets[:, -4:] == answered[:, -4:]).mean(axis=0)
    by_position = recall_accuracy_by_position(Oracle(answer, 8), batch)
    np.testing.assert_allclose(by_position, expected, rtol=0, atol=1e-15)
    assert by_position[0] == 1.0 and len(set(by_position)) == 4
    config = LongRangeConfig(task="copy", cell="gru", length=5, copy_length=4, num_symbols=6,
                             progress=False)
    assert evaluate(config, Oracle(answer, 8), batch) == pytest.approx(np.mean(expected))


def test_gradient_norms_are_recorded_before_and_after_clipping(tmp_path: Path) -> None:
    config = LongRangeConfig(task="adding", cell="rnn_tanh", length=6, hidden_size=8, max_steps=5,
                             clip_norm=1e-3, eval_every=5, test_size=16, progress=False)
    result = train_long_range(config)
    assert len(result.curve) == 5
    assert all(row["clipped_norm"] == pytest.approx(min(row["grad_norm"], 1e-3))
               for row in result.curve)
    assert any(row["grad_norm"] > 1e-3 for row in result.curve)
    paths = save_long_range_result(result, tmp_path / "run")
    saved = json.loads(paths[0].read_text())
    assert saved["config"]["cell"] == "rnn_tanh" and saved["value"] == result.value
    assert paths[1].read_bytes()[:4] == b"\x89PNG"


def test_same_seed_same_run() -> None:
    config = LongRangeConfig(task="copy", cell="irnn", length=3, hidden_size=8, max_steps=4,
                             eval_every=2, test_size=8, progress=False)
    assert train_long_range(config).curve == train_long_range(config).curve


@pytest.mark.parametrize(("settings", "message"), [
    ({"task": "adding", "cell": "lstm", "length": 1}, "length >= 2"),
    ({"task": "copy", "cell": "lstm", "length": 0}, r"length must be an int in \[1, "),
    ({"task": "adding", "cell": "elman"}, '"elman"'),
    ({"task": "sorting", "cell": "lstm"}, '"sorting"'),
    ({"task": "adding", "cell": "lstm", "clip_norm": 0.0}, "clip_norm"),
    ({"task": "adding", "cell": "lstm", "clip_value": -1.0}, "clip_value"),
    ({"task": "adding", "cell": "lstm", "clip_value": 1.0}, "clip_norm or clip_value, not both"),
    ({"task": "adding", "cell": "lstm", "resume": True}, "resume continues the run in out_dir"),
    ({"task": "digits", "cell": "gru", "length": 100}, "length is 64; got length 100"),
    ({"task": "copy", "cell": "gru", "target": 1.5}, r"target in \[0, 1\]"),
    ({"task": "adding", "cell": "gru", "target": -0.1}, r"target in \[0, inf\]"),
    ({"task": "digits", "cell": "gru", "pixel_order": "spiral"}, '"spiral"'),
])
def test_impossible_settings_are_named(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LongRangeConfig(**settings)


def flat_parameters(state: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([state[name].detach().flatten() for name in sorted(state)])


@pytest.mark.parametrize("clip", [{"clip_norm": 0.01}, {"clip_value": 1e-4, "clip_norm": None}])
def test_clipping_bounds_the_update_itself(clip: dict, tmp_path: Path) -> None:
    """With plain SGD at rate 1 the update is the clipped gradient: check what was applied."""
    config = LongRangeConfig(task="adding", cell="rnn_tanh", length=6, hidden_size=8,
                             optimizer="sgd", lr=1.0, test_size=8, max_steps=1, progress=False,
                             out_dir=str(tmp_path / "run"), **clip)
    torch.manual_seed(config.seed)  # the run starts from the weights this seed draws
    before = flat_parameters(build_task_model(config).state_dict())
    result = train_long_range(config)
    update = before - flat_parameters(load_checkpoint(tmp_path / "run").model_state)
    if config.clip_value is not None:
        assert float(update.abs().max()) == pytest.approx(1e-4, rel=1e-3)
    else:
        assert float(update.norm()) == pytest.approx(0.01, rel=1e-3)
    (row,) = result.curve
    assert row["clipped_norm"] == pytest.approx(float(update.norm()), rel=1e-3)
    assert row["grad_norm"] > 10 * row["clipped_norm"]


def test_training_stops_at_the_target() -> None:
    config = LongRangeConfig(task="adding", cell="gru", length=4, hidden_size=8, max_steps=50,
                             eval_every=5, test_size=16, target=10.0, progress=False)
    result = train_long_range(config)
    assert result.steps_run == 5 and len(result.curve) == 5
    assert result.to_dict()["steps_run"] == 5


def separable_digits(count: int) -> DigitImages:
    """Made-up 8x8 "digits": class k lights row 2k of the image."""
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(count) % 4
    images = torch.rand(count, 8, 8, generator=generator) * 0.1
    images[torch.arange(count), labels * 2] += 0.9
    return DigitImages(images, labels)


@pytest.mark.parametrize("order", ["rows", "permuted"])
def test_sequential_digits_are_learned(monkeypatch: pytest.MonkeyPatch, order: str) -> None:
    monkeypatch.setattr(long_range_task, "load_digits", lambda: separable_digits(120))
    config = LongRangeConfig(task="digits", cell="gru", hidden_size=16, max_steps=150,
                             batch_size=16, lr=1e-2, eval_every=50, pixel_order=order,
                             progress=False)
    assert config.length == 64
    result = train_long_range(config)
    assert result.metric == "test_accuracy"
    assert result.baseline == pytest.approx(0.25, abs=0.1)
    assert result.value > 0.9


def test_task_command_trains_and_saves(tmp_path: Path, capsys) -> None:
    command = ["task", "adding", "--cell", "gru", "--length", "4", "--hidden-size", "8",
               "--eval-every", "3", "--test-size", "8", "--clip-norm", "none", "--clip-value",
               "0.5", "--no-progress", "--out-dir", str(tmp_path / "run")]
    assert main([*command, "--max-steps", "4"]) == 0
    assert main([*command, "--max-steps", "6", "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "adding gru T=4: test_mse" in printed and "after 6 steps" in printed
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["config"]["clip_value"] == 0.5 and saved["steps_run"] == 6
    assert [row["step"] for row in saved["curve"]] == list(range(1, 7))  # both parts
    assert [row["step"] for row in saved["curve"] if "test_mse" in row] == [3, 4, 6]
    assert load_checkpoint(tmp_path / "run").trainer_state["progress"]["step"] == 6


def test_stacked_layers_are_trained_saved_and_resumed(tmp_path: Path) -> None:
    command = ["task", "copy", "--cell", "mingru", "--num-layers", "2", "--length", "3",
               "--hidden-size", "4", "--test-size", "8", "--no-progress",
               "--out-dir", str(tmp_path / "run")]
    assert main([*command, "--max-steps", "2"]) == 0
    first = load_checkpoint(tmp_path / "run")
    assert first.config["model"]["num_layers"] == 2
    upper = [name for name in first.model_state if "_l1" in name]
    assert upper and all(torch.isfinite(first.model_state[name]).all() for name in upper)
    assert main([*command, "--max-steps", "3", "--resume"]) == 0
    resumed = load_checkpoint(tmp_path / "run")
    assert resumed.trainer_state["progress"]["step"] == 3
    assert not all(torch.equal(first.model_state[name], resumed.model_state[name])
                   for name in upper)  # the second layer trains too


def test_copy_command_reports_accuracy_at_each_recalled_position(tmp_path: Path,
                                                                  capsys) -> None:
    assert main(["task", "copy", "--cell", "gru", "--length", "3", "--copy-length", "4",
                 "--hidden-size", "8", "--max-steps", "3", "--test-size", "50",
                 "--no-progress", "--out-dir", str(tmp_path / "run")]) == 0
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    by_position = saved["accuracy_by_position"]
    assert len(by_position) == 4
    assert np.mean(by_position) == pytest.approx(saved["value"], abs=1e-12)
    printed = capsys.readouterr().out
    assert ("accuracy at each recalled position: "
            + " ".join(f"{accuracy:.3f}" for accuracy in by_position)) in printed


def test_a_kept_run_folder_is_not_overwritten(tmp_path: Path, capsys) -> None:
    command = ["task", "copy", "--cell", "gru", "--length", "3", "--hidden-size", "4",
               "--max-steps", "2", "--test-size", "8", "--no-progress",
               "--out-dir", str(tmp_path / "run")]
    assert main(command) == 0
    saved = (tmp_path / "run" / "result.json").read_bytes()
    capsys.readouterr()
    assert main(command) == 1
    assert "already holds a run" in capsys.readouterr().err
    assert (tmp_path / "run" / "result.json").read_bytes() == saved


def test_digits_command(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(long_range_task, "load_digits", lambda: separable_digits(40))
    status = main(["task", "digits", "--cell", "rnn_tanh", "--pixel-order", "permuted",
                   "--hidden-size", "8", "--max-steps", "2", "--no-progress"])
    assert status == 0
    assert "digits rnn_tanh T=64: test_accuracy" in capsys.readouterr().out


def test_task_command_names_an_impossible_length(capsys) -> None:
    assert main(["task", "adding", "--cell", "lstm", "--length", "1", "--no-progress"]) == 1
    assert "length >= 2" in capsys.readouterr().err


def test_a_diverged_run_stops_and_saves_nulls(tmp_path: Path) -> None:
    config = LongRangeConfig(task="adding", cell="irnn", length=30, hidden_size=16, max_steps=50,
                             optimizer="sgd", lr=1e4, clip_norm=None, test_size=8,
                             progress=False)
    result = train_long_range(config)
    assert result.diverged_at is not None and result.steps_run == result.diverged_at < 50
    saved = json.loads(save_long_range_result(result, tmp_path / "run")[0].read_text())
    assert saved["diverged_at"] == result.diverged_at
    assert saved["curve"][-1]["train_loss"] is None


def test_train_or_load_reuses_only_the_same_run(tmp_path: Path) -> None:
    config = LongRangeConfig(task="adding", cell="rnn_tanh", length=4, hidden_size=4, max_steps=3,
                             eval_every=3, test_size=8, progress=False)
    first = train_or_load(config, tmp_path)
    record = json.loads((tmp_path / "result.json").read_text())
    record["value"] = 123.0  # a marker: reading back must return the saved record untouched
    (tmp_path / "result.json").write_text(json.dumps(record))
    assert train_or_load(replace(config, progress=True), tmp_path)["value"] == 123.0
    assert train_or_load(config, tmp_path, retrain=True)["value"] == first["value"]
    changed = train_or_load(replace(config, max_steps=4), tmp_path)
    assert changed["steps_run"] == 4 and changed["value"] != 123.0


def test_train_or_load_each_runs_in_workers_and_keeps_the_order(tmp_path: Path) -> None:
    configs = [LongRangeConfig(task="adding", cell=cell, length=4, hidden_size=4, max_steps=3,
                               eval_every=3, test_size=8, progress=False)
               for cell in ("gru", "rnn_tanh", "lstm")]
    runs = [(config, tmp_path / config.cell) for config in configs]
    records = list(train_or_load_each(runs, workers=2, threads=1))
    assert [record["config"]["cell"] for record in records] == ["gru", "rnn_tanh", "lstm"]
    for config, record in zip(configs, records, strict=True):
        assert record["curve"] == train_long_range(config).to_dict()["curve"]
        assert (tmp_path / config.cell / "result.json").is_file()
