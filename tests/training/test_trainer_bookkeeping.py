"""What the trainer records and decides besides the weights: the progress bar, log.csv's
rows, the validation lines, early stopping, the plateau schedule, which checkpoints it
keeps, and the history a resume leaves. Each test was written against a mutant of
training/trainer.py that every other test let through (docs/testing-mutation.md).

A learning rate of 1e-30 leaves every weight bit for bit where it was (the update is far
below half an ulp of any weight), so every validation gives the same loss: a run that can
never improve, which is what early stopping and the plateau schedule must notice.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import os
import random
import re
import signal
import threading
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from test_trainer import tiny_config

from rnnkit.data.batching import get_window, num_windows
from rnnkit.data.corpus import Corpus, load_corpus
from rnnkit.generate import sample_text
from rnnkit.inference import load_language_model
from rnnkit.models import detach_state
from rnnkit.models.language_model import WithConditions
from rnnkit.tasks.language_model.task import TaskCorpus
from rnnkit.tasks.language_model.training import prepare_run, train
from rnnkit.training.checkpoint import load_checkpoint, restore_model_state, save_checkpoint
from rnnkit.training.config import DataConfig
from rnnkit.training.distributed import Distributed
from rnnkit.training.environment import resolve_device, seed_everything
from rnnkit.training.interrupt import TrainingInterrupted
from rnnkit.training.precision import MixedPrecision
from rnnkit.training.records import QuietRecords
from rnnkit.training.resume import restore_run, save_run
from rnnkit.training.resume_check import ResumeMismatchError
from rnnkit.training.state import capture_rng_state
from rnnkit.training.stopping import TrainingDivergedError, check_finite
from rnnkit.training.trainer import training_loop

FROZEN_LR = 1e-30


def log_rows(out_dir: Path) -> list[dict[str, str]]:
    with (out_dir / "log.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def validation_rows(out_dir: Path) -> list[dict[str, str]]:
    return [row for row in log_rows(out_dir) if row["val_loss"]]


def train_rows(out_dir: Path) -> list[dict[str, str]]:
    return [row for row in log_rows(out_dir) if row["train_loss"]]


def test_the_progress_bar_counts_to_the_planned_steps_and_shows_the_time_left(
        text_file: Path, tmp_path: Path, capsys) -> None:
    train(tiny_config(text_file, tmp_path / "run", max_steps=6, eval_every=100,
                      progress=True, max_time=10.0))
    bar = capsys.readouterr().err
    assert "6/6" in bar
    left = [float(minutes) for minutes in re.findall(r"left=([\d.]+)min", bar)]
    assert left and all(9.0 < minutes <= 10.0 for minutes in left), bar


def test_no_progress_bar_when_progress_is_off(text_file: Path, tmp_path: Path,
                                              capsys) -> None:
    train(tiny_config(text_file, tmp_path / "run", max_steps=6, eval_every=100))
    assert "6/6" not in capsys.readouterr().err


def test_tokens_per_second_is_each_intervals_tokens_over_its_seconds(
        text_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    train(tiny_config(text_file, out_dir, max_steps=8, log_every=2, eval_every=100))
    rows = train_rows(out_dir)
    assert [int(row["step"]) for row in rows] == [2, 4, 6, 8]
    previous_tokens, previous_seconds = 0, 0.0
    for row in rows:
        tokens, seconds = int(row["tokens"]), float(row["elapsed_s"])
        expected = (tokens - previous_tokens) / (seconds - previous_seconds)
        assert float(row["tokens_per_s"]) == pytest.approx(expected, rel=1e-9)
        previous_tokens, previous_seconds = tokens, seconds
    assert int(rows[0]["tokens"]) == 2 * 4 * 16  # two windows of 4 streams x 16 targets


def test_each_validation_line_says_what_it_measured(text_file: Path, tmp_path: Path,
                                                    capsys) -> None:
    train(tiny_config(text_file, tmp_path / "part", max_steps=4, eval_max_tokens=100,
                      progress=True))
    lines = "".join(capsys.readouterr())
    assert "step 4: validation (first 100 tokens) loss" in lines
    assert "step 4: validation (whole split, final) loss" in lines
    train(tiny_config(text_file, tmp_path / "whole", max_steps=4, eval_max_tokens=10**6,
                      progress=True))
    assert "step 4: validation (whole split) loss" in "".join(capsys.readouterr())


def test_a_run_that_stops_improving_stops_after_patience_validations(
        text_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    result = train(tiny_config(text_file, out_dir, max_steps=40, eval_every=2, lr=FROZEN_LR,
                               optimizer="sgd", early_stop_patience=3))
    scheduled = validation_rows(out_dir)[:-1]  # the last is the final one
    assert len({row["val_loss"] for row in scheduled}) == 1  # frozen: no change at all
    # The first validation improves on nothing (infinity); three more without improvement.
    assert [int(row["step"]) for row in scheduled] == [2, 4, 6, 8]
    assert result.steps == 8
    assert result.stop_reason == "early stop: no improvement in 3 validations"


def test_the_plateau_schedule_cuts_the_rate_when_validation_stalls(text_file: Path,
                                                                   tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    train(tiny_config(text_file, out_dir, max_steps=8, eval_every=2, log_every=2,
                      lr=FROZEN_LR, optimizer="sgd", schedule="plateau",
                      plateau_patience=1, decay_factor=0.5))
    rates = [float(row["lr"]) for row in train_rows(out_dir)]
    # Validation at step 2 improves (on infinity); 4 stalls once (patience 1); 6 cuts.
    assert rates == pytest.approx([FROZEN_LR, FROZEN_LR, FROZEN_LR, FROZEN_LR / 2], rel=1e-12)


def test_best_holds_the_lowest_validation_and_latest_the_last(text_file: Path,
                                                              tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    train(tiny_config(text_file, out_dir, max_steps=12, eval_every=3, lr=3e-2))
    scheduled = validation_rows(out_dir)[:-1]
    best_row = min(scheduled, key=lambda row: float(row["val_loss"]))
    best = load_checkpoint(out_dir, tag="best").trainer_state["progress"]
    assert best["step"] == int(best_row["step"])
    assert best["best_error"] == pytest.approx(float(best_row["val_loss"]), rel=1e-12)
    assert load_checkpoint(out_dir).trainer_state["progress"]["step"] == 12
    assert sorted(path.name for path in out_dir.glob("*.json")) == ["best.json",
                                                                    "latest.json"]


def test_equal_validation_keeps_the_first_best(text_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    train(tiny_config(text_file, out_dir, max_steps=6, eval_every=2, lr=FROZEN_LR,
                      optimizer="sgd"))
    assert load_checkpoint(out_dir, tag="best").trainer_state["progress"]["step"] == 2


def test_a_scheduled_validation_saves_latest(text_file: Path, tmp_path: Path) -> None:
    """``latest`` after an interrupted run is the last scheduled save, not only the final
    one: a run killed between validations resumes from the last one."""
    out_dir = tmp_path / "run"
    config = tiny_config(text_file, out_dir, max_steps=6, eval_every=2)
    run = prepare_run(config)
    training_loop(run, QuietRecords())  # no final save: as if killed right after step 6
    assert load_checkpoint(out_dir).trainer_state["progress"]["step"] == 6


def test_every_resume_is_kept_in_the_history(text_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    train(tiny_config(text_file, out_dir, max_steps=4))
    train(tiny_config(text_file, out_dir, max_steps=6, resume=True))
    train(tiny_config(text_file, out_dir, max_steps=8, resume=True, lr=1e-3))
    resumes = load_checkpoint(out_dir).trainer_state["resumes"]
    assert [entry["step"] for entry in resumes] == [4, 6]
    assert resumes[1]["changed"]["train.lr"] == [3e-3, 1e-3]


def test_a_checkpoint_from_before_resume_history_and_precision_state_resumes(
        text_file: Path, tmp_path: Path) -> None:
    """Checkpoints written before rnnkit recorded ``resumes`` and ``precision`` lack both
    keys; they resume with an empty history and the scaler's defaults."""
    out_dir = tmp_path / "run"
    train(tiny_config(text_file, out_dir, max_steps=4))
    saved = load_checkpoint(out_dir)
    older = {key: value for key, value in saved.trainer_state.items()
             if key not in ("resumes", "precision")}
    save_checkpoint(out_dir, model_state=saved.model_state, config=saved.config,
                    vocab=saved.vocab, trainer_tensors=saved.trainer_tensors,
                    trainer_state=older, tag="latest")
    result = train(tiny_config(text_file, out_dir, max_steps=6, resume=True))
    assert result.steps == 6
    assert [entry["step"] for entry in load_checkpoint(out_dir).trainer_state["resumes"]] == [4]


