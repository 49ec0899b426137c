"""Greedy, beam and sampled decoding: beam width 1 is greedy, a wide beam finds the best
sequence an exhaustive search finds, and a batch decodes as its rows do alone."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnkit.decode import beam_search, greedy_decode, sample_decode
from rnnkit.models.factory import build_seq2seq
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig


def model_for(seed: int, attention: str = "additive", target_vocab: int = 9,
              architecture: str = "rnn") -> Seq2Seq:
    torch.manual_seed(seed)
    config = Seq2SeqConfig(source_vocab_size=11, target_vocab_size=target_vocab,
                           embedding_size=6, hidden_size=8, attention=attention,
                           architecture=architecture, num_heads=2, num_layers=1)
    return build_seq2seq(config).eval()


SOURCE = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 0, 0, 0], [5, 3, 10, 0, 0]])
LENGTHS = torch.tensor([5, 2, 3])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("attention", "architecture"),
                         [("none", "rnn"), ("dot", "rnn"), ("none", "transformer")])
def test_beam_of_width_one_is_greedy(seed: int, attention: str, architecture: str) -> None:
    model = model_for(seed, attention, architecture=architecture)
    assert beam_search(model, SOURCE, LENGTHS, 12, beam_width=1) == greedy_decode(
        model, SOURCE, LENGTHS, 12)


def sequence_log_prob(model: Seq2Seq, row: int, tokens: list[int]) -> float:
    """Summed log-probability of ``tokens`` (ending with the end token if it has one)."""
    memory, state = model.encode(SOURCE[row:row + 1], LENGTHS[row:row + 1])
    previous, total = model.config.bos_id, 0.0
    with torch.no_grad():
        for token in tokens:
            logits, state, _ = model.decode_step(torch.tensor([previous]), state, memory)
            total += float(torch.log_softmax(logits, dim=1)[0, token])
            previous = token
    return total


def scored_tokens(body: list[int], eos: int, max_length: int) -> list[int]:
    """What a decoded output was scored on: its tokens and the end token, unless it was
    cut at ``max_length``."""
    return [*body, eos] if len(body) < max_length else body


@pytest.mark.parametrize("architecture", ["rnn", "transformer"])
@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_a_wide_beam_finds_the_exhaustive_best(length_penalty: float,
                                               architecture: str) -> None:
    """Vocabulary of 5 (pad, bos, eos, 2 symbols), at most 3 steps: every hypothesis fits
    in a beam of 25, so beam search must return the best-scoring one."""
    model = model_for(7, target_vocab=5, architecture=architecture)
    eos, symbols, max_length = 2, [0, 1, 3, 4], 3

    def score(row: int, body: list[int]) -> float:
        tokens = scored_tokens(body, eos, max_length)
        return sequence_log_prob(model, row, tokens) / len(tokens) ** length_penalty

    for row in range(3):
        bodies = [list(body) for length in range(max_length + 1)
                  for body in itertools.product(symbols, repeat=length)]
        best = max(bodies, key=lambda body: score(row, body))
        found = beam_search(model, SOURCE[row:row + 1], LENGTHS[row:row + 1], max_length,
                            beam_width=25, length_penalty=length_penalty)[0]
        assert math.isclose(score(row, found), score(row, best), abs_tol=1e-6), (found, best)


@pytest.mark.parametrize("architecture", ["rnn", "transformer"])
def test_beam_search_decodes_a_batch_as_its_rows_alone(architecture: str) -> None:
    model = model_for(3, architecture=architecture)
    together = beam_search(model, SOURCE, LENGTHS, 10, beam_width=4)
    alone = [beam_search(model, SOURCE[r:r + 1, :LENGTHS[r]], LENGTHS[r:r + 1], 10,
                         beam_width=4)[0] for r in range(3)]
    assert together == alone
    assert greedy_decode(model, SOURCE, LENGTHS, 10) == [
        greedy_decode(model, SOURCE[r:r + 1, :LENGTHS[r]], LENGTHS[r:r + 1], 10)[0]
        for r in range(3)]


def test_decoding_stops_at_the_end_token_and_respects_max_length() -> None:
    model = model_for(5)
    eos = model.config.eos_id
    with torch.no_grad():
        model.output.bias[eos] = 100.0  # the end token wins at once
    assert greedy_decode(model, SOURCE, LENGTHS, 4) == [[], [], []]
    assert beam_search(model, SOURCE, LENGTHS, 4, beam_width=3) == [[], [], []]
    with torch.no_grad():
        model.output.bias[eos] = -100.0  # the end token never comes
    assert [len(tokens) for tokens in greedy_decode(model, SOURCE, LENGTHS, 4)] == [4, 4, 4]
    assert [len(tokens) for tokens in beam_search(model, SOURCE, LENGTHS, 4)] == [4, 4, 4]


def test_sampling_is_reproducible_and_checks_temperature() -> None:
    model = model_for(2)
    first = sample_decode(model, SOURCE, LENGTHS, 8, generator=torch.Generator().manual_seed(0))
    again = sample_decode(model, SOURCE, LENGTHS, 8, generator=torch.Generator().manual_seed(0))
    assert first == again
    with pytest.raises(ValueError, match="temperature > 0"):
        sample_decode(model, SOURCE, LENGTHS, 8, temperature=0.0)
    with pytest.raises(ValueError, match="beam_width to be at least 1"):
        beam_search(model, SOURCE, LENGTHS, 8, beam_width=0)


def test_decoding_runs_without_dropout_and_gives_back_the_training_mode() -> None:
    model = model_for(4)
    expected = greedy_decode(model, SOURCE, LENGTHS, 8)
    model.train()
    assert greedy_decode(model, SOURCE, LENGTHS, 8) == expected  # dropout was off
    assert beam_search(model, SOURCE, LENGTHS, 8, beam_width=1) == expected
    assert model.training
