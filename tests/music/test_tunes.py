"""Sampling whole tunes: the stop at a blank line, seeds, and header priming for key/meter."""

import pytest
import torch

from rnnkit.data.vocab import Vocabulary
from rnnkit.models.language_model import LanguageModel, ModelConfig
from rnnkit.music import tunes
from rnnkit.music.tunes import HeaderSpellings, SamplingSettings, TuneRequest, generate_tunes

TRAINING = ("X:1\nT:One\nM:6/8\nL:1/8\nK:D Major\nA|dfa agf|d3 d2:|\n\n"
            "X:2\nT:Two\nM:C|\nL:1/8\nK:E Minor\nB|e2 ef gfed|e4 e2:|\n\n"
            "X:3\nT:Three\nM:6/8\nL:1/8\nK:Dmaj\nd|fed cBA|d3 d2:|\n\n")


class ScriptedSampler:
    """Stands in for the model: each call writes the next scripted line, whatever came."""

    def __init__(self, lines: list[str], body: str) -> None:
        self.lines, self.body = list(lines), body

    def continue_until(self, text: str, stop_at: str, length: int) -> str:
        if stop_at == "\n":
            return text + self.lines.pop(0) + "\n"
        return text + self.body


def test_requests_are_normalized_and_checked() -> None:
    request = TuneRequest(key="Em", meter="C|")
    assert (request.key, request.meter, request.empty) == ("E minor", "2/2", False)
    assert TuneRequest().empty
    with pytest.raises(ValueError, match="not a tonic"):
        TuneRequest(key="Q")
    with pytest.raises(ValueError, match="meter"):
        TuneRequest(meter="six-eight")


def test_spellings_follow_the_training_text() -> None:
    spellings = HeaderSpellings(TRAINING)
    assert spellings.key_line("D major") == "K:D Major"  # 1 "D Major" vs 1 "Dmaj": first seen
    assert spellings.meter_line("2/2") == "M:C|"
    with pytest.raises(ValueError, match=r"no training tune is in key 'G major'.*D major"):
        spellings.key_line("G major")


def test_header_priming_replaces_the_fields_the_model_writes() -> None:
    sampler = ScriptedSampler(["1", "T:Sampled", "Z:id", "M:3/4", "L:1/8", "K:G Major"],
                              body="ga|b2 a2 g2|\n\n")
    text = tunes._primed_tune(sampler, TuneRequest(key="D", meter="6/8"),
                              HeaderSpellings(TRAINING), max_length=500)
    assert text == "X:1\nT:Sampled\nZ:id\nM:6/8\nL:1/8\nK:D Major\nga|b2 a2 g2|\n\n"


def test_header_priming_inserts_a_meter_the_model_skipped() -> None:
    sampler = ScriptedSampler(["7", "T:No meter", "K:A"], body="abc|\n\n")
    text = tunes._primed_tune(sampler, TuneRequest(meter="C|"), HeaderSpellings(TRAINING),
                              max_length=500)
    assert text == "X:7\nT:No meter\nM:C|\nK:A\nabc|\n\n"


def test_a_header_that_never_ends_is_unfinished() -> None:
    sampler = ScriptedSampler(["1"] + ["T:again"] * tunes.HEADER_LINES_MAX, body="")
    text = tunes._primed_tune(sampler, TuneRequest(key="D"), HeaderSpellings(TRAINING), 500)
    assert "K:" not in text


@pytest.fixture
def model_and_vocab() -> tuple[LanguageModel, Vocabulary]:
    torch.manual_seed(0)
    vocab = Vocabulary.build(TRAINING, level="char")
    model = LanguageModel(ModelConfig(vocab_size=len(vocab), hidden_size=16,
                                      embedding_size=8, num_layers=1, dropout=0.0))
    return model, vocab


def test_tunes_are_seeded_and_start_with_the_prime(model_and_vocab) -> None:
    model, vocab = model_and_vocab
    settings = SamplingSettings(max_length=60)
    first = list(generate_tunes(model, vocab, 3, seed=5, settings=settings))
    again = list(generate_tunes(model, vocab, 3, seed=5, settings=settings))
    other = list(generate_tunes(model, vocab, 3, seed=6, settings=settings))
    assert [t.text for t in first] == [t.text for t in again] != [t.text for t in other]
    assert [t.index for t in first] == [0, 1, 2]
    assert all(t.text.startswith("X:") and len(t.text) <= 62 for t in first)
    assert all(t.finished or not t.valid for t in first)  # an unfinished tune is invalid
    assert all("\n\n" not in t.text for t in first)  # a tune ends at its first blank line


def test_a_request_needs_spellings(model_and_vocab) -> None:
    model, vocab = model_and_vocab
    with pytest.raises(ValueError, match="header spellings"):
        next(generate_tunes(model, vocab, 1, request=TuneRequest(key="D")))


def test_a_tune_running_into_the_next_ends_there(monkeypatch, model_and_vocab) -> None:
    model, vocab = model_and_vocab
    written = {"X:": "X:1\nT:A\nM:6/8\nL:1/8\nK:D Major\nA|dfa agf|d3 d2:|\nX:"}

    class Scripted:
        def __init__(self, *args) -> None:
            pass

        def continue_until(self, text, stop_at, length):
            assert stop_at == tunes.TUNE_ENDS
            return written[text]

    monkeypatch.setattr(tunes, "_Sampler", Scripted)
    (tune,) = generate_tunes(model, vocab, 1)
    assert tune.finished and tune.valid
    assert tune.text == "X:1\nT:A\nM:6/8\nL:1/8\nK:D Major\nA|dfa agf|d3 d2:|"