def test_the_fp16_loss_scale_comes_back_on_resume(text_file: Path, tmp_path: Path) -> None:
    """fp16 trains only on CUDA; the scaler's bookkeeping is the same on CPU, so a CPU
    scaler stands in for it here."""
    config = tiny_config(text_file, tmp_path / "run", max_steps=2)
    run = prepare_run(config)
    run.precision = MixedPrecision("fp16", torch.device("cpu"))
    run.precision.scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    save_run(run, "latest")
    fresh = prepare_run(config)
    fresh.precision = MixedPrecision("fp16", torch.device("cpu"))
    assert fresh.precision.scaler.get_scale() != 1024.0
    restore_run(fresh, load_checkpoint(tmp_path / "run"))
    assert fresh.precision.scaler.get_scale() == 1024.0


@pytest.mark.parametrize("cell", ["gru", "rnn_tanh", "lstm"])
def test_resume_carries_the_state_of_every_cell_exactly(cell: str, text_file: Path,
                                                        tmp_path: Path) -> None:
    """A GRU's or RNN's state is one tensor, an LSTM's a pair: both come back as saved."""
    def config(out_dir: Path, steps: int, **values) -> object:
        base = tiny_config(text_file, out_dir, max_steps=steps, eval_every=3, **values)
        return replace(base, model=replace(base.model, cell=cell, dropout=0.0))

    straight = train(config(tmp_path / "straight", 6))
    train(config(tmp_path / "split", 3))
    resumed = train(config(tmp_path / "split", 6, resume=True))
    assert resumed.val_loss == straight.val_loss
    first = load_checkpoint(tmp_path / "straight").model_state
    second = load_checkpoint(tmp_path / "split").model_state
    assert all(torch.equal(first[name], second[name]) for name in first)


