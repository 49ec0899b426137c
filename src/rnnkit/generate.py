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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor, nn

NUCLEUS_TOLERANCE = 1e-6


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
) -> list[int]:
    """``length`` token ids sampled after ``prime_ids`` (the prime is not included).

    ``generator`` must live on ``device`` (default: the device of the model's parameters);
    ``None`` draws from torch's global generator. The model runs in eval mode under
    ``torch.no_grad()`` and gets its training mode back afterwards.
    """
    options = SamplingOptions(temperature, top_k, top_p)
    _check_request(prime_ids, length)
    device = model_device(model) if device is None else torch.device(device)
    with inference_mode(model):
        return list(_token_stream(model, prime_ids, length, options, generator, device))


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
) -> str:
    """``prime`` followed by up to ``length`` sampled tokens, as text.

    The prime is encoded strictly, so characters the vocabulary lacks raise its
    ``ValueError``. Draws come from a private ``torch.Generator`` seeded with ``seed``
    (unpredictable if ``None``): the global RNG is left untouched, and the same seed gives
    the same text on the same device. With ``stop_at`` (a string, or a tuple of strings),
    generation ends as soon as the generated part contains one of them, and the text ends
    just after the first such occurrence.
    Trap: with ``stop_at`` the generated text is decoded after every token.
    """
    options = SamplingOptions(temperature, top_k, top_p)
    stops = (stop_at,) if isinstance(stop_at, str) else stop_at
    if stops is not None and (not isinstance(stops, tuple) or not stops or not all(
            isinstance(stop, str) and stop for stop in stops)):
        raise ValueError(f"expected stop_at to be None, a non-empty string or a tuple of "
                         f"them, got {stop_at!r}")
    prime_ids = _encode_prime(vocab, prime)
    _check_request(prime_ids, length)
    device = model_device(model) if device is None else torch.device(device)
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    with inference_mode(model):
        stream = _token_stream(model, prime_ids, length, options, generator, device)
        return prime + _generated_text(vocab, prime_ids, stream, stops)


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


def _token_stream(
    model: nn.Module,
    prime_ids: Sequence[int],
    length: int,
    options: SamplingOptions,
    generator: torch.Generator | None,
    device: torch.device,
) -> Iterator[int]:
    """Yields sampled ids; the caller holds the model in eval mode without gradients."""
    if length == 0:
        return
    tokens = torch.tensor([list(prime_ids)], dtype=torch.long, device=device)  # (1, time)
    logits, state = model(tokens, None)
    for position in range(length):
        token = draw_token(logits[:, -1], options, generator)
        yield token
        if position + 1 < length:
            next_input = torch.tensor([[token]], dtype=torch.long, device=device)  # (1, 1)
            logits, state = model(next_input, state)


def draw_token(logits: Tensor, options: SamplingOptions,
               generator: torch.Generator | None = None) -> int:
    """One token id drawn from ``logits`` of shape (1, vocab) under ``options`` (at
    temperature 0 the most likely one, and ``generator`` is not drawn from)."""
    if options.temperature == 0:
        return int(logits.argmax(dim=-1))
    probabilities = torch.softmax(_filter(logits, options), dim=-1)  # (1, vocab)
    return int(torch.multinomial(probabilities, 1, generator=generator))


def _generated_text(
    vocab: Vocabulary, prime_ids: list[int], stream: Iterator[int],
    stops: tuple[str, ...] | None,
) -> str:
    prefix = vocab.decode(prime_ids)
    generated: list[int] = []
    for token in stream:
        generated.append(token)
        if stops is not None:
            text = _continuation(vocab, prime_ids, prefix, generated)
            ends = [found + len(stop) for stop in stops if (found := text.find(stop)) >= 0]
            if ends:
                return text[:min(ends)]
    return _continuation(vocab, prime_ids, prefix, generated)


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
