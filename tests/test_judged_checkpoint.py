"""A run is read at its best: sample, eval, export, web and music generate take the ``best``
checkpoint unless a tag is named, and ``latest`` where the run saved no ``best``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.inference import evaluate_checkpoint, load_language_model, sample
from rnnkit.models.language_model import ModelConfig
from rnnkit.tasks.language_model.training import train
from rnnkit.training.checkpoint import judged_tag, load_checkpoint, save_checkpoint
from rnnkit.training.config import DataConfig, RunConfig, TrainConfig


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained run whose ``best`` is made a model that knows nothing: a zero decoder,
    which gives every token the same probability (loss ln(vocabulary))."""
    folder = tmp_path_factory.mktemp("judged")
    text = folder / "text.txt"
    text.write_text("the rain in spain stays mainly in the plain\n" * 200)
    out_dir = folder / "run"
    train(RunConfig(data=DataConfig(dataset=None, text_file=str(text)),
                    model=ModelConfig(embedding_size=8, hidden_size=16, num_layers=1,
                                      dropout=0.0),
                    train=TrainConfig(max_steps=40, eval_every=40, batch_size=4, seq_len=16,
                                      sample_length=0, progress=False, tensorboard=False,
                                      threads=1, out_dir=str(out_dir))))
    latest = load_checkpoint(out_dir, trainer=False)
    knows_nothing = {name: torch.zeros_like(tensor) if name.startswith("decoder") else tensor
                     for name, tensor in latest.model_state.items()}
    save_checkpoint(out_dir, model_state=knows_nothing, config=latest.config,
                    vocab=latest.vocab, tag="best")
    return out_dir


def test_eval_reads_best_unless_told(run_folder: Path) -> None:
    untold = evaluate_checkpoint(run_folder, device="cpu")
    best = evaluate_checkpoint(run_folder, tag="best", device="cpu")
    latest = evaluate_checkpoint(run_folder, tag="latest", device="cpu")
    vocabulary = len(load_language_model(run_folder, tag="latest").vocab)
    assert untold["checkpoint"] == "best" and latest["checkpoint"] == "latest"
    assert untold["loss"] == best["loss"] == pytest.approx(math.log(vocabulary), abs=1e-6)
    assert latest["loss"] < untold["loss"] - 0.1  # the trained weights, not the uniform ones


def test_sample_reads_best_unless_told(run_folder: Path) -> None:
    draw = dict(prime="the ", length=60, temperature=1.0, seed=4, device="cpu")
    assert sample(run_folder, **draw) == sample(run_folder, tag="best", **draw)
    assert sample(run_folder, **draw) != sample(run_folder, tag="latest", **draw)


def test_the_cli_reads_best_and_names_it(run_folder: Path) -> None:
    command = [sys.executable, "-m", "rnnkit", "eval", "--checkpoint", str(run_folder),
               "--json", "--device", "cpu"]
    untold = json.loads(subprocess.run(command, capture_output=True, text=True,
                                       check=True).stdout)
    told = json.loads(subprocess.run([*command, "--tag", "latest"], capture_output=True,
                                     text=True, check=True).stdout)
    assert (untold["checkpoint"], told["checkpoint"]) == ("best", "latest")
    assert untold["loss"] > told["loss"]


def test_a_run_without_best_is_read_at_latest(run_folder: Path, tmp_path: Path) -> None:
    latest = load_checkpoint(run_folder, trainer=False)
    save_checkpoint(tmp_path, model_state=latest.model_state, config=latest.config,
                    vocab=latest.vocab)  # stopped before its first validation
    assert judged_tag(tmp_path) == "latest"
    assert load_language_model(tmp_path).tag == "latest"
    assert judged_tag(run_folder) == "best"