def checkpoint_with_rank_rng(text_file: Path, out_dir: Path, seeds_of_ranks: list[int]):
    """A one-process checkpoint plus the RNG state ranks 1, 2, ... would have saved, drawn
    from ``seeds_of_ranks``: what a run of more processes leaves, without starting them."""
    train(tiny_config(text_file, out_dir, max_steps=2))
    saved = load_checkpoint(out_dir)
    tensors, metas = dict(saved.trainer_tensors), []
    for rank, seed in enumerate(seeds_of_ranks, start=1):
        seed_like_rank(seed, rank)
        rank_tensors, rank_meta = capture_rng_state()
        tensors.update({f"rng_rank{rank}.{key}": value for key, value in rank_tensors.items()})
        metas.append(rank_meta)
    state = {**saved.trainer_state, "rng_ranks": metas}
    save_checkpoint(out_dir, model_state=saved.model_state, config=saved.config,
                    vocab=saved.vocab, trainer_tensors=tensors, trainer_state=state,
                    tag="latest")
    return load_checkpoint(out_dir)


def seed_like_rank(seed: int, rank: int) -> None:
    """Seed every generator, then draw ``rank`` NumPy numbers: ranks that drew different
    amounts differ in the JSON half of their saved state too (NumPy's position)."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    np.random.rand(rank)


def rank_draws(seed: int, rank: int) -> tuple[list[float], float, float]:
    seed_like_rank(seed, rank)
    return draws()


def draws() -> tuple[list[float], float, float]:
    return torch.rand(3).tolist(), random.random(), float(np.random.rand())


def seeded_draws(seed: int) -> tuple[list[float], float, float]:
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    return draws()


def test_each_rank_takes_back_its_own_generators_and_rows(text_file: Path,
                                                          tmp_path: Path) -> None:
    """Rank 1 of 2 restores the RNG state rank 1 saved and the second half of the carried
    state's rows (streams 2 and 3 of 4); rank 0 restores its own."""
    checkpoint = checkpoint_with_rank_rng(text_file, tmp_path / "run", [1234])
    expected_rank_one = rank_draws(1234, rank=1)
    config = tiny_config(text_file, tmp_path / "run", max_steps=2)
    run = prepare_run(config)
    run.distributed = Distributed(rank=1, world_size=2)
    restore_run(run, checkpoint)
    assert draws() == expected_rank_one
    saved_hidden = checkpoint.trainer_tensors
    assert torch.equal(run.state[0], saved_hidden["hidden.0"][:, 2:4])
    assert torch.equal(run.state[1], saved_hidden["hidden.1"][:, 2:4])

    run.distributed = Distributed(rank=0, world_size=2)
    restore_run(run, checkpoint)
    assert draws() != expected_rank_one
    assert torch.equal(run.state[0], saved_hidden["hidden.0"][:, 0:2])


