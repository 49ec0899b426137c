"""Two gloo processes against one process and against the hand-written references.

``rnnkit train --nproc 2`` shares the training streams (two rows each) and the validation
streams (three rows: two on rank 0, one on rank 1) out over the processes. Its weights must
equal the hand-written truncated-BPTT loop that carries every row's state, and its
validation figures (on the schedule, on the first ``eval_max_tokens``, and the final one)
must equal the hand-written stateful loss on its final weights and the figures of the same
run in one process, to 1e-6.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from processes import child_environment, failure_output
from reference_loops import (
    char_ids,
    evaluation_rows,
    initial_model,
    max_difference,
    reset_validation_loss,
    sgd_truncated_bptt,
    split_by_position,
    stateful_validation_loss,
)

from rnnkit import train
from rnnkit.inference import load_language_model
from rnnkit.models import ModelConfig
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig

TEXT = ("the cat sat on the mat. a dog ran to the cat and the cat ran on.\n" * 5)[:300]
SEED, ROWS, SEQ_LEN, LR, STEPS = 4, 4, 7, 0.5, 5
EVAL_BATCH, EVAL_WINDOW, MAX_TOKENS = 3, 5, 40


def config_for(text_file: Path, out_dir: Path) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset=None, text_file=str(text_file), valid_fraction=0.25),
        model=ModelConfig(embedding_size=5, hidden_size=6, num_layers=2, dropout=0.0),
        train=TrainConfig(batch_size=ROWS, seq_len=SEQ_LEN, optimizer="sgd", lr=LR,
                          clip_norm=None, max_steps=STEPS, eval_every=STEPS,
                          eval_batch_size=EVAL_BATCH, eval_window=EVAL_WINDOW,
                          eval_max_tokens=MAX_TOKENS, log_every=1000, sample_length=1,
                          seed=SEED, out_dir=str(out_dir), progress=False, tensorboard=False,
                          threads=1, device="cpu"))


def flags_of(config: RunConfig) -> list[str]:
    settings = config.train
    return ["--text-file", config.data.text_file, "--valid-fraction", "0.25",
            "--embedding-size", "5", "--hidden-size", "6", "--num-layers", "2",
            "--dropout", "0", "--batch-size", str(ROWS), "--seq-len", str(SEQ_LEN),
            "--optimizer", "sgd", "--lr", str(LR), "--clip-norm", "none",
            "--max-steps", str(STEPS), "--eval-every", str(STEPS),
            "--eval-batch-size", str(EVAL_BATCH), "--eval-window", str(EVAL_WINDOW),
            "--eval-max-tokens", str(MAX_TOKENS), "--log-every", "1000",
            "--sample-length", "1", "--seed", str(SEED), "--out-dir", settings.out_dir,
            "--no-progress", "--no-tensorboard", "--threads", "1", "--device", "cpu"]


def validation_losses(out_dir: Path) -> list[float]:
    with (out_dir / "log.csv").open(encoding="utf-8") as handle:
        return [float(row["val_loss"]) for row in csv.DictReader(handle) if row["val_loss"]]


def test_two_processes_validate_and_carry_as_one_and_as_the_references(
        tmp_path: Path) -> None:
    text_file = tmp_path / "text.txt"
    text_file.write_text(TEXT, encoding="utf-8")
    two = config_for(text_file, tmp_path / "two")
    # What `rnnkit train --nproc 2` launches, without the launching process.
    environment = child_environment()
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             "--nproc_per_node=2", "-m", "rnnkit", "train", *flags_of(two)],
                            cwd=tmp_path, env=environment, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, failure_output(result)
    # The saved configuration is the one asked for: the flags really set the run.
    assert RunConfig.from_dict(load_checkpoint(tmp_path / "two").config) == replace(
        two, model=replace(two.model, vocab_size=len(set(TEXT))))

    train(config_for(text_file, tmp_path / "one"))
    one_figures, two_figures = (validation_losses(tmp_path / name) for name in ("one", "two"))
    assert len(two_figures) == 2  # on the schedule (first 40 tokens), then the final one
    assert two_figures == pytest.approx(one_figures, rel=1e-6, abs=1e-6)

    vocab, ids = char_ids(TEXT)
    train_ids, valid = split_by_position(ids, 0.25)
    model = load_language_model(tmp_path / "two", device="cpu").model
    head = valid[:MAX_TOKENS]
    expected = [stateful_validation_loss(model, head, evaluation_rows(len(head), EVAL_BATCH)),
                stateful_validation_loss(model, valid, evaluation_rows(len(valid), EVAL_BATCH))]
    dropped = reset_validation_loss(model, valid, evaluation_rows(len(valid), EVAL_BATCH),
                                    EVAL_WINDOW)
    assert abs(dropped - expected[1]) > 1e-4, "the control cannot tell"
    assert two_figures == pytest.approx(expected, rel=1e-6, abs=1e-6)

    model_config = replace(two.model, vocab_size=len(vocab))
    references = {carry: sgd_truncated_bptt(initial_model(model_config, SEED), train_ids,
                                            rows=ROWS, seq_len=SEQ_LEN, steps=STEPS, lr=LR,
                                            carry=carry).state_dict()
                  for carry in (True, False)}
    assert max_difference(references[True], references[False]) > 1e-3
    trained = load_checkpoint(tmp_path / "two").model_state
    assert max_difference(trained, references[True]) < 2e-5
