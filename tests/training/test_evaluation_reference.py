"""Validation and ``rnnkit eval`` figures equal a hand-written loss over the same text.

The reference (:mod:`reference_loops`) reads each validation stream from its first token to
its last in one forward pass and scores it with a NumPy log-softmax; the fixed-context
figure scores non-overlapping windows, each from a zero state. The trainer's validation
(after training and on the schedule, on the whole split and on its first
``eval_max_tokens``), ``evaluate_checkpoint`` and ``rnnkit eval --json`` must give those
numbers. A control shows that a validation which drops the state between windows would
give another number, so the test can tell.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from reference_loops import (
    char_ids,
    evaluation_rows,
    fixed_context_loss,
    reset_validation_loss,
    split_by_position,
    stateful_validation_loss,
)

from rnnkit import train
from rnnkit.cli import main
from rnnkit.inference import evaluate_checkpoint, load_language_model
from rnnkit.models import ModelConfig
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig

TEXT = ("the cat sat on the mat. a dog ran to the cat and the cat ran on.\n" * 10)[:620]
OTHER = "a cat ran on the mat. the dog sat.\nthe dog ran to a mat and on.\n" * 5
STEPS, EVAL_BATCH, EVAL_WINDOW, MAX_TOKENS = 12, 3, 8, 61
TOLERANCE = 1e-5  # relative; float32 model, windows against one pass per stream


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small LSTM trained 12 steps; it validates on the schedule at its last step."""
    folder = tmp_path_factory.mktemp("evaluation")
    text_file = folder / "text.txt"
    text_file.write_text(TEXT, encoding="utf-8")
    config = RunConfig(
        data=DataConfig(dataset=None, text_file=str(text_file), valid_fraction=0.2),
        model=ModelConfig(embedding_size=8, hidden_size=12, num_layers=2, dropout=0.0),
        train=TrainConfig(batch_size=4, seq_len=10, lr=1e-2, max_steps=STEPS,
                          eval_every=STEPS, eval_batch_size=EVAL_BATCH,
                          eval_window=EVAL_WINDOW, eval_max_tokens=MAX_TOKENS,
                          log_every=1000, sample_length=1, seed=5,
                          out_dir=str(folder / "run"),
                          progress=False, tensorboard=False, threads=1, device="cpu"),
    )
    train(config)
    return folder / "run"


def validation_rows(run: Path) -> list[dict[str, str]]:
    with (run / "log.csv").open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["val_loss"]]


def test_validation_equals_a_hand_written_stateful_loss(trained: Path) -> None:
    model = load_language_model(trained, device="cpu").model
    _, ids = char_ids(TEXT)
    _, valid = split_by_position(ids, 0.2)
    whole = stateful_validation_loss(model, valid, evaluation_rows(len(valid), EVAL_BATCH))
    first = valid[:MAX_TOKENS]
    head = stateful_validation_loss(model, first, evaluation_rows(len(first), EVAL_BATCH))
    dropped = reset_validation_loss(model, valid, evaluation_rows(len(valid), EVAL_BATCH),
                                    EVAL_WINDOW)
    assert abs(dropped - whole) > 100 * TOLERANCE * whole, "the control cannot tell"
    scheduled, final = validation_rows(trained)  # step 12 on schedule, then the final one
    assert int(scheduled["step"]) == int(final["step"]) == STEPS
    assert float(scheduled["val_loss"]) == pytest.approx(head, rel=TOLERANCE)
    assert float(final["val_loss"]) == pytest.approx(whole, rel=TOLERANCE)


def test_evaluate_checkpoint_equals_hand_written_stateful_and_windowed_losses(
        trained: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.txt"
    other.write_text(OTHER, encoding="utf-8")
    model = load_language_model(trained, device="cpu").model
    table, _ = char_ids(TEXT)
    ids = np.array([table[char] for char in OTHER])
    rows = evaluation_rows(len(ids), 4)
    report = evaluate_checkpoint(trained, text_file=str(other), window=10, batch_size=4,
                                 device="cpu")
    stateful = stateful_validation_loss(model, ids, rows)
    assert abs(reset_validation_loss(model, ids, rows, EVAL_WINDOW) - stateful) > (
        100 * TOLERANCE * stateful)
    assert report["tokens"] == len(ids)
    assert report["loss"] == pytest.approx(stateful, rel=TOLERANCE)
    assert report["stateful_loss"] == pytest.approx(stateful, rel=TOLERANCE)
    assert report["window10_loss"] == pytest.approx(fixed_context_loss(model, ids, 10),
                                                    rel=TOLERANCE)


def test_rnnkit_eval_json_reports_the_hand_written_losses(trained: Path, capsys) -> None:
    model = load_language_model(trained, device="cpu").model
    _, ids = char_ids(TEXT)
    _, valid = split_by_position(ids, 0.2)
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(trained), "--json", "--window", "12",
                 "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    # `rnnkit eval` lays the text out as evaluate_checkpoint's default 16 streams
    expected = stateful_validation_loss(model, valid, evaluation_rows(len(valid), 16))
    assert report["loss"] == pytest.approx(expected, rel=TOLERANCE)
    assert report["window12_loss"] == pytest.approx(fixed_context_loss(model, valid, 12),
                                                    rel=TOLERANCE)