def test_a_rank_the_checkpoint_lacks_starts_from_the_seed_plus_its_rank(
        text_file: Path, tmp_path: Path, caplog) -> None:
    checkpoint = checkpoint_with_rank_rng(text_file, tmp_path / "run", [1234])
    config = tiny_config(text_file, tmp_path / "run", max_steps=2, batch_size=4)
    run = prepare_run(config)
    run.distributed = Distributed(rank=2, world_size=4)
    with caplog.at_level(logging.WARNING, logger="rnnkit.training.trainer"):
        restore_run(run, checkpoint)
    restored = draws()
    assert restored == seeded_draws(config.train.seed + 2)
    assert caplog.messages == ["checkpoint has no RNG state for rank 2; seeding it afresh"]


def test_a_checkpoint_without_rank_generators_seeds_the_other_ranks_afresh(
        text_file: Path, tmp_path: Path) -> None:
    """Checkpoints from before rnnkit saved every rank's generators lack ``rng_ranks``."""
    out_dir = tmp_path / "run"
    train(tiny_config(text_file, out_dir, max_steps=2))
    saved = load_checkpoint(out_dir)
    older = {key: value for key, value in saved.trainer_state.items() if key != "rng_ranks"}
    save_checkpoint(out_dir, model_state=saved.model_state, config=saved.config,
                    vocab=saved.vocab, trainer_tensors=saved.trainer_tensors,
                    trainer_state=older, tag="latest")
    config = tiny_config(text_file, out_dir, max_steps=2)
    run = prepare_run(config)
    run.distributed = Distributed(rank=1, world_size=2)
    restore_run(run, load_checkpoint(out_dir))
    assert draws() == seeded_draws(config.train.seed + 1)


def test_rank_two_of_four_takes_back_rank_twos_generators(text_file: Path,
                                                           tmp_path: Path) -> None:
    checkpoint = checkpoint_with_rank_rng(text_file, tmp_path / "run", [1234, 5678])
    run = prepare_run(tiny_config(text_file, tmp_path / "run", max_steps=2, batch_size=4))
    run.distributed = Distributed(rank=2, world_size=4)
    restore_run(run, checkpoint)
    assert draws() == rank_draws(5678, rank=2)


def first_update(text_file: Path, out_dir: Path, **values) -> tuple[torch.Tensor, float]:
    """The change one SGD step (lr 1, no momentum, no dropout) makes to the weights, as one
    flat vector, and the gradient norm log.csv reports for it."""
    config = tiny_config(text_file, out_dir, max_steps=1, log_every=1, eval_every=100,
                         optimizer="sgd", lr=1.0, **values)
    config = replace(config, model=replace(config.model, dropout=0.0))
    before = torch.cat([p.detach().flatten() for p in prepare_run(config).model.parameters()])
    train(config)
    saved = load_checkpoint(out_dir).model_state
    names = [name for name, _ in prepare_run(config).model.named_parameters()]
    after = torch.cat([saved[name].flatten() for name in names])
    return after - before, float(train_rows(out_dir)[0]["grad_norm"])


def test_the_trainer_clips_the_gradient_norm_it_is_given(text_file: Path,
                                                         tmp_path: Path) -> None:
    update, grad_norm = first_update(text_file, tmp_path / "norm", clip_norm=0.05)
    assert grad_norm > 0.05  # the bound binds
    assert float(update.norm()) == pytest.approx(0.05, rel=1e-4)
    unclipped, _ = first_update(text_file, tmp_path / "free", clip_norm=None)
    assert float(unclipped.norm()) == pytest.approx(grad_norm, rel=1e-4)


