"""Sampling from a recurrent language model, carrying its state from step to step.

The prime runs through the model once, as one sequence; after that each new token is fed
alone with the carried state, so generating ``n`` tokens costs ``n`` one-step forwards and
never re-runs the prefix. Expects the interface of :class:`rnnkit.LanguageModel`::

    model(tokens, state=None) -> (logits, state)
    tokens: (batch, time) int64     logits: (batch, time, vocab)     state: opaque

and a vocabulary with ``encode(text, strict=True) -> list[int]`` (``ValueError`` on unknown
tokens), ``decode(ids) -> str`` and ``len(vocab)``.

Sampling options (applied in this order by :func:`filter_logits`): ``temperature`` divides
the logits (below 1 sharpens, above 1 flattens; 0 is greedy decoding: the most likely
token, the lowest id among equals, every time, with no draw); ``top_k`` keeps the ``k`` most likely
tokens; ``top_p`` keeps the smallest set of most likely tokens whose probability reaches
``p`` (nucleus sampling, Holtzman et al., 2020).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from rnnkit.int8_engine import fastest_int8_decoder
from rnnkit.step_decoder import (
    StepDecoder,
    check_quantize,
    step_decoder_blocker,
)

NUCLEUS_TOLERANCE = 1e-6
_SMALLEST_NORMAL = torch.finfo(torch.float32).tiny
#: Draws of up to this many rows take their exponential noise from ``exponential_``, as
#: ``torch.multinomial`` does, so that one stream's tokens are multinomial's, draw for draw.
#: Larger draws (many streams) take it as ``-log U`` from ``uniform_``, the same
#: distribution at a third of the cost: 64 rows of 84 tokens took 108 us against 35 us on
#: the project's CPU, where ``exponential_`` computes one double logarithm per element
#: serially; that was a sixth of a 64-stream int8 step.
EXPONENTIAL_NOISE_MAX_ROWS = 1
#: How often (in tokens) several streams are checked for ``stop_at``.
STOP_CHECK_INTERVAL = 32


class Vocabulary(Protocol):
    """What generation needs from a vocabulary."""

    def encode(self, text: str, strict: bool = True) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class SamplingOptions:
    """Validated ``temperature``, ``top_k`` and ``top_p`` (see :func:`filter_logits`)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        temperature, top_k, top_p = self.temperature, self.top_k, self.top_p
        if not _is_real(temperature) or not math.isfinite(temperature) or temperature < 0:
            raise ValueError(f"expected temperature to be a finite number >= 0 (0: the most "
                             f"likely token), got {temperature!r}")
        if top_k is not None and (not _is_integer(top_k) or top_k < 1):
            raise ValueError(f"expected top_k to be None or an integer >= 1, got {top_k!r}")
        if top_p is not None and (not _is_real(top_p) or not 0 < top_p <= 1):
            raise ValueError(f"expected top_p to be None or a number in (0, 1], got {top_p!r}")


def filter_logits(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Tensor:
    """Scaled logits with every token outside the top-k / nucleus set to ``-inf``.

    Shapes:
        logits: (batch, vocab)
        output: (batch, vocab), float32 (float64 if given float64)

    Each row is shifted so that its largest logit is 0 before dividing by ``temperature``
    (softmax is unchanged, and a tiny temperature cannot overflow to ``inf - inf``).
    ``top_k`` is clamped to the vocabulary size; among equal logits the lower token id is
    kept, so exactly ``k`` entries stay finite. ``top_p`` keeps the most likely tokens
    until their probability mass reaches ``top_p`` (within ``NUCLEUS_TOLERANCE``, so that
    rounding in the logits cannot add a token), and always keeps the most likely one.

    >>> filter_logits(torch.tensor([[1.0, 3.0, 2.0]]), top_k=2)
    tensor([[-inf,  0., -1.]])
    """
    options = SamplingOptions(temperature, top_k, top_p)
    if logits.dim() != 2:
        raise ValueError(f"filter_logits expected logits of shape (batch, vocab), got shape "
                         f"{tuple(logits.shape)}")
    return _filter(logits, options)


def _filter(logits: Tensor, options: SamplingOptions) -> Tensor:
    scores = logits.to(torch.promote_types(logits.dtype, torch.float32))
    if options.temperature == 0:  # greedy: the limit of a vanishing temperature
        best = scores.argmax(dim=-1, keepdim=True)
        return torch.full_like(scores, -math.inf).scatter_(-1, best, 0.0)
    scores = (scores - scores.max(dim=-1, keepdim=True).values) / options.temperature
    if options.top_k is not None and options.top_k < scores.size(-1):
        scores = _keep_top_k(scores, options.top_k)
    if options.top_p is not None and options.top_p < 1:
        scores = _keep_nucleus(scores, options.top_p)
    return scores


def _keep_top_k(scores: Tensor, k: int) -> Tensor:
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices
    keep = torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, order[:, :k], True)
    return scores.masked_fill(~keep, -math.inf)


