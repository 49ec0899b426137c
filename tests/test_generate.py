"""Sampling: carried state equals re-running the prefix, filters, seeds, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.generate import (
    SamplingOptions,
    draw_token,
    draw_tokens,
    filter_logits,
    sample_text,
    sample_tokens,
)

ALPHABET = "abcdefgh \n"


class TinyLanguageModel(nn.Module):
    """Embedding -> rnnkit.LSTM -> Linear, with the language-model interface."""

    def __init__(self, vocab_size: int, hidden_size: int = 12) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 6)
        self.lstm = rnnkit.LSTM(6, hidden_size, batch_first=True)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        output, state = self.lstm(self.embedding(tokens), state)
        return self.decoder(output), state


class CharVocab:
    """Stand-in vocabulary: one token per character."""

    def __init__(self, chars: str) -> None:
        self.chars = list(chars)
        self.index = {char: position for position, char in enumerate(chars)}

    def encode(self, text: str, strict: bool = True) -> list[int]:
        unknown = sorted(set(text) - set(self.index))
        if unknown and strict:
            raise ValueError(f"characters not in the vocabulary: {unknown}")
        return [self.index[char] for char in text if char in self.index]

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids)

    def __len__(self) -> int:
        return len(self.chars)


class RecordingModel(nn.Module):
    """Wraps a model; records the input shape and last-step logits of every call."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.calls: list[tuple[tuple[int, ...], torch.Tensor]] = []
        self.modes: list[bool] = []

    def forward(self, tokens, state=None):
        logits, state = self.model(tokens, state)
        self.calls.append((tuple(tokens.shape), logits[:, -1].clone()))
        self.modes.append(self.training)
        return logits, state


@pytest.fixture
def vocab() -> CharVocab:
    return CharVocab(ALPHABET)


@pytest.fixture
def model(vocab) -> TinyLanguageModel:
    torch.manual_seed(0)
    # Large output weights make the distributions peaked enough to tell seeds apart.
    model = TinyLanguageModel(len(vocab)).double()
    with torch.no_grad():
        model.decoder.weight.mul_(4)
    return model


def greedy_tokens(model: nn.Module, prime: list[int], length: int) -> list[int]:
    """Reference: re-run the whole prefix each step and take the argmax."""
    ids = list(prime)
    with torch.no_grad():
        for _ in range(length):
            logits, _ = model(torch.tensor([ids]))
            ids.append(int(logits[0, -1].argmax()))
    return ids[len(prime):]


# --- sampling with carried state ---------------------------------------------------------
def test_carried_state_gives_the_logits_of_rerunning_the_prefix(model):
    recorder = RecordingModel(model)
    prime = [0, 3, 5, 1]
    generator = torch.Generator().manual_seed(3)
    generated = sample_tokens(recorder, prime, 8, generator=generator, device="cpu")
    shapes = [shape for shape, _ in recorder.calls]
    assert shapes == [(1, len(prime))] + [(1, 1)] * 7  # prime once, then one token a call
    with torch.no_grad():
        for step, (_, logits) in enumerate(recorder.calls):
            prefix = torch.tensor([prime + generated[:step]])
            rerun, _ = model(prefix)
            torch.testing.assert_close(logits, rerun[:, -1], rtol=1e-12, atol=1e-12)


def test_top_k_one_is_greedy(model):
    prime = [2, 4]
    expected = greedy_tokens(model, prime, 12)
    for seed in (0, 1):
        generator = torch.Generator().manual_seed(seed)
        assert sample_tokens(model, prime, 12, top_k=1, generator=generator) == expected


def test_tiny_temperature_approaches_greedy(model):
    prime = [2, 4]
    generator = torch.Generator().manual_seed(5)
    sampled = sample_tokens(model, prime, 12, temperature=1e-6, generator=generator)
    assert sampled == greedy_tokens(model, prime, 12)
    logits = torch.tensor([[0.1, 0.3, 0.2]])
    probabilities = torch.softmax(filter_logits(logits, temperature=0.005), dim=-1)
    torch.testing.assert_close(probabilities, torch.tensor([[0.0, 1.0, 0.0]]), atol=1e-8, rtol=0)


def test_same_seed_same_text_different_seed_different_text(model, vocab):
    first = sample_text(model, vocab, "ab", 60, seed=11)
    assert sample_text(model, vocab, "ab", 60, seed=11) == first
    assert sample_text(model, vocab, "ab", 60, seed=12) != first
    assert first.startswith("ab") and len(first) == 62


def test_global_rng_untouched(model, vocab):
    before = torch.get_rng_state()
    sample_text(model, vocab, "abc", 20, seed=4)
    sample_text(model, vocab, "abc", 20, seed=None)
    assert torch.equal(torch.get_rng_state(), before)