def test_the_trainer_clips_each_gradient_value_it_is_given(text_file: Path,
                                                           tmp_path: Path) -> None:
    update, _ = first_update(text_file, tmp_path / "value", clip_norm=None, clip_value=1e-3)
    assert float(update.abs().max()) == pytest.approx(1e-3, rel=1e-4)
    unclipped, _ = first_update(text_file, tmp_path / "free", clip_norm=None)
    assert float(unclipped.abs().max()) > 2e-3


def test_max_epochs_stops_at_the_end_of_the_last_epoch(text_file: Path, tmp_path: Path,
                                                       capsys) -> None:
    config = tiny_config(text_file, tmp_path / "run", max_epochs=1, eval_every=1000,
                         progress=True)
    per_epoch = num_windows(prepare_run(config).task.streams, config.train.seq_len)
    result = train(config)
    assert (result.steps, result.epochs) == (per_epoch, 1)
    assert result.stop_reason == "reached max_epochs=1"
    assert f"{per_epoch}/{per_epoch}" in capsys.readouterr().err


def test_a_bound_as_long_as_the_split_validates_the_whole_split(text_file: Path,
                                                                tmp_path: Path,
                                                                capsys) -> None:
    config = tiny_config(text_file, tmp_path / "run", max_steps=4)
    valid_tokens = prepare_run(config).task.corpus.splits["valid"].shape[0]
    train(replace(config, train=replace(config.train, eval_max_tokens=valid_tokens)))
    assert "step 4: validation (whole split) loss" in "".join(capsys.readouterr())


def test_max_time_stops_once_the_training_time_reaches_it(text_file: Path,
                                                          tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    result = train(tiny_config(text_file, out_dir, max_steps=10**6, max_time=0.01,
                               log_every=1, eval_every=10**6))
    assert result.stop_reason == "reached max_time=0.01 minutes"
    seconds = [float(row["elapsed_s"]) for row in train_rows(out_dir)]
    assert seconds[-2] < 0.6 <= seconds[-1]  # stopped at the first step past the bound


def test_the_checkpoint_records_the_data_it_was_trained_on(text_file: Path,
                                                           tmp_path: Path) -> None:
    train(tiny_config(text_file, tmp_path / "run", max_steps=2))
    source = load_checkpoint(tmp_path / "run").trainer_state["task"]["data_source"]
    assert source == {"name": str(text_file),
                      "sha256": hashlib.sha256(text_file.read_bytes()).hexdigest()}


def test_the_result_reports_where_the_run_stopped(text_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    result = train(tiny_config(text_file, out_dir, max_steps=6, log_every=3, eval_every=100))
    last = train_rows(out_dir)[-1]
    assert (result.steps, result.tokens) == (6, int(last["tokens"]))
    assert result.elapsed_s == float(last["elapsed_s"])
    assert result.checkpoint == str(out_dir)


def test_a_loss_under_the_explosion_bound_trains_on(text_file: Path, tmp_path: Path) -> None:
    """The bound is explode_factor x ln(vocab): 2 x ln(17) = 5.7 lets a fresh model's loss
    (about ln 17 = 2.8) pass; 0.5 x ln(17) = 1.4 stops the first step, before any save."""
    assert train(tiny_config(text_file, tmp_path / "pass", max_steps=3,
                             explode_factor=2.0)).steps == 3
    message = (r"diverged at step 1: loss 2\.\d+, gradient norm .*; no checkpoint had been "
               r"saved yet\. Try a lower lr \(now 0\.003\) or clip_norm\.$")
    with pytest.raises(TrainingDivergedError, match=message):
        train(tiny_config(text_file, tmp_path / "stop", max_steps=3, explode_factor=0.5))


def test_a_loss_at_the_explosion_bound_is_a_divergence(text_file: Path,
                                                       tmp_path: Path) -> None:
    run = prepare_run(tiny_config(text_file, tmp_path / "run", max_steps=1,
                                  explode_factor=2.0))
    bound = 2.0 * math.log(run.task.config.model.vocab_size)
    check_finite(run, math.nextafter(bound, 0.0), grad_norm=1.0)
    with pytest.raises(TrainingDivergedError, match=r"^training diverged at step 1: loss "):
        check_finite(run, bound, grad_norm=1.0)


def test_an_overflowing_gradient_that_clipping_by_value_made_finite_is_applied(
        text_file: Path, tmp_path: Path) -> None:
    run = prepare_run(tiny_config(text_file, tmp_path / "run", max_steps=1))
    check_finite(run, 2.0, grad_norm=math.inf, clipped_norm=3.0)
    with pytest.raises(TrainingDivergedError, match="gradient norm inf"):
        check_finite(run, 2.0, grad_norm=math.inf, clipped_norm=math.inf)
    with pytest.raises(TrainingDivergedError, match="gradient norm inf"):
        check_finite(run, 2.0, grad_norm=math.inf)


@pytest.mark.parametrize(("optimizer", "values"), [
    ("sgd", {"momentum": 0.9, "weight_decay": 0.05}),
    ("adam", {"weight_decay": 0.05}),
    ("adamw", {"weight_decay": 0.05}),  # not AdamW's default, 0.01
])
def test_each_optimizer_steps_as_torch_optim_does(optimizer: str, values: dict,
                                                  text_file: Path, tmp_path: Path) -> None:
    """Three trainer steps against the loop written out with the torch.optim class asked
    for (same start, same windows, state carried, no clipping, no dropout)."""
    config = tiny_config(text_file, tmp_path / "run", max_steps=3, eval_every=100,
                         optimizer=optimizer, lr=0.05, clip_norm=None, **values)
    config = replace(config, model=replace(config.model, dropout=0.0))
    reference = prepare_run(config)
    model, streams = reference.model, reference.task.streams
    kinds = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    by_hand = kinds[optimizer](model.parameters(), lr=0.05, **values)
    hidden = None
    for window in range(3):
        inputs, targets = get_window(streams, window, config.train.seq_len)
        logits, hidden = model(inputs, detach_state(hidden))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                 targets.reshape(-1))
        by_hand.zero_grad()
        loss.backward()
        by_hand.step()
    train(config)
    trained = load_checkpoint(tmp_path / "run").model_state
    for name, value in model.state_dict().items():
        torch.testing.assert_close(trained[name], value, rtol=0, atol=1e-6, msg=name)


@pytest.mark.parametrize("bound", ["max_steps", "max_epochs"])
def test_a_cosine_schedule_without_decay_steps_ends_at_the_runs_bound(
        bound: str, text_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    limit = {"max_steps": 9} if bound == "max_steps" else {"max_steps": None, "max_epochs": 1}
    config = tiny_config(text_file, out_dir, schedule="cosine", log_every=1, eval_every=1000,
                         lr=0.01, **limit)
    per_epoch = num_windows(prepare_run(config).task.streams, config.train.seq_len)
    total = 9 if bound == "max_steps" else per_epoch
    train(config)
    rates = {int(row["step"]): float(row["lr"]) for row in train_rows(out_dir)}
    assert sorted(rates) == list(range(1, total + 1))
    for step, rate in rates.items():
        assert rate == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * step / total)),
                                     abs=1e-12)


