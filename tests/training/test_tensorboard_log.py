"""A run with TensorBoard on writes the scalars log.csv holds, step for step.

The event file is read back with TensorBoard's own reader (``EventAccumulator``), so the
test checks what a user would see, not what the writer was asked to write.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from rnnkit import train
from rnnkit.models import ModelConfig
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator")

TRAIN_SCALARS = {"train/train_loss": "train_loss", "train/lr": "lr",
                 "train/grad_norm": "grad_norm", "train/tokens_per_s": "tokens_per_s"}
VALID_SCALARS = {"valid/loss": "val_loss", "valid/perplexity": "val_perplexity",
                 "valid/bits_per_token": "val_bits_per_token"}


def test_tensorboard_scalars_equal_the_csv_log(tmp_path: Path) -> None:
    text_file = tmp_path / "text.txt"
    text_file.write_text("the cat sat on the mat. a dog ran.\n" * 12, encoding="utf-8")
    out_dir = tmp_path / "run"
    train(RunConfig(
        data=DataConfig(dataset=None, text_file=str(text_file)),
        model=ModelConfig(embedding_size=4, hidden_size=8, num_layers=1, dropout=0.0),
        train=TrainConfig(batch_size=2, seq_len=8, max_steps=7, eval_every=3, log_every=2,
                          schedule="cosine", lr=1e-2, eval_batch_size=2, eval_window=16,
                          sample_length=1, seed=1, out_dir=str(out_dir), progress=False,
                          tensorboard=True, threads=1, device="cpu")))
    with (out_dir / "log.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    train_rows = [row for row in rows if row["train_loss"]]
    valid_rows = [row for row in rows if row["val_loss"]]
    assert [int(row["step"]) for row in train_rows] == [2, 4, 6]
    assert [int(row["step"]) for row in valid_rows] == [3, 6, 7]  # 7: the final validation

    events = list((out_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1, events
    reader = event_accumulator.EventAccumulator(str(events[0]), size_guidance={
        event_accumulator.SCALARS: 0})
    reader.Reload()
    assert set(reader.Tags()["scalars"]) == set(TRAIN_SCALARS) | set(VALID_SCALARS)
    for tags, logged in ((TRAIN_SCALARS, train_rows), (VALID_SCALARS, valid_rows)):
        for tag, column in tags.items():
            scalars = reader.Scalars(tag)
            assert [event.step for event in scalars] == [int(r["step"]) for r in logged], tag
            for event, row in zip(scalars, logged, strict=True):
                # TensorBoard stores float32
                assert event.value == pytest.approx(float(row[column]), rel=1e-6), (
                    tag, event.step)