def test_training_mode_restored_and_no_graph(model, vocab):
    recorder = RecordingModel(model)
    recorder.train()
    text = sample_text(recorder, vocab, "a", 5, seed=0)
    assert recorder.training and model.training and len(text) == 6
    assert not any(logits.requires_grad for _, logits in recorder.calls)
    assert recorder.modes == [False] * 5  # sampled in eval mode
    model.eval()
    sample_tokens(model, [1], 3)
    assert not model.training


def test_stop_at_ends_after_its_first_occurrence(model, vocab):
    full = sample_text(model, vocab, "ab", 80, seed=2)
    generated = full[2:]
    stop = generated[5:7]
    end = generated.find(stop) + len(stop)
    assert sample_text(model, vocab, "ab", 80, seed=2, stop_at=stop) == "ab" + generated[:end]
    later = generated[20:23]
    stops = (later, stop) if later not in generated[:end] else (stop,)
    assert sample_text(model, vocab, "ab", 80, seed=2, stop_at=stops) == "ab" + generated[:end]
    first = generated[1:3]
    cut = generated.find(first) + len(first)
    assert sample_text(model, vocab, "ab", 80, seed=2, stop_at=(stop, first)) == \
        "ab" + generated[:min(cut, end)]


def test_length_zero_returns_the_prime(model, vocab):
    assert sample_text(model, vocab, "abc", 0, seed=0) == "abc"


# --- filter_logits -----------------------------------------------------------------------
def test_top_k_keeps_exactly_k_and_breaks_ties_by_lower_id():
    logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    filtered = filter_logits(logits, top_k=2)
    assert torch.isfinite(filtered).sum(dim=-1).tolist() == [2, 2]
    assert torch.isfinite(filtered[0]).tolist() == [False, True, True, False, False]
    assert torch.isfinite(filtered[1]).tolist() == [True, True, False, False, False]
    assert torch.isfinite(filter_logits(logits, top_k=50)).all()  # clamped to the vocabulary


@pytest.mark.parametrize(("top_p", "kept"), [(0.8, 2), (0.81, 3), (0.5, 1), (0.01, 1),
                                             (0.95, 3), (0.96, 4), (1.0, 4)])
def test_top_p_keeps_the_minimal_nucleus(top_p, kept):
    probabilities = torch.tensor([[0.15, 0.5, 0.05, 0.3]])  # unsorted on purpose
    filtered = filter_logits(probabilities.log(), top_p=top_p)
    finite = torch.isfinite(filtered[0])
    assert int(finite.sum()) == kept
    by_probability = [1, 3, 0, 2]
    assert finite[by_probability[:kept]].all()


def test_filter_keeps_softmax_of_the_kept_tokens():
    logits = torch.randn(3, 7, generator=torch.Generator().manual_seed(0))
    filtered = filter_logits(logits, temperature=0.7)
    torch.testing.assert_close(torch.softmax(filtered, -1), torch.softmax(logits / 0.7, -1))


def test_temperature_zero_takes_the_most_likely_token_and_draws_nothing():
    logits = torch.randn(4, 9, generator=torch.Generator().manual_seed(3))
    logits[2, 5] = logits[2, 1] = logits[2].max() + 1  # a tie: the lower id wins
    filtered = filter_logits(logits, temperature=0, top_k=3, top_p=0.5)
    expected = logits.argmax(dim=-1)
    assert expected[2] == 1
    assert torch.equal(filtered.argmax(dim=-1), expected)
    assert torch.isinf(filtered).sum(dim=-1).tolist() == [8] * 4  # one finite entry a row
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    options = SamplingOptions(temperature=0)
    assert [draw_token(row[None], options, generator) for row in logits] == expected.tolist()
    assert torch.equal(generator.get_state(), state)


@pytest.mark.parametrize(("options", "words"), [
    ({"temperature": -1.0}, "temperature.*>= 0.*got -1.0"),
    ({"temperature": math.inf}, "temperature.*finite.*got inf"),
    ({"temperature": math.nan}, "temperature.*got nan"),
    ({"top_k": 0}, "top_k.*>= 1.*got 0"),
    ({"top_k": 2.5}, "top_k.*integer.*got 2.5"),
    ({"top_k": True}, "top_k.*got True"),
    ({"top_p": 0.0}, r"top_p.*\(0, 1\].*got 0.0"),
    ({"top_p": 1.5}, "top_p.*got 1.5"),
])
def test_invalid_sampling_options(options, words, model, vocab):
    with pytest.raises(ValueError, match=words):
        filter_logits(torch.zeros(1, 4), **options)
    with pytest.raises(ValueError, match=words):
        sample_text(model, vocab, "a", 3, **options)