def _keep_nucleus(scores: Tensor, top_p: float) -> Tensor:
    sorted_scores, order = torch.sort(scores, dim=-1, descending=True, stable=True)
    probabilities = torch.softmax(sorted_scores.double(), dim=-1)
    mass_before = probabilities.cumsum(dim=-1) - probabilities  # (batch, vocab), sorted
    keep_sorted = mass_before < top_p - NUCLEUS_TOLERANCE
    keep_sorted[:, 0] = True
    keep = torch.zeros_like(keep_sorted).scatter_(-1, order, keep_sorted)
    return scores.masked_fill(~keep, -math.inf)


def sample_tokens(
    model: nn.Module,
    prime_ids: Sequence[int],
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    fast: bool = True,
) -> list[int]:
    """``length`` token ids sampled after ``prime_ids`` (the prime is not included).

    ``generator`` must live on ``device`` (default: the device of the model's parameters);
    ``None`` draws from torch's global generator. The model runs in eval mode under
    ``torch.no_grad()`` and gets its training mode back afterwards. ``fast`` steps through
    a :class:`~rnnkit.step_decoder.StepDecoder` when the model allows one (the same
    tokens, see :func:`sample_texts`).
    """
    options = SamplingOptions(temperature, top_k, top_p)
    _check_request(prime_ids, length)
    device = model_device(model) if device is None else torch.device(device)
    with inference_mode(model):
        stepper = _stepper(model, fast, None)
        return [int(token) for token in _token_steps(model, stepper, prime_ids, length, 1,
                                                     options, generator, device)]


def sample_text(
    model: nn.Module,
    vocab: Vocabulary,
    prime: str,
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    device: str | torch.device | None = None,
    stop_at: str | tuple[str, ...] | None = None,
    fast: bool = True,
    quantize: str | None = None,
) -> str:
    """``prime`` followed by up to ``length`` sampled tokens, as text.

    The prime is encoded strictly, so characters the vocabulary lacks raise its
    ``ValueError``. Draws come from a private ``torch.Generator`` seeded with ``seed``
    (unpredictable if ``None``): the global RNG is left untouched, and the same seed gives
    the same text on the same device. With ``stop_at`` (a string, or a tuple of strings),
    generation ends as soon as the generated part contains one of them, and the text ends
    just after the first such occurrence. ``fast`` and ``quantize``: see
    :func:`sample_texts`.
    Trap: with ``stop_at`` the generated text is decoded after every token.
    """
    return sample_texts(model, vocab, prime, length, streams=1, temperature=temperature,
                        top_k=top_k, top_p=top_p, seed=seed, device=device, stop_at=stop_at,
                        fast=fast, quantize=quantize)[0]


def sample_texts(
    model: nn.Module,
    vocab: Vocabulary,
    prime: str,
    length: int,
    *,
    streams: int = 1,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    device: str | torch.device | None = None,
    stop_at: str | tuple[str, ...] | None = None,
    fast: bool = True,
    quantize: str | None = None,
) -> list[str]:
    """``streams`` texts from one prime, generated side by side as one batch.

    Each is what :func:`sample_text` describes; the streams draw from one generator, so
    stream ``i`` of a seed is not the one-stream text of any seed. A batch of streams
    costs little more per step than one on a CPU, where reading the weights bounds a
    step. With ``stop_at`` and several streams, the texts are checked every
    ``STOP_CHECK_INTERVAL`` tokens and generation ends once every stream has stopped.

    ``fast=True`` steps through a :class:`~rnnkit.step_decoder.StepDecoder` (torch's
    one-step cells holding the model's weights) when the model allows one, and through
    the model's own forward otherwise; both give the same tokens for the same seed
    (tests/test_step_decoder.py). ``quantize="int8"`` steps through the decoder under
    torch's dynamic quantization (CPU only), and refuses a model it cannot hold; with many
    streams it packs the weights for the quantized engine it measures as the fastest by a
    margin (:mod:`rnnkit.int8_engine`), and engines round differently: the same seed gives
    the same int8 text where the same engine is chosen (the log names it).
    """
    options = SamplingOptions(temperature, top_k, top_p)
    stops = _check_stops(stop_at)
    if not _is_integer(streams) or streams < 1:
        raise ValueError(f"expected streams to be an integer >= 1, got {streams!r}")
    prime_ids = _encode_prime(vocab, prime)
    _check_request(prime_ids, length)
    device = model_device(model) if device is None else torch.device(device)
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    with inference_mode(model):
        stepper = _stepper(model, fast, quantize, streams)
        steps = _token_steps(model, stepper, prime_ids, length, streams, options, generator,
                             device)
        return [prime + text for text in _generated_texts(vocab, prime_ids, steps, streams,
                                                           stops)]