def test_a_run_bounded_by_time_alone_trains(text_file: Path, tmp_path: Path) -> None:
    result = train(tiny_config(text_file, tmp_path / "run", max_steps=None, max_time=0.005,
                               eval_every=10**6))
    assert result.stop_reason == "reached max_time=0.005 minutes"


def test_the_end_of_run_sample_is_the_models_text_from_the_first_validation_token(
        text_file: Path, tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "run"
    config = tiny_config(text_file, out_dir, max_steps=40, sample_length=40)
    first_token = prepare_run(config).task.corpus.splits["valid"][0]
    train(config)
    loaded = load_language_model(out_dir, tag="latest", device="cpu")  # the final weights
    prime = loaded.vocab.decode([int(first_token)])

    def sample(temperature: float) -> str:
        return sample_text(loaded.model, loaded.vocab, prime, 40, temperature=temperature,
                           seed=config.train.seed)

    expected = sample(0.8)
    assert expected not in {sample(1.0), sample(1.8)}  # the temperature shows in the text
    printed = "".join(capsys.readouterr())
    assert f"--- sample (40 tokens, temperature 0.8) ---\n{expected}\n---" in printed


def test_a_run_asked_for_no_sample_prints_none(text_file: Path, tmp_path: Path,
                                               capsys) -> None:
    train(tiny_config(text_file, tmp_path / "run", max_steps=3, sample_length=0))
    printed = "".join(capsys.readouterr())
    assert "--- sample" not in printed
    assert "validation (whole split, final)" in printed  # the rest of the report comes


def line_parity_corpus(calls: list, data: DataConfig, vocab_dict: dict | None) -> Corpus:
    """The plain corpus of ``data``, every character with one condition: the parity of its
    line (a corpus a task would hand the language model); each call is noted in ``calls``."""
    calls.append((data, vocab_dict))
    corpus = load_corpus(data, vocab_dict)
    (newline,) = corpus.vocab.encode("\n")
    splits = {}
    for name, ids in corpus.splits.items():
        ends = (ids == newline).long()
        parity = (torch.cumsum(ends, 0) - ends) % 2  # lines ended before this character
        splits[name] = torch.stack([ids, parity], 1)  # (tokens, 1 + conditions)
    return Corpus(corpus.vocab, splits, corpus.source, condition_sizes=(2,))


def test_the_language_model_trains_on_the_corpus_its_caller_hands_it(
        text_file: Path, tmp_path: Path, capsys) -> None:
    calls: list = []
    handed = TaskCorpus(partial(line_parity_corpus, calls), {"name": "lines", "classes": 2})
    config = tiny_config(text_file, tmp_path / "run", max_steps=3, sample_length=12)
    assert "task" not in prepare_run(config).task.saved_config()  # plain text: no table
    run = prepare_run(config, handed)
    assert calls == [(config.data, None)]
    valid = run.task.corpus.splits["valid"]  # (tokens, 1 + conditions)
    assert valid.dim() == 2 and valid.shape[1] == 2 and valid[:, 1].unique().tolist() == [0, 1]
    assert run.model.config.condition_sizes == (2,)
    train(config, handed)
    saved = load_checkpoint(tmp_path / "run", trainer=False)
    assert saved.config["task"] == {"name": "lines", "classes": 2}
    model = run.model
    restore_model_state(model, saved.model_state)
    prime = run.task.corpus.vocab.decode([int(valid[0, 0])])
    # The end-of-run sample is written under the first validation token's conditions.
    expected = sample_text(WithConditions(model, valid[0, 1:]), run.task.corpus.vocab, prime, 12,
                           temperature=0.8, seed=config.train.seed)
    printed = "".join(capsys.readouterr())
    assert f"--- sample (12 tokens, temperature 0.8) ---\n{expected}\n---" in printed
    resumed = tiny_config(text_file, tmp_path / "run", max_steps=5, resume=True)
    assert train(resumed, handed).steps == 5
    assert calls[-1] == (resumed.data, saved.vocab)  # the saved vocabulary, on resume


def test_a_run_resumes_only_with_the_task_table_it_was_saved_with(
        text_file: Path, tmp_path: Path) -> None:
    handed = TaskCorpus(partial(line_parity_corpus, []), {"name": "lines", "classes": 2})
    out_dir = tmp_path / "run"
    train(tiny_config(text_file, out_dir, max_steps=2), handed)
    resumed = tiny_config(text_file, out_dir, max_steps=4, resume=True)
    other = TaskCorpus(handed.load, {"name": "lines", "classes": 3})
    with pytest.raises(ResumeMismatchError, match=r"\(task.classes: saved 2, now 3\)"):
        train(resumed, other)
    with pytest.raises(ResumeMismatchError,
                       match=r"\(task: saved \{'name': 'lines', 'classes': 2\}, now None\)"):
        train(resumed)  # as plain text


def test_an_unknown_compile_backend_is_refused_listing_the_known_ones(
        text_file: Path, tmp_path: Path) -> None:
    known = ", ".join(sorted(torch._dynamo.list_backends(exclude_tags=())))
    message = f"compile_backend='fastest' is not a torch.compile backend; known: {known}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        prepare_run(tiny_config(text_file, tmp_path / "run", max_steps=2, compile=True,
                                compile_backend="fastest"))


