"""Shared test settings: one thread per worker (pytest-xdist runs two), float64 where asked;
a small text file for training runs."""

import random
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


def pytest_configure(config):
    # torch's own fused LSTM says this on CPU whenever proj_size > 0 (torch.nn.LSTM too).
    config.addinivalue_line(
        "filterwarnings", "ignore:LSTM with projections is not supported with oneDNN:UserWarning"
    )


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    """1,500 words drawn (seed 0) from eight, a 17-character vocabulary: small enough for a
    training run of a few steps, varied enough that a model learns something."""
    rng = random.Random(0)
    words = ["the ", "cat ", "sat ", "on ", "a ", "mat.\n", "dog ", "ran "]
    path = tmp_path / "tiny.txt"
    path.write_text("".join(rng.choice(words) for _ in range(1500)), encoding="utf-8")
    return path
