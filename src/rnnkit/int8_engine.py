"""Which of torch's quantized engines runs an int8 generation step fastest, measured.

torch packs int8 weights for one engine's kernels. fbgemm's (the ``x86`` engine's) are the
faster at one stream on the project's CPUs: 117 us against oneDNN's 243 for a 2048 x 1024
product of one row. With many streams the order can turn: where oneDNN multiplies on AMX
tiles, 64 rows take it 553 us against fbgemm's 992. Which one wins depends on the CPU and
the streams, so :func:`fastest_int8_decoder` packs the step for each candidate and times a
few steps of the caller's width before keeping one, as ``precision = "auto"`` does for
training (:mod:`rnnkit.training.precision`).
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable

import torch

from rnnkit.quantized_step import FULL_RANGE_ENGINE
from rnnkit.step_decoder import StepDecoder, quantize_step_decoder

logger = logging.getLogger(__name__)

#: Fewer streams than this keep the current engine untimed (one stream: fbgemm, 2.4x
#: faster than oneDNN here); timing the other costs its packing, 20-30 ms for a 2x512 LSTM.
ENGINE_PROBE_MIN_STREAMS = 8
#: Steps timed per engine, after one untimed step; the median is kept.
ENGINE_PROBE_STEPS = 5
#: Another engine replaces the current one only when its step takes at most this fraction
#: of the current one's. The engines round differently, so the same seed gives another
#: text under each; the margin keeps the choice, and with it the text, from turning on
#: timing noise where the two are close (on the project's AMX host oneDNN's 64-stream step
#: takes 0.76 of fbgemm's).
ENGINE_SWITCH_MARGIN = 0.9

#: Seconds a step of a decoder takes at a width: ``(decoder, streams) -> seconds``.
StepTimer = Callable[[StepDecoder, int], float]


def candidate_engines(streams: int) -> list[str]:
    """The engines :func:`fastest_int8_decoder` tries for ``streams`` streams: the current
    one, and oneDNN too where torch has it and the streams are many."""
    current = torch.backends.quantized.engine
    engines = [current]
    if (streams >= ENGINE_PROBE_MIN_STREAMS and current != FULL_RANGE_ENGINE
            and FULL_RANGE_ENGINE in torch.backends.quantized.supported_engines):
        engines.append(FULL_RANGE_ENGINE)
    return engines


@torch.no_grad()
def median_step_seconds(decoder: StepDecoder, streams: int) -> float:
    """Median seconds of :data:`ENGINE_PROBE_STEPS` buffered steps of ``decoder`` at
    ``streams`` streams from a zero state, after one untimed step."""
    step = decoder.buffered_step(decoder.zero_state(streams))
    tokens = torch.zeros(streams, dtype=torch.long)
    seconds = []
    for index in range(ENGINE_PROBE_STEPS + 1):
        start = time.perf_counter()
        step(tokens)
        if index > 0:
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def fastest_int8_decoder(step: StepDecoder, streams: int,
                         timer: StepTimer = median_step_seconds) -> StepDecoder:
    """``step`` under dynamic int8 quantization (:func:`~rnnkit.step_decoder
    .quantize_step_decoder`), packed for the engine of :func:`candidate_engines` whose
    step ``timer`` measures as the fastest at ``streams`` streams, the current engine
    unless another is faster by :data:`ENGINE_SWITCH_MARGIN`; one candidate is packed
    untimed. The choice and the timings go to the log."""
    decoders = {engine: quantize_step_decoder(step, "int8", engine)
                for engine in candidate_engines(streams)}
    if len(decoders) == 1:
        return next(iter(decoders.values()))
    seconds = {engine: timer(decoder, streams) for engine, decoder in decoders.items()}
    current, *others = seconds
    fastest = min(others, key=seconds.__getitem__)
    chosen = fastest if seconds[fastest] <= ENGINE_SWITCH_MARGIN * seconds[current] else current
    logger.info("int8 engine for %d streams: %s (%s)", streams, chosen, ", ".join(
        f"{engine} {value * 1e6:.0f} us a step" for engine, value in seconds.items()))
    return decoders[chosen]