def test_filter_logits_wants_batch_by_vocab():
    with pytest.raises(ValueError, match=r"\(batch, vocab\).*\(4,\)"):
        filter_logits(torch.zeros(4))


# --- bad requests ------------------------------------------------------------------------
def test_empty_prime_says_what_to_pass(model, vocab):
    with pytest.raises(ValueError, match=r"prime is empty.*pass some text"):
        sample_text(model, vocab, "", 5)
    with pytest.raises(ValueError, match="empty prime"):
        sample_tokens(model, [], 5)


def test_unknown_prime_characters_are_named(model, vocab):
    with pytest.raises(ValueError, match=r"\['Z', 'x'\]"):
        sample_text(model, vocab, "abZx", 5)


@pytest.mark.parametrize(("arguments", "words"), [
    ({"length": -1}, "length.*>= 0.*got -1"),
    ({"length": 2.0}, "length.*integer.*got 2.0"),
    ({"length": 3, "stop_at": ""}, "stop_at.*non-empty.*got ''"),
    ({"length": 3, "stop_at": ("a", "")}, "stop_at.*tuple of them"),
])
def test_invalid_length_and_stop(arguments, words, model, vocab):
    with pytest.raises(ValueError, match=words):
        sample_text(model, vocab, "a", **arguments)


def test_a_word_prime_without_newline_is_continued_not_ended():
    from rnnkit.data.vocab import Vocabulary

    words = Vocabulary.build("the cat sat\nthe dog ran\n", level="word")
    torch.manual_seed(0)
    model = TinyLanguageModel(len(words)).double()
    recorder = RecordingModel(model)
    text = sample_text(recorder, words, "the cat", 4, seed=0)
    assert recorder.calls[0][0] == (1, 2)  # "the cat", no <eos> appended
    assert text.startswith("the cat") and text[len("the cat")] in " \n"
    closed = RecordingModel(model)
    sample_text(closed, words, "the cat\n", 1, seed=0)
    assert closed.calls[0][0] == (1, 3)  # a finished line keeps its <eos>


# --- mutation-testing additions (docs/testing-mutation.md) --------------------------------
def reference_probabilities(logits: torch.Tensor, temperature: float, top_k, top_p):
    """NumPy: softmax(logits / T) restricted to the top-k and renormalized, then to the
    smallest set of most likely tokens reaching top_p of that (ties: lower id first)."""
    row = logits.double().numpy()[0] / temperature
    probabilities = np.exp(row - row.max())
    probabilities /= probabilities.sum()
    order = sorted(range(len(row)), key=lambda token: (-row[token], token))
    keep = order[:top_k] if top_k is not None else order
    if top_p is not None:
        kept, mass, total = [], 0.0, probabilities[keep].sum()
        for token in keep:
            kept.append(token)
            mass += probabilities[token] / total
            if mass >= top_p:
                break
        keep = kept
    restricted = np.zeros_like(probabilities)
    restricted[keep] = probabilities[keep]
    return torch.from_numpy(restricted / restricted.sum())


@pytest.mark.parametrize(("options", "seed"), [
    ({}, 0), ({"temperature": 0.6}, 1), ({"temperature": 1.7, "top_k": 4}, 2),
    ({"top_p": 0.7}, 3), ({"temperature": 0.8, "top_k": 6, "top_p": 0.9}, 4),
])
def test_seeded_draws_follow_the_filtered_softmax_of_a_hand_loop(model, options, seed):
    """Each draw is torch.multinomial on the reference distribution of the whole prefix
    (re-run from scratch), with the same generator: the same seed gives the same ids."""
    prime, length = [1, 4, 2], 25
    sampled = sample_tokens(model, prime, length, generator=torch.Generator().manual_seed(seed),
                            **options)
    generator, ids = torch.Generator().manual_seed(seed), list(prime)
    with torch.no_grad():
        for _ in range(length):
            logits, _ = model(torch.tensor([ids]))
            probabilities = reference_probabilities(
                logits[:, -1], options.get("temperature", 1.0), options.get("top_k"),
                options.get("top_p"))
            ids.append(int(torch.multinomial(probabilities, 1, generator=generator)))
    assert sampled == ids[len(prime):]
    assert len(set(sampled)) > 1  # the draws are not all the same token


