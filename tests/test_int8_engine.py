"""Choosing the quantized engine of an int8 generation step by timing it (rnnkit.int8_engine).

Which engine is faster depends on the CPU, so the tests make each outcome happen with a
timer of their own and check what was packed, and run the real timer once end to end.
"""

from __future__ import annotations

import logging

import pytest
import torch

from rnnkit.data.vocab import Vocabulary
from rnnkit.generate import sample_texts
from rnnkit.int8_engine import (
    ENGINE_PROBE_MIN_STREAMS,
    ENGINE_PROBE_STEPS,
    ENGINE_SWITCH_MARGIN,
    candidate_engines,
    fastest_int8_decoder,
    median_step_seconds,
)
from rnnkit.models.language_model import LanguageModel, ModelConfig
from rnnkit.step_decoder import StepDecoder

DEFAULT_ENGINE = torch.backends.quantized.engine


def step_decoder(cell: str = "lstm") -> StepDecoder:
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=11, cell=cell, hidden_size=16,
                                      embedding_size=8, num_layers=2)).eval()
    return StepDecoder.from_model(model)


def engines_of(decoder: StepDecoder) -> set[str]:
    return {cell.engine for cell in decoder.cells}


def timer_favouring(fast: str, calls: list[tuple[str, int]], ratio: float = 0.5):
    """A timer under which ``fast``'s step takes ``ratio`` of the other engine's."""
    def seconds(decoder: StepDecoder, streams: int) -> float:
        (engine,) = engines_of(decoder)
        calls.append((engine, streams))
        return 0.002 * ratio if engine == fast else 0.002
    return seconds


def test_the_default_engine_is_not_onednn_and_onednn_is_there() -> None:
    # the choice below is between two engines only where both hold
    assert DEFAULT_ENGINE != "onednn"
    assert "onednn" in torch.backends.quantized.supported_engines


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("fast", [DEFAULT_ENGINE, "onednn"])
def test_many_streams_keep_the_engine_timed_fastest(cell: str, fast: str) -> None:
    calls: list[tuple[str, int]] = []
    decoder = fastest_int8_decoder(step_decoder(cell), 64, timer_favouring(fast, calls))
    assert engines_of(decoder) == {fast}
    assert sorted(calls) == sorted([(DEFAULT_ENGINE, 64), ("onednn", 64)])
    assert torch.backends.quantized.engine == DEFAULT_ENGINE  # given back after packing


@pytest.mark.parametrize(("ratio", "kept"), [
    (ENGINE_SWITCH_MARGIN, "onednn"), (ENGINE_SWITCH_MARGIN + 0.01, DEFAULT_ENGINE)])
def test_onednn_must_be_faster_by_the_margin_to_replace_the_current_engine(
        ratio: float, kept: str) -> None:
    # the engines round differently: a near tie keeps the current one, and the same text
    decoder = fastest_int8_decoder(step_decoder(), 64, timer_favouring("onednn", [], ratio))
    assert engines_of(decoder) == {kept}


def test_few_streams_pack_for_the_current_engine_untimed() -> None:
    calls: list[tuple[str, int]] = []
    few = ENGINE_PROBE_MIN_STREAMS - 1
    decoder = fastest_int8_decoder(step_decoder(), few, timer_favouring("onednn", calls))
    assert engines_of(decoder) == {DEFAULT_ENGINE} and calls == []
    assert candidate_engines(few) == [DEFAULT_ENGINE]
    assert candidate_engines(ENGINE_PROBE_MIN_STREAMS) == [DEFAULT_ENGINE, "onednn"]


def test_the_timer_runs_the_decoders_own_steps_at_the_width_asked() -> None:
    decoder = fastest_int8_decoder(step_decoder(), 1)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        seconds = median_step_seconds(decoder, 9)
    products = [event for event in profile.events() if event.name == "quantized::linear_dynamic"]
    assert len(products) == 2 * (ENGINE_PROBE_STEPS + 1)  # two layers, one warm-up step
    assert 0 < seconds < 1


def test_sampling_many_int8_streams_logs_the_timed_choice(
        caplog: pytest.LogCaptureFixture) -> None:
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(vocab_size=4, hidden_size=16, embedding_size=8))
    vocab = Vocabulary(list("abc\n"), "char")
    with caplog.at_level(logging.INFO, logger="rnnkit.int8_engine"):
        texts = sample_texts(model, vocab, "a", 20, streams=ENGINE_PROBE_MIN_STREAMS, seed=1,
                             quantize="int8")
    assert len(texts) == ENGINE_PROBE_MIN_STREAMS and all(len(text) == 21 for text in texts)
    (line,) = [record.getMessage() for record in caplog.records]
    assert line.startswith(f"int8 engine for {ENGINE_PROBE_MIN_STREAMS} streams: ")
    assert f"{DEFAULT_ENGINE} " in line and "onednn " in line and " us a step" in line
