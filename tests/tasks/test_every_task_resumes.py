"""Every task on the one loop resumes exactly: N steps straight and N/2 + resume N/2 end
with the same weights, optimizer moments, weight average and generators, to the bit.

Each run is set up so that a resume that forgets something shows: dropout (the RNG),
word dropout and teacher forcing below 1 (a task's own generator), a plateau schedule
(the half-way stop validates but must not move the rate), a weight average, and a stop
in the middle of an epoch (the place in the epoch). The long-range tasks draw every batch
from a stream of their own, so a resume that does not restore it trains on other data.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
import torch
from test_classification import reviews
from test_forecasting import noisy_sine
from test_forecasting import tiny_config as forecast_config
from test_g2p import TEXT as G2P_TEXT
from test_g2p import tiny_config as g2p_config
from test_long_range_training import separable_digits
from test_tagging import corpus
from test_tagging import tiny_config as tagging_config
from test_trainer import tiny_config as language_model_config
from test_translation import CATALOGUE
from test_translation import tiny_config as translation_config

from rnnkit.models.classifier import ClassifierConfig
from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.models.seq2seq import Seq2SeqConfig
from rnnkit.models.tagger import TaggerConfig
from rnnkit.tasks.classify.training import ClassificationConfig, train_classifier
from rnnkit.tasks.forecast.training import train_forecast
from rnnkit.tasks.language_model.training import train
from rnnkit.tasks.long_range import task as long_range_task
from rnnkit.tasks.long_range.config import LongRangeConfig
from rnnkit.tasks.long_range.training import train_long_range
from rnnkit.tasks.seq2seq.g2p import train_g2p
from rnnkit.tasks.seq2seq.translation import train_translation
from rnnkit.tasks.tag.training import train_tagging
from rnnkit.training.checkpoint import load_checkpoint

EXAMPLE_SETTINGS = dict(max_epochs=50, lr_decay=0.5, average_decay=0.5, threads=1)


def _classify(out_dir: Path, dropout: float = 0.3, **values: Any) -> None:
    settings = dict(batch_size=16, lr=1e-2, out_dir=str(out_dir), progress=False,
                    device="cpu", min_count=1, word_dropout=0.2, **EXAMPLE_SETTINGS)
    train_classifier(ClassificationConfig(**(settings | values)),
                     ClassifierConfig(embedding_size=8, hidden_size=8, dropout=dropout),
                     reviews(80))


def _tag(out_dir: Path, dropout: float = 0.3, **values: Any) -> None:
    train_tagging(tagging_config(out_dir, **(EXAMPLE_SETTINGS | values)),
                  TaggerConfig(embedding_size=6, hidden_size=6, char_embedding_size=4,
                               char_filters=4, dropout=dropout), corpus(30))


def _forecast(out_dir: Path, dropout: float = 0.3, **values: Any) -> None:
    train_forecast(forecast_config(out_dir, **(EXAMPLE_SETTINGS | values)),
                   ForecasterConfig(hidden_size=8, horizon=2, dropout=dropout), noisy_sine())


def _g2p(out_dir: Path, dropout: float = 0.3, **values: Any) -> None:
    train_g2p(g2p_config(out_dir, **({"teacher_forcing": 0.5} | EXAMPLE_SETTINGS | values)),
              Seq2SeqConfig(hidden_size=8, embedding_size=4, dropout=dropout), text=G2P_TEXT)


def _translate(out_dir: Path, dropout: float = 0.3, **values: Any) -> None:
    train_translation(translation_config(out_dir, **({"teacher_forcing": 0.5}
                                                     | EXAMPLE_SETTINGS | values)),
                      Seq2SeqConfig(hidden_size=8, embedding_size=4, dropout=dropout),
                      text=CATALOGUE)


def _language_model(out_dir: Path, **values: Any) -> None:
    text_file = out_dir.parent / "tiny.txt"
    text_file.write_text("the quick brown fox jumps over the lazy dog. " * 40, encoding="utf-8")
    config = language_model_config(text_file, out_dir, eval_every=5, schedule="plateau",
                                   average_decay=0.5, max_epochs=None, **values)
    train(replace(config, model=replace(config.model, dropout=0.3)))


def _long_range(task: str) -> Callable[..., None]:
    def run(out_dir: Path, dropout: float = 0.0, **values: Any) -> None:
        """``dropout`` must be 0: the long-range models have none."""
        assert dropout == 0.0
        settings = dict(task=task, cell="lstm", hidden_size=6, batch_size=8,
                        optimizer="rmsprop", lr=1e-2, eval_every=2, progress=False,
                        out_dir=str(out_dir), device="cpu", threads=1)
        if task == "digits":  # made-up images: the registered set is not fetched in tests
            data = patch.object(long_range_task, "load_digits",
                                lambda: separable_digits(40))
        else:
            settings |= dict(length=6, copy_length=2, num_symbols=3, test_size=16)
            data = nullcontext()
        with data:
            train_long_range(LongRangeConfig(**(settings | values)))

    return run


TASKS: dict[str, tuple[Callable[..., None], int]] = {  # the task and N, odd: mid-epoch
    "classify": (_classify, 9), "tag": (_tag, 7), "forecast": (_forecast, 11),
    "g2p": (_g2p, 5), "translation": (_translate, 5), "language_model": (_language_model, 9),
    "adding": (_long_range("adding"), 7), "copy": (_long_range("copy"), 7),
    "digits": (_long_range("digits"), 7),
}
LONG_RANGE = {"adding", "copy", "digits"}
AVERAGED = set(TASKS) - LONG_RANGE  # the long-range tasks keep no weight average


def _saved_tensors(out_dir: Path) -> dict[str, torch.Tensor]:
    saved = load_checkpoint(out_dir)
    return {**{f"model.{k}": v for k, v in saved.model_state.items()},
            **{f"trainer.{k}": v for k, v in saved.trainer_tensors.items()}}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_n_steps_straight_equal_half_and_a_resume(task: str, tmp_path: Path) -> None:
    run, steps = TASKS[task]
    run(tmp_path / "straight", max_steps=steps)
    run(tmp_path / "resumed", max_steps=steps // 2)
    run(tmp_path / "resumed", max_steps=steps, resume=True)
    straight, resumed = _saved_tensors(tmp_path / "straight"), _saved_tensors(tmp_path / "resumed")
    assert load_checkpoint(tmp_path / "resumed").trainer_state["progress"]["step"] == steps
    assert sorted(straight) == sorted(resumed)
    if task in AVERAGED:
        assert any(name.startswith("trainer.weights.") for name in straight)
    for name, tensor in straight.items():
        assert torch.equal(tensor, resumed[name]), name


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_trains_in_bf16_with_float32_weights(task: str, tmp_path: Path) -> None:
    run, steps = TASKS[task]
    run(tmp_path / "run", max_steps=steps, precision="bf16")
    saved = load_checkpoint(tmp_path / "run")
    assert saved.trainer_state["progress"]["step"] == steps
    assert all(tensor.dtype == torch.float32 for tensor in saved.model_state.values()
               if tensor.is_floating_point())
    assert all(torch.isfinite(tensor).all() for tensor in saved.model_state.values()
               if tensor.is_floating_point())


@pytest.mark.parametrize("task", sorted(TASKS))
def test_every_task_trains_in_precision_auto_and_records_its_choice(task: str,
                                                                    tmp_path: Path) -> None:
    run, steps = TASKS[task]
    run(tmp_path / "run", max_steps=steps, precision="auto")
    state = load_checkpoint(tmp_path / "run").trainer_state
    auto = state["precision"]["auto"]
    assert state["progress"]["step"] == steps
    assert "fp32" in auto["step_seconds"] and auto["chosen"] in auto["step_seconds"]
    assert state["environment"]["precision"] == auto["chosen"]