@pytest.mark.parametrize(("temperature", "top_k", "seed"), [(1.0, None, 0), (0.7, 3, 1)])
def test_a_draw_of_several_rows_is_gumbel_max_over_uniform_noise(temperature, top_k, seed):
    """Several rows draw with E = -log U, U from one uniform_ of the batch's shape: the
    token of each row is the largest log p - log E, worked out here in NumPy from the
    same generator's torch.rand."""
    rows, vocab = 6, 9
    logits = torch.randn(rows, vocab, generator=torch.Generator().manual_seed(10 + seed))
    tokens = draw_tokens(logits, SamplingOptions(temperature, top_k),
                         torch.Generator().manual_seed(seed))
    uniform = torch.rand(rows, vocab, generator=torch.Generator().manual_seed(seed))
    log_e = np.log(-np.log(uniform.double().numpy()))
    for row, token in enumerate(tokens.tolist()):
        probabilities = reference_probabilities(logits[row:row + 1], temperature, top_k,
                                                None).numpy()
        with np.errstate(divide="ignore"):
            expected = int(np.argmax(np.log(probabilities) - log_e[row]))
        assert token == expected
    assert len(set(tokens.tolist())) > 1


def test_global_generator_draws_are_reproducible(model):
    torch.manual_seed(21)
    first = sample_tokens(model, [3], 30)
    torch.manual_seed(21)
    assert sample_tokens(model, [3], 30) == first


def test_filter_logits_shifts_scales_and_promotes_to_float32():
    logits = torch.tensor([[1.0, -2.0, 0.5], [4.0, 4.0, -1.0]])
    for dtype, expected_dtype in [(torch.float16, torch.float32),
                                  (torch.bfloat16, torch.float32),
                                  (torch.float32, torch.float32),
                                  (torch.float64, torch.float64)]:
        filtered = filter_logits(logits.to(dtype), temperature=0.5)
        assert filtered.dtype == expected_dtype
        expected = (logits - logits.max(dim=1, keepdim=True).values) / 0.5
        torch.testing.assert_close(filtered, expected.to(expected_dtype))
    torch.testing.assert_close(filter_logits(logits), logits - torch.tensor([[1.0], [4.0]]))


def test_top_p_one_and_top_k_of_the_vocabulary_keep_even_unlikely_tokens():
    logits = torch.tensor([[0.0, -30.0, -25.0]])
    assert torch.isfinite(filter_logits(logits, top_p=1.0)).all()
    assert torch.isfinite(filter_logits(logits, top_k=3)).all()
    assert torch.isfinite(filter_logits(logits, top_k=2)).tolist() == [[True, False, True]]


def test_ties_keep_the_lower_token_ids_in_large_vocabularies():
    logits = torch.zeros(2, 1000)
    logits[1, 500:] = 1.0
    assert torch.isfinite(filter_logits(logits, top_k=3)).nonzero()[:, 1].tolist() == \
        [0, 1, 2, 500, 501, 502]
    nucleus = filter_logits(logits[:1], top_p=0.0035)  # 3.5 tokens' worth of mass
    assert torch.isfinite(nucleus).nonzero()[:, 1].tolist() == [0, 1, 2, 3]


def test_nucleus_per_row_and_most_likely_always_kept():
    logits = torch.tensor([[0.2, 0.1, 0.7], [0.6, 0.3, 0.1]]).log()
    kept = torch.isfinite(filter_logits(logits, top_p=0.65)).tolist()
    assert kept == [[False, False, True], [True, True, False]]
    assert torch.isfinite(filter_logits(logits, top_p=1e-9)).tolist() == \
        [[False, False, True], [True, False, False]]


@pytest.mark.parametrize(("options", "words"), [
    ({"temperature": True}, "temperature.*got True"),
    ({"temperature": "1.0"}, "temperature.*got '1.0'"),
    ({"top_p": True}, "top_p.*got True"),
    ({"top_k": 2.0}, "top_k.*got 2.0"),
])
def test_booleans_and_strings_are_not_sampling_numbers(options, words):
    with pytest.raises(ValueError, match=words):
        filter_logits(torch.zeros(1, 4), **options)


@pytest.mark.parametrize(("arguments", "words"), [
    ({"length": True}, "length.*got True"),
    ({"length": 3, "stop_at": ()}, r"stop_at.*got \(\)"),
    ({"length": 3, "stop_at": ["a"]}, r"stop_at.*got \['a'\]"),
    ({"length": 3, "stop_at": ("a", 3)}, r"stop_at.*got \('a', 3\)"),
])
def test_more_invalid_lengths_and_stops(arguments, words, model, vocab):
    with pytest.raises(ValueError, match=words):
        sample_text(model, vocab, "a", **arguments)


def test_a_prime_that_is_not_a_string_is_a_type_error(model, vocab):
    with pytest.raises(TypeError, match="prime to be a string, got list"):
        sample_text(model, vocab, ["a"], 3)


