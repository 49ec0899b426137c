"""``dropout = "auto"``: dropout set from the passes over the text a run's bounds plan."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from rnnkit.models.language_model import LanguageModel, ModelConfig
from rnnkit.tasks.language_model.training import prepare_run, train
from rnnkit.training.checkpoint import load_checkpoint_config
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig
from rnnkit.training.planned_regularization import dropout_for_passes, planned_passes

BATCH, SEQ = 4, 16   # 64 characters a step; 18,000 / 4 = 4,500 per stream, 281 windows


def auto_config(quote_text: Path, out_dir: Path, cell: str = "lstm", **bounds) -> RunConfig:
    train_settings = dict(batch_size=BATCH, seq_len=SEQ, eval_every=10_000, sample_length=0,
                          seed=3, out_dir=str(out_dir), progress=False, tensorboard=False,
                          max_steps=None)
    return RunConfig(data=DataConfig(dataset=None, text_file=str(quote_text)),
                     model=ModelConfig(cell=cell, embedding_size=8, hidden_size=16,
                                       num_layers=2, dropout="auto"),
                     train=TrainConfig(**{**train_settings, **bounds}))


@pytest.mark.parametrize(("passes", "dropout"), [
    (0.5, 0.0), (1.99, 0.0), (2.0, 0.1), (3.99, 0.1), (4.0, 0.2), (6.1, 0.2), (9.99, 0.2),
    (10.0, 0.3), (29.9, 0.3), (30.0, 0.5), (500.0, 0.5)])
def test_the_dropout_of_each_band_of_passes(passes: float, dropout: float) -> None:
    assert dropout_for_passes(passes) == dropout


def test_the_plan_is_the_fewer_of_the_step_and_epoch_bounds() -> None:
    settings = TrainConfig(batch_size=BATCH, seq_len=SEQ, max_steps=900, max_epochs=None)
    assert planned_passes(settings, 18_000, 281) == pytest.approx(900 * 64 / 18_000)
    settings = replace(settings, max_steps=None, max_epochs=3)
    assert planned_passes(settings, 18_000, 281) == pytest.approx(3 * 281 * 64 / 18_000)
    settings = replace(settings, max_steps=500)
    assert planned_passes(settings, 18_000, 281) == pytest.approx(500 * 64 / 18_000)


def test_a_run_bounded_by_the_clock_alone_is_refused_by_name() -> None:
    settings = TrainConfig(max_steps=None, max_time=10.0)
    with pytest.raises(ValueError, match=r"dropout = 'auto' .* needs max_steps or max_epochs; "
                                         r"this run has only max_time = 10.0"):
        planned_passes(settings, 18_000, 281)


@pytest.mark.parametrize(("max_steps", "expected"), [(200, 0.0), (1800, 0.2), (9000, 0.5)])
def test_a_run_builds_its_model_with_the_planned_dropout_and_saves_it(
        quote_text: Path, tmp_path: Path, max_steps: int, expected: float) -> None:
    # 200 steps read 0.71 passes, 1,800 read 6.4 and 9,000 read 32 (18,000 characters)
    run = prepare_run(auto_config(quote_text, tmp_path / "run", max_steps=max_steps))
    assert run.model.config.dropout == expected
    assert run.model.rnn.dropout == expected  # between the two layers


@pytest.mark.parametrize("cell", ["mingru", "minlstm"])
@pytest.mark.parametrize(("max_steps", "expected"), [(200, 0.0), (1800, 0.2)])
def test_the_planned_dropout_reaches_every_residual_block_of_a_minimal_model(
        quote_text: Path, tmp_path: Path, cell: str, max_steps: int, expected: float) -> None:
    # each block drops on its two branches: the rate must reach all of them
    run = prepare_run(auto_config(quote_text, tmp_path / "run", cell, max_steps=max_steps))
    assert run.model.config.dropout == expected
    assert [block.dropout for block in run.model.rnn.blocks] == [expected, expected]


def test_the_saved_config_holds_the_number_and_a_resume_keeps_it(quote_text: Path,
                                                                 tmp_path: Path) -> None:
    out_dir = tmp_path / "run"
    train(auto_config(quote_text, out_dir, max_steps=1800, eval_every=1800))
    assert load_checkpoint_config(out_dir)["model"]["dropout"] == 0.2
    # a longer plan (9,000 steps, 32 passes) would give 0.5: the resumed run keeps 0.2
    resumed = prepare_run(replace(auto := auto_config(quote_text, out_dir, max_steps=9000),
                                  train=replace(auto.train, resume=True)))
    assert resumed.model.config.dropout == 0.2


def test_a_model_cannot_be_built_with_auto() -> None:
    with pytest.raises(ValueError, match="dropout='auto' is set from the planned passes"):
        LanguageModel(ModelConfig(vocab_size=10, dropout="auto"))


def test_the_flag_and_the_recipe_key_take_auto_and_name_a_bad_word(quote_text: Path,
                                                                   tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text('[model]\ndropout = "Auto"\n')
    command = [sys.executable, "-m", "rnnkit", "train", "--text-file", str(quote_text),
               "--out-dir", str(tmp_path / "run")]
    bad_key = subprocess.run([*command, "--config", str(recipe)], capture_output=True,
                             text=True)
    assert bad_key.returncode == 1
    assert bad_key.stderr.strip().splitlines()[-1].endswith(
        '[model] dropout must be a finite number in [0, 1) or "auto", got "Auto"')
    bad_flag = subprocess.run([*command, "--dropout", "1.5"], capture_output=True, text=True)
    assert bad_flag.stderr.strip().splitlines()[-1] == (
        'rnnkit train: error: --dropout must be a finite number in [0, 1) or "auto", got 1.5')
    recipe.write_text('[model]\ndropout = "auto"\nhidden_size = 16\nembedding_size = 8\n'
                      '[train]\nmax_steps = 3\neval_every = 3\nsample_length = 0\n'
                      f'batch_size = {BATCH}\nseq_len = {SEQ}\n')
    done = subprocess.run([*command, "--config", str(recipe), "--no-progress", "--threads",
                           "1"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "dropout auto: 0.01 planned passes over 18,000 training tokens; dropout 0.0" \
        in done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["steps"] == 3
