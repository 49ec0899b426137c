"""Sampling: carried state equals re-running the prefix, filters, seeds, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import rnnkit
from rnnkit.generate import filter_logits, sample_text, sample_tokens

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


@pytest.mark.parametrize(("options", "words"), [
    ({"temperature": 0}, "temperature.*> 0.*got 0"),
    ({"temperature": -1.0}, "temperature.*got -1.0"),
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
