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


class ScriptedStream:
    """Stands in for the model's stream: each ``sample`` writes the next scripted piece."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces, self.text = list(pieces), ""

    def sample(self, stops: tuple[str, ...], limit: int) -> str:
        piece = self.pieces.pop(0)
        assert len(piece) <= limit
        self.text += piece
        return piece

    def feed(self, text: str) -> str:
        self.text += text
        return text


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


def test_header_priming_finishes_the_lines_the_model_begins() -> None:
    spellings = HeaderSpellings(TRAINING)
    forced = tunes._forced_lines(TuneRequest(key="D", meter="6/8"), spellings)
    stream = ScriptedStream(["T:", "Sampled\n", "Z:", "id\n", "M:", "L:", "1/8\n", "K:"])
    header = tunes._forced_header(stream, forced)
    assert header == "T:Sampled\nZ:id\nM:6/8\nL:1/8\nK:D Major\n"
    assert stream.text == header  # the model read the forced lines too


def test_a_field_the_model_never_begins_is_not_invented() -> None:
    forced = tunes._forced_lines(TuneRequest(meter="C|"), HeaderSpellings(TRAINING))
    stream = ScriptedStream(["T:", "No meter\n", "K:", "A\n"])
    header = tunes._forced_header(stream, forced)
    assert header == "T:No meter\nK:A\n"


def test_a_header_that_never_ends_is_unfinished() -> None:
    forced = tunes._forced_lines(TuneRequest(key="D"), HeaderSpellings(TRAINING))
    stream = ScriptedStream(["T:", "again\n"] * tunes.HEADER_LINES_MAX)
    assert tunes._forced_header(stream, forced) is None
    assert tunes._forced_header(ScriptedStream(["T:", "x\n", "\n"]), forced) is None


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


def test_tunes_follow_a_warm_up_tune_and_end_cleanly(monkeypatch, model_and_vocab) -> None:
    model, vocab = model_and_vocab
    pieces = ["1\n", "T:warm-up\nK:D\nabc|\n\n",                     # thrown away
              "2\n", "T:A\nM:6/8\nL:1/8\nK:D Major\nA|dfa agf|d3 d2:|\nX:",  # runs on
              "3\n", "T:B\nM:6/8\nL:1/8\nK:D\nA|dfa agf|d3"]           # never ends
    scripted = ScriptedStream(pieces)
    monkeypatch.setattr(tunes, "_Stream", lambda *args: scripted)
    first, second = generate_tunes(model, vocab, 2, settings=SamplingSettings(max_length=60))
    assert first.finished and first.valid
    assert first.text == "X:2\nT:A\nM:6/8\nL:1/8\nK:D Major\nA|dfa agf|d3 d2:|"
    assert not second.finished and not second.valid
    assert scripted.text.startswith("X:1\nT:warm-up")
    assert "d3 d2:|\nX:3\n" in scripted.text  # the next tune went on from the X: written