def test_stop_at_the_very_first_generated_token(model, vocab):
    full = sample_text(model, vocab, "ab", 30, seed=7)
    assert sample_text(model, vocab, "ab", 30, seed=7, stop_at=full[2]) == full[:3]


def test_a_decoder_that_changes_the_prime_text_still_gives_prime_plus_generated(model):
    class ClosingVocab(CharVocab):
        """Decodes with a full stop closing the text, so the prime's text is not a prefix."""

        def decode(self, ids) -> str:
            return super().decode(ids) + "."

    closing, plain = ClosingVocab(ALPHABET), CharVocab(ALPHABET)
    expected = sample_text(model, plain, "ab", 12, seed=3)
    assert sample_text(model, closing, "ab", 12, seed=3) == expected + "."


def test_a_model_without_parameters_samples_on_the_cpu():
    class Table(nn.Module):
        """Next-token logits from a fixed table; the state counts the calls."""

        def forward(self, tokens, state=None):
            logits = torch.full((*tokens.shape, 3), -30.0)
            logits[..., 2] = 0.0
            return logits, (0 if state is None else state + 1)

    assert sample_tokens(Table(), [0], 4) == [2, 2, 2, 2]


def test_a_word_prime_ending_with_a_carriage_return_keeps_its_eos():
    from rnnkit.data.vocab import Vocabulary

    words = Vocabulary.build("the cat sat\nthe dog ran\n", level="word")
    torch.manual_seed(0)
    recorder = RecordingModel(TinyLanguageModel(len(words)).double())
    sample_text(recorder, words, "the cat\r", 1, seed=0)
    assert recorder.calls[0][0] == (1, 3)


def test_a_nucleus_that_reaches_top_p_within_the_tolerance_takes_no_more_tokens():
    """Four equal tokens (a quarter each, exact in binary): two reach 0.5, so a top_p of
    0.5 + NUCLEUS_TOLERANCE keeps two, not three."""
    from rnnkit.generate import NUCLEUS_TOLERANCE

    filtered = filter_logits(torch.zeros(1, 4), top_p=0.5 + NUCLEUS_TOLERANCE)
    assert torch.isfinite(filtered).tolist() == [[True, True, False, False]]
    filtered = filter_logits(torch.zeros(1, 4), top_p=0.5 + 3 * NUCLEUS_TOLERANCE)
    assert torch.isfinite(filtered).tolist() == [[True, True, True, False]]


def test_sample_text_is_the_prime_and_sample_tokens_with_the_seeded_generator(model, vocab):
    ids = sample_tokens(model, vocab.encode("ab"), 20, generator=torch.Generator().manual_seed(3))
    assert sample_text(model, vocab, "ab", 20, seed=3) == "ab" + vocab.decode(ids)
    assert sample_text(model, vocab, "ab", 20, seed=3, device="cpu") == "ab" + vocab.decode(ids)


def test_the_prime_is_encoded_strictly_even_by_a_lenient_vocabulary(model):
    class LenientVocab(CharVocab):
        """Drops unknown characters unless asked to be strict."""

        def encode(self, text: str, strict: bool = False) -> list[int]:
            return super().encode(text, strict)

    with pytest.raises(ValueError, match=r"\['Z'\]"):
        sample_text(model, LenientVocab(ALPHABET), "abZ", 3, seed=0)


def test_model_device_is_the_first_parameter_or_buffer_else_the_cpu():
    from rnnkit.generate import model_device

    assert model_device(nn.Linear(2, 2, device="meta")) == torch.device("meta")
    buffers_only = nn.Module()
    buffers_only.register_buffer("table", torch.zeros(2, device="meta"))
    assert model_device(buffers_only) == torch.device("meta")
    assert model_device(nn.Identity()) == torch.device("cpu")


def test_stop_at_cuts_at_the_first_occurrence_inside_one_word():
    from rnnkit.data.vocab import Vocabulary

    words = Vocabulary.build("banana banana\n", level="word")
    banana = words.encode("banana")[0]

    class Banana(nn.Module):
        def forward(self, tokens, state=None):
            logits = torch.full((*tokens.shape, len(words)), -50.0)
            logits[..., banana] = 0.0
            return logits, state

    assert sample_text(Banana(), words, "banana", 3, seed=0, stop_at="an") == "banana ban"


def test_an_empty_prime_of_ids_is_refused_word_for_word(model):
    with pytest.raises(ValueError) as error:
        sample_tokens(model, [], 5)
    assert str(error.value) == "expected at least one prime token id, got an empty prime"
