"""The trainer's updates equal a hand-written truncated-BPTT loop that carries the state.

``rnnkit.train`` runs a few SGD steps on a tiny text; the same steps are written out by
hand (:mod:`reference_loops`: NumPy streams and windows, a hand-written cross-entropy,
``p -= lr * grad``). The final weights the trainer saved must equal the hand loop that carries
the detached state from window to window (and resets it at the epoch boundary), and must
not equal the same loop without the carry: so the test can tell a trainer that drops the
state from one that carries it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from reference_loops import (
    char_ids,
    initial_model,
    max_difference,
    sgd_truncated_bptt,
    split_by_position,
    streams_of,
)

from rnnkit import train
from rnnkit.models import ModelConfig
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig

SEED, ROWS, SEQ_LEN, LR = 3, 3, 7, 0.5
TEXT = ("the cat sat on the mat. a dog ran to the cat and the cat ran on.\n" * 4)[:230]
MATCH = 2e-5     # float32: the trainer and the hand loop round differently, a little
DIFFERENT = 1e-3  # dropping the state moves the weights by far more than that


def carry_config(text_file: Path, out_dir: Path, cell: str, steps: int) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset=None, text_file=str(text_file), valid_fraction=0.2),
        model=ModelConfig(cell=cell, embedding_size=5, hidden_size=6, num_layers=2,
                          dropout=0.0),
        train=TrainConfig(batch_size=ROWS, seq_len=SEQ_LEN, optimizer="sgd", lr=LR,
                          clip_norm=None, max_steps=steps, eval_every=1000, eval_batch_size=2,
                          eval_window=16, log_every=1000,  # no row logged: no plot to draw
                          sample_length=1, seed=SEED, out_dir=str(out_dir),
                          progress=False, tensorboard=False, threads=1, device="cpu"),
    )


@pytest.mark.parametrize("cell", ["lstm", "gru", "mingru"])
def test_the_trainer_carries_the_state_from_window_to_window(tmp_path: Path,
                                                             cell: str) -> None:
    text_file = tmp_path / "text.txt"
    text_file.write_text(TEXT, encoding="utf-8")
    vocab, ids = char_ids(TEXT)
    train_ids, _ = split_by_position(ids, 0.2)
    per_epoch = -(-(streams_of(train_ids, ROWS).shape[1] - 1) // SEQ_LEN)
    steps = per_epoch + 2  # into the second epoch, where the state starts from zero again
    config = carry_config(text_file, tmp_path / "run", cell, steps)
    result = train(config)
    assert result.steps == steps and result.epochs == 1
    saved = load_checkpoint(tmp_path / "run")
    assert saved.vocab["tokens"] == list(vocab)  # the same ids as the hand loop's
    trained = saved.model_state

    model_config = replace(config.model, vocab_size=len(vocab))
    references = {}
    for carry in (True, False):
        model = sgd_truncated_bptt(initial_model(model_config, SEED), train_ids, rows=ROWS,
                                   seq_len=SEQ_LEN, steps=steps, lr=LR, carry=carry)
        references[carry] = {name: value.detach() for name, value in
                             model.state_dict().items()}
    start = initial_model(model_config, SEED).state_dict()
    assert max_difference(trained, start) > DIFFERENT, "the run did not move the weights"
    assert max_difference(references[True], references[False]) > DIFFERENT, (
        "the test cannot tell: carrying the state or not gives the same weights")
    with_carry = max_difference(trained, references[True])
    without = max_difference(trained, references[False])
    assert with_carry < MATCH, (
        f"the trainer's weights differ from truncated BPTT with the state carried by "
        f"{with_carry:.3g} (from the loop without the carry by {without:.3g})")


def test_a_resumed_run_carries_the_saved_state_into_its_next_window(tmp_path: Path) -> None:
    """Stopping after window 2 and resuming gives the weights of the hand loop that carries
    the state across the stop: the state saved with the checkpoint is the one used."""
    text_file = tmp_path / "text.txt"
    text_file.write_text(TEXT, encoding="utf-8")
    vocab, ids = char_ids(TEXT)
    train_ids, _ = split_by_position(ids, 0.2)
    train(carry_config(text_file, tmp_path / "run", "lstm", 2))
    config = carry_config(text_file, tmp_path / "run", "lstm", 4)
    train(replace(config, train=replace(config.train, resume=True)))
    trained = load_checkpoint(tmp_path / "run").model_state
    model_config = replace(config.model, vocab_size=len(vocab))
    references = {
        carry: sgd_truncated_bptt(initial_model(model_config, SEED), train_ids, rows=ROWS,
                                  seq_len=SEQ_LEN, steps=4, lr=LR, carry=carry).state_dict()
        for carry in (True, False)}
    assert max_difference(references[True], references[False]) > DIFFERENT
    assert max_difference(trained, references[True]) < MATCH