def _check_stops(stop_at: str | tuple[str, ...] | None) -> tuple[str, ...] | None:
    stops = (stop_at,) if isinstance(stop_at, str) else stop_at
    if stops is not None and (not isinstance(stops, tuple) or not stops or not all(
            isinstance(stop, str) and stop for stop in stops)):
        raise ValueError(f"expected stop_at to be None, a non-empty string or a tuple of "
                         f"them, got {stop_at!r}")
    return stops


def _encode_prime(vocab: Vocabulary, prime: str) -> list[int]:
    if not isinstance(prime, str):
        raise TypeError(f"expected prime to be a string, got {type(prime).__name__}")
    prime_ids = vocab.encode(prime, strict=True) if prime else []
    if getattr(vocab, "level", "char") == "word" and not prime.endswith(("\n", "\r")):
        # Word-level encoding closes every line with <eos>; an unfinished prime line is
        # to be continued, not ended.
        prime_ids = prime_ids[:-1]
    if not prime_ids:
        raise ValueError(f"prime is empty (got {prime!r}); the model needs at least one token "
                         f"to start from: pass some text, e.g. one character of the training "
                         f"text such as a newline")
    return prime_ids


def _check_request(prime_ids: Sequence[int], length: int) -> None:
    if len(prime_ids) == 0:
        raise ValueError("expected at least one prime token id, got an empty prime")
    if not _is_integer(length) or length < 0:
        raise ValueError(f"expected length to be an integer >= 0, got {length!r}")


def _stepper(model: nn.Module, fast: bool, quantize: str | None, streams: int = 1
             ) -> StepDecoder | None:
    """The step decoder generation runs through, or None for the model's own forward; under
    ``quantize``, packed for the quantized engine fastest at ``streams`` streams."""
    blocker = step_decoder_blocker(model)
    if quantize is not None:
        check_quantize(quantize)
        if blocker is not None:
            raise ValueError(f"quantize={quantize!r} steps through torch's one-step cells, "
                             f"which cannot hold this model: {blocker}")
        return fastest_int8_decoder(StepDecoder.from_model(model), streams)
    return StepDecoder.from_model(model) if fast and blocker is None else None


def _token_steps(
    model: nn.Module,
    stepper: StepDecoder | None,
    prime_ids: Sequence[int],
    length: int,
    streams: int,
    options: SamplingOptions,
    generator: torch.Generator | None,
    device: torch.device,
) -> Iterator[Tensor]:
    """Yields the (streams,) ids of each step; the caller holds the model in eval mode
    without gradients. The prime runs through the model's own forward, once per stream
    on the plain path (whatever form its state takes) and once in all for the decoder."""
    if length == 0:
        return
    rows = 1 if stepper is not None else streams
    tokens = torch.tensor([list(prime_ids)] * rows, dtype=torch.long, device=device)
    logits, state = model(tokens, None)  # tokens: (rows, time)
    logits = logits[:, -1].expand(streams, -1)  # (streams, vocab)
    advance = (_model_steps(model, state) if stepper is None
               else stepper.buffered_step(stepper.repeat_state(state, streams)))
    for position in range(length):
        token = draw_tokens(logits, options, generator)  # (streams,)
        yield token
        if position + 1 == length:
            return
        logits = advance(token)


def _model_steps(model: nn.Module, state: Any) -> Callable[[Tensor], Tensor]:
    """The plain path's step: tokens (streams,) -> logits (streams, vocab) through the
    model's own forward, its state carried from ``state`` on."""
    def step(tokens: Tensor) -> Tensor:
        nonlocal state
        logits, state = model(tokens.unsqueeze(1), state)  # (streams, 1, vocab)
        return logits[:, -1]
    return step