def test_compile_wraps_the_model_the_step_calls(text_file: Path, tmp_path: Path) -> None:
    run = prepare_run(tiny_config(text_file, tmp_path / "run", max_steps=2, compile=True,
                                  compile_backend="eager"))
    assert run.trained is not run.model
    assert run.trained._orig_mod is run.model  # what torch.compile wrapped
    plain = prepare_run(tiny_config(text_file, tmp_path / "plain", max_steps=2))
    assert plain.trained is plain.model


COMPILED_GRAPHS: list = []


def recording_backend(graph_module, example_inputs):
    """A torch.compile backend that records the graphs Dynamo hands it and runs them as
    they are."""
    COMPILED_GRAPHS.append(graph_module)
    return graph_module.forward


def test_compile_uses_the_backend_it_is_given(text_file: Path, tmp_path: Path) -> None:
    name = "rnnkit_test_recording"
    if name not in torch._dynamo.list_backends(exclude_tags=()):
        torch._dynamo.register_backend(recording_backend, name=name)
    COMPILED_GRAPHS.clear()
    torch._dynamo.reset()
    train(tiny_config(text_file, tmp_path / "run", max_steps=1, compile=True,
                      compile_backend=name))
    assert COMPILED_GRAPHS


def test_the_step_schedule_decays_once_per_epoch(text_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    config = tiny_config(text_file, out_dir, max_epochs=3, schedule="step", decay_factor=0.5,
                         decay_start_epoch=2, log_every=1, eval_every=1000, lr=0.01)
    per_epoch = num_windows(prepare_run(config).task.streams, config.train.seq_len)
    train(config)
    rates = {int(row["step"]): float(row["lr"]) for row in train_rows(out_dir)}
    assert len(rates) == 3 * per_epoch
    for step, rate in rates.items():  # the rate the next step will use
        epoch = step // per_epoch
        assert rate == pytest.approx(0.01 * 0.5 ** max(0, epoch + 1 - 2), rel=1e-12), step


def test_resume_keeps_the_saved_vocabulary(text_file: Path, tmp_path: Path) -> None:
    """The token ids the model learned stay those ids, even when the text now lacks a
    character (a vocabulary built afresh would renumber the rest and shrink)."""
    out_dir = tmp_path / "run"
    train(tiny_config(text_file, out_dir, max_steps=2))
    before = load_checkpoint(out_dir).vocab
    text_file.write_text(text_file.read_text(encoding="utf-8").replace("d", "t"),
                         encoding="utf-8")
    assert train(tiny_config(text_file, out_dir, max_steps=4, resume=True)).steps == 4
    assert load_checkpoint(out_dir).vocab == before


def test_a_refused_resume_names_the_run_folder(text_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    train(tiny_config(text_file, out_dir, max_steps=2))
    with pytest.raises(ResumeMismatchError,
                       match=f"^cannot resume the run in {re.escape(str(out_dir))} with these "
                             r"settings changed \(train.optimizer: saved 'adam', now 'sgd'\)"):
        train(tiny_config(text_file, out_dir, max_steps=4, resume=True, optimizer="sgd"))


@pytest.mark.parametrize("seed", [0, 7, 2**32 + 7, 2**63 - 1])
def test_seed_everything_seeds_python_numpy_and_torch(seed: int) -> None:
    seed_everything(seed)
    drawn = draws()
    torch.manual_seed(seed)
    random.seed(seed)
    legacy = np.random.RandomState(seed % 2**32)  # NumPy's global seed takes 32 bits
    assert drawn == (torch.rand(3).tolist(), random.random(), float(legacy.rand()))


def test_a_device_is_resolved_or_refused_by_what_torch_sees() -> None:
    if torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cuda")
        assert resolve_device("cuda") == torch.device("cuda")
    else:
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match=r"^device='cuda' was requested but torch sees "
                                             r"no CUDA device$"):
            resolve_device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")


def press_ctrl_c_once(path: Path, cancelled: threading.Event) -> threading.Thread:
    """A thread that sends this process SIGINT once ``path`` exists (the trainer is then
    listening for it), unless ``cancelled`` is set first (the run failed before that)."""
    def press() -> None:
        while not path.exists():
            if cancelled.wait(0.01):
                return
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=press, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_in_a_library_call_raises_with_where_latest_was_saved(
        text_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    config = tiny_config(text_file, out_dir, max_steps=10**6, max_time=1.0, eval_every=2)
    cancelled = threading.Event()
    thread = press_ctrl_c_once(out_dir / "best.json", cancelled)
    try:
        with pytest.raises(TrainingInterrupted) as raised:
            train(config)
    finally:
        cancelled.set()
        thread.join()
    step = load_checkpoint(out_dir).trainer_state["progress"]["step"]
    assert str(raised.value) == (f"interrupted at step {step}: saved latest in {out_dir}; "
                                 f"continue with --resume --out-dir {out_dir}")
