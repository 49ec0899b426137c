"""Sampled tokens follow softmax(logits / temperature), truncated by top-k and top-p.

A model whose next-token logits are fixed (a real :class:`LanguageModel` or
:class:`Seq2Seq` whose output layer has zero weights and the logits as its bias) is sampled
many times with a fixed seed, through the public samplers (``rnnkit.generate.sample_tokens``
and ``sample_text``, ``rnnkit.decode.sample_decode``). The expected distribution is written
out with NumPy: ``softmax(logits / temperature)``, the ``k`` largest kept, then the smallest
set of most likely tokens whose mass reaches ``p`` kept, renormalized. Tokens outside the
kept set must never come; the frequencies of the others pass a chi-square test
(scipy.stats.chisquare). Each case also names the distributions a near miss would give
(temperature ignored, one token too many or too few) and checks that the same draws reject
them, so the test can tell.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from rnnkit.decode import sample_decode
from rnnkit.generate import SamplingOptions, draw_tokens, sample_text, sample_tokens
from rnnkit.models import LanguageModel, ModelConfig
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

# No two equal, not sorted: a sampler that confuses positions with ranks shows.
LOGITS = np.array([0.4, 2.0, -1.0, 0.9, -1.8, 1.3, 0.1, -0.5])
DRAWS = 2000
ACCEPT = 1e-3  # p-value the right distribution must pass (draws are seeded: no flakes)
REJECT = 1e-6  # p-value below which a near miss counts as told apart


def expected_distribution(logits: np.ndarray, temperature: float = 1.0,
                          top_k: int | None = None, top_p: float | None = None) -> np.ndarray:
    """softmax(logits / temperature) over the top-k, then the nucleus, renormalized."""
    scaled = logits / temperature
    probabilities = np.exp(scaled - scaled.max())
    probabilities /= probabilities.sum()
    order = np.argsort(-probabilities)
    keep = np.zeros(len(logits), dtype=bool)
    keep[order[: top_k or len(logits)]] = True
    probabilities = np.where(keep, probabilities, 0.0) / probabilities[keep].sum()
    if top_p is not None:
        mass, nucleus = 0.0, np.zeros(len(logits), dtype=bool)
        for token in order:
            if mass >= top_p or not keep[token]:
                break
            nucleus[token] = True
            mass += probabilities[token]
        probabilities = np.where(nucleus, probabilities, 0.0) / probabilities[nucleus].sum()
    return probabilities


def check_frequencies(tokens: list[int], expected: np.ndarray,
                      near_misses: list[np.ndarray]) -> None:
    counts = np.bincount(np.asarray(tokens), minlength=len(expected))
    assert counts.sum() == DRAWS
    outside = (expected == 0) & (counts > 0)
    assert not outside.any(), f"tokens {np.flatnonzero(outside)} are outside the kept set"
    kept = expected > 0
    fit = chisquare(counts[kept], DRAWS * expected[kept]).pvalue
    assert fit > ACCEPT, f"frequencies {counts} do not follow {np.round(expected, 4)}: p={fit}"
    for wrong in near_misses:
        assert not np.allclose(wrong, expected)
        if ((wrong == 0) & (counts > 0)).any():
            continue  # the draws hold a token this distribution never gives: told apart
        support = wrong > 0
        miss = chisquare(counts[support], DRAWS * wrong[support]).pvalue
        assert miss < REJECT, f"the draws cannot tell {np.round(wrong, 4)} apart: p={miss}"


class FixedLogits(torch.nn.Module):
    """A language model (``model(tokens, state) -> (logits, state)``) whose next-token
    logits are always ``logits``; its state counts the tokens it has read."""

    def __init__(self, logits: np.ndarray) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.from_numpy(logits).float())

    def forward(self, tokens: torch.Tensor, state: torch.Tensor | None = None):
        batch, time = tokens.shape
        read = (0 if state is None else state) + time
        return self.logits.expand(batch, time, -1), torch.as_tensor(read)


def test_a_language_model_with_zero_decoder_weights_has_fixed_logits() -> None:
    """The same sampler on a real LanguageModel whose decoder gives fixed logits: a
    shorter run (its steps are slower), one case, the same checks."""
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=len(LOGITS), embedding_size=4,
                                      hidden_size=4, num_layers=1, dropout=0.0))
    with torch.no_grad():
        model.decoder.weight.zero_()
        model.decoder.bias.copy_(torch.from_numpy(LOGITS))
    draws = 600
    tokens = sample_tokens(model, [0], draws, temperature=0.5, top_k=4,
                           generator=torch.Generator().manual_seed(3))
    expected = expected_distribution(LOGITS, 0.5, 4)
    counts = np.bincount(tokens, minlength=len(LOGITS))
    assert (counts[expected == 0] == 0).all()
    assert chisquare(counts[expected > 0], draws * expected[expected > 0]).pvalue > ACCEPT
    ignored = expected_distribution(LOGITS, 1.0, 4)
    assert chisquare(counts[ignored > 0], draws * ignored[ignored > 0]).pvalue < REJECT


CASES = {
    # name: (temperature, top_k, top_p, near misses as (temperature, top_k, top_p))
    "plain": (1.0, None, None, [(0.8, None, None)]),
    "sharper": (0.6, None, None, [(1.0, None, None)]),
    "flatter": (1.7, None, None, [(1.0, None, None)]),
    "top_k": (0.6, 3, None, [(0.6, 2, None), (0.6, 4, None), (1.0, 3, None)]),
    # top_p between two cumulative masses (3 tokens, then 4 of the
    # top 5); the near misses keep one token fewer or more
    "top_p": (1.0, None, 0.7, [(1.0, 2, None), (1.0, 4, None), (0.7, None, 0.7)]),
    "top_k_then_top_p": (2.0, 5, 0.8, [(2.0, 3, None), (2.0, 5, None), (1.0, 5, 0.8)]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_language_model_sampling_follows_the_truncated_softmax(case: str) -> None:
    temperature, top_k, top_p, misses = CASES[case]
    expected = expected_distribution(LOGITS, temperature, top_k, top_p)
    # The cases put the nucleus edge away from a token boundary, and keep 2+ tokens.
    assert (expected > 0).sum() >= 2
    tokens = sample_tokens(FixedLogits(LOGITS), [0], DRAWS,
                           temperature=temperature, top_k=top_k, top_p=top_p,
                           generator=torch.Generator().manual_seed(1))
    check_frequencies(tokens, expected,
                      [expected_distribution(LOGITS, *miss) for miss in misses])


@pytest.mark.parametrize("case", list(CASES))
def test_a_draw_of_many_rows_follows_the_truncated_softmax_in_every_row(case: str) -> None:
    """Many streams draw one batch: its noise comes from ``uniform_`` rather than
    ``exponential_`` (rnnkit.generate.EXPONENTIAL_NOISE_MAX_ROWS), by the same checks."""
    temperature, top_k, top_p, misses = CASES[case]
    logits = torch.from_numpy(LOGITS).float().expand(DRAWS, -1)  # (rows, vocab), all alike
    tokens = draw_tokens(logits, SamplingOptions(temperature, top_k, top_p),
                         torch.Generator().manual_seed(2))
    assert tokens.shape == (DRAWS,)
    check_frequencies(tokens.tolist(), expected_distribution(LOGITS, temperature, top_k, top_p),
                      [expected_distribution(LOGITS, *miss) for miss in misses])


def test_the_nucleus_cases_sit_away_from_a_boundary() -> None:
    """top_p = 0.7 and 0.8 fall between two cumulative masses, not on one (else one token
    more or less would be a matter of rounding)."""
    for temperature, top_k, top_p in ((1.0, None, 0.7), (2.0, 5, 0.8)):
        truncated = expected_distribution(LOGITS, temperature, top_k)
        cumulative = np.cumsum(np.sort(truncated)[::-1])
        assert np.min(np.abs(cumulative - top_p)) > 0.03


def test_sample_text_follows_the_softmax_too() -> None:
    class Letters:
        """A character vocabulary: a..h."""

        def encode(self, text: str, strict: bool = True) -> list[int]:
            return [ord(char) - ord("a") for char in text]

        def decode(self, ids: list[int]) -> str:
            return "".join(chr(ord("a") + int(i)) for i in ids)

        def __len__(self) -> int:
            return len(LOGITS)

    text = sample_text(FixedLogits(LOGITS), Letters(), "a", DRAWS,
                       temperature=0.7, top_k=6, seed=4)
    tokens = Letters().encode(text[1:])
    check_frequencies(tokens, expected_distribution(LOGITS, 0.7, 6),
                      [expected_distribution(LOGITS, 1.0, 6),
                       expected_distribution(LOGITS, 0.7, 5)])


def fixed_logits_seq2seq(logits: np.ndarray, attention: str) -> Seq2Seq:
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(source_vocab_size=5, target_vocab_size=len(logits),
                                  embedding_size=4, hidden_size=4, attention=attention,
                                  dropout=0.0))
    with torch.no_grad():
        model.output.weight.zero_()
        model.output.bias.copy_(torch.from_numpy(logits))
    return model


@pytest.mark.parametrize(("temperature", "attention"),
                         [(1.0, "none"), (0.5, "additive"), (2.0, "dot")])
def test_seq2seq_sampling_follows_the_softmax(temperature: float, attention: str) -> None:
    """Every source row draws its first target token once: ``DRAWS`` rows, one batch."""
    model = fixed_logits_seq2seq(LOGITS, attention)
    source = torch.randint(3, 5, (DRAWS, 3), generator=torch.Generator().manual_seed(0))
    lengths = torch.full((DRAWS,), 3)
    rows = sample_decode(model, source, lengths, 1, temperature=temperature,
                         generator=torch.Generator().manual_seed(2))
    eos = model.config.eos_id
    tokens = [row[0] if row else eos for row in rows]  # a row that drew the end token is []
    expected = expected_distribution(LOGITS, temperature)
    misses = [expected_distribution(LOGITS, 1.0 if temperature != 1.0 else 0.8)]
    check_frequencies(tokens, expected, misses)