def draw_tokens(logits: Tensor, options: SamplingOptions,
                generator: torch.Generator | None = None) -> Tensor:
    """One token id per row of ``logits`` (batch, vocab) under ``options``: a (batch,)
    int64 tensor (at temperature 0 the most likely ids, and ``generator`` is not drawn
    from).

    Each row is one draw from the softmax of its filtered logits by the Gumbel-max trick:
    with ``E`` an Exp(1) variable per token, drawn from ``generator``, the token of the
    largest ``scores - log E`` is so distributed. For one row ``E`` comes from one
    ``exponential_`` of shape (1, vocab), so ``torch.multinomial(softmax, 1)`` draws the
    same token from the same generator (the largest ``p / E``; tests/test_generate.py holds
    the two to equal ids), behind checks of its input that cost more than the draw: 23 us
    against 14 us a character on the project's CPU. For more rows than
    ``EXPONENTIAL_NOISE_MAX_ROWS``, ``E = -log U`` with ``U`` from one ``uniform_`` of
    shape (batch, vocab), which is faster. The scores here are finite or -inf by
    construction.
    """
    if options.temperature == 0:
        return logits.argmax(dim=-1)
    if options.top_k is None and options.top_p is None:
        # scores/T - log E ranks the tokens as scores - T log E: the scaling is folded
        # into the noise, one operation fewer than scaling the logits.
        return _largest_after_noise(logits, options.temperature, generator)
    return _largest_after_noise(_filter(logits, options), 1.0, generator)


def _largest_after_noise(scores: Tensor, temperature: float,
                         generator: torch.Generator | None) -> Tensor:
    """The index of the largest ``scores - temperature * log E`` per row, ``E ~ Exp(1)``."""
    log_noise = torch.empty(scores.shape, dtype=torch.float32, device=scores.device)
    if scores.shape[0] <= EXPONENTIAL_NOISE_MAX_ROWS:
        # Clamped so that an exponential draw of 0 gives a finite score, never -inf + inf.
        log_noise.exponential_(generator=generator).clamp_min_(_SMALLEST_NORMAL).log_()
    else:
        # U in [0, 1), clamped off 0 so that E = -log U stays finite: a row never has every
        # score at -inf, which would hand the draw to its first token.
        log_noise.uniform_(generator=generator).clamp_min_(_SMALLEST_NORMAL)
        log_noise.log_().neg_().log_()
    return torch.add(scores, log_noise, alpha=-temperature).argmax(dim=-1)


def draw_token(logits: Tensor, options: SamplingOptions,
               generator: torch.Generator | None = None) -> int:
    """One token id drawn from ``logits`` of shape (1, vocab) under ``options`` (at
    temperature 0 the most likely one, and ``generator`` is not drawn from)."""
    return int(draw_tokens(logits, options, generator))


def _generated_texts(
    vocab: Vocabulary, prime_ids: list[int], steps: Iterator[Tensor], streams: int,
    stops: tuple[str, ...] | None,
) -> list[str]:
    """The text each stream adds after the prime, cut just after its first stop."""
    prefix = vocab.decode(prime_ids)
    rows: list[list[int]] = [[] for _ in range(streams)]
    pending: list[Tensor] = []  # (streams,) ids not yet in rows: one transfer per check

    def texts() -> list[str]:
        if pending:
            for row, ids in zip(rows, torch.stack(pending, dim=1).tolist(), strict=True):
                row.extend(ids)
            pending.clear()
        return [_continuation(vocab, prime_ids, prefix, row) for row in rows]

    for position, token in enumerate(steps):
        pending.append(token)
        check = streams == 1 or (position + 1) % STOP_CHECK_INTERVAL == 0
        if stops is not None and check and all(
                _stop_end(text, stops) is not None for text in texts()):
            break
    return [_cut_at_stop(text, stops) for text in texts()]


def _stop_end(text: str, stops: tuple[str, ...]) -> int | None:
    """Where ``text`` ends after its first stop string, or None if it holds none."""
    ends = [found + len(stop) for stop in stops if (found := text.find(stop)) >= 0]
    return min(ends) if ends else None


def _cut_at_stop(text: str, stops: tuple[str, ...] | None) -> str:
    end = None if stops is None else _stop_end(text, stops)
    return text if end is None else text[:end]


def _continuation(
    vocab: Vocabulary, prime_ids: list[int], prefix: str, generated: list[int]
) -> str:
    """The text ``generated`` adds after the prime (``prefix``), separator included."""
    whole = vocab.decode(prime_ids + generated)
    return whole[len(prefix):] if whole.startswith(prefix) else vocab.decode(generated)


@contextmanager
def inference_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode and no gradients; the model's training flag is restored on exit."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter or buffer (CPU if it has none)."""
    first = next(itertools.chain(model.parameters(), model.buffers()), None)
    return torch.device("cpu") if first is None else first.device


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
