"""Writing whole tunes with a character model: free, or asked for a key and a meter.

Tunes are written one after another in one stream, with the state carried, as the model
was trained (a first, warm-up tune is thrown away). Each starts at ``X:`` and is sampled
until it ends the way tunes end in the training text, with a blank line, or runs into a
next tune's ``X:`` line (which is cut off), or until ``max_length`` characters, when it
counts as unfinished. A request for a key and/or meter is met in one of two ways:

- ``"header"`` (**header priming**, any model): the model starts every header line, and
  when it begins the ``M:`` or ``K:`` line, the rest of that line is the requested one,
  written the way the training tunes spell it (``K:D Major`` in the lab's file, ``K:D``
  in O'Neill's) and read by the model; the body is then sampled after it. A field the
  model never begins is not added for it: the tune then does not respect the request.
- ``"vector"`` (**conditioning vector**, a model trained with ``condition = "key_meter"``):
  the requested key and meter classes are fed with every character
  (:class:`rnnkit.models.language_model.WithConditions`) and the model writes the whole
  tune, header included, by itself. An unrequested field gets the class ``<other>``.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnkit.generate import (
    SamplingOptions,
    Vocabulary,
    draw_token,
    inference_mode,
    model_device,
)
from rnnkit.models.language_model import WithConditions
from rnnkit.music.abc_tunes import (
    TUNE_SEPARATOR,
    normalize_key,
    normalize_meter,
    parse_header,
    split_tunes,
)
from rnnkit.music.conditions import ConditionVocabulary
from rnnkit.music.notation import parse_meter
from rnnkit.music.validate import TuneCheck, check_tune

TUNE_PRIME = "X:"
NEXT_TUNE = "\nX:"  # a tune that runs into the next one without a blank line ends there too
TUNE_ENDS = (TUNE_SEPARATOR, NEXT_TUNE)
MAX_TUNE_LENGTH = 1500  # characters; the longest tune of the lab's file has 603
HEADER_LINES_MAX = 12  # header lines sampled before giving up on reaching K:
LINE_LENGTH_MAX = 200


@dataclass(frozen=True)
class TuneRequest:
    """A wished-for key (``"D"``, ``"A dorian"``) and/or meter (``"6/8"``), normalized."""

    key: str | None = None
    meter: str | None = None

    def __post_init__(self) -> None:
        if self.key is not None:
            object.__setattr__(self, "key", normalize_key(self.key))
        if self.meter is not None:
            parse_meter(self.meter)
            object.__setattr__(self, "meter", normalize_meter(self.meter))

    @property
    def empty(self) -> bool:
        """True when nothing is requested."""
        return self.key is None and self.meter is None


@dataclass(frozen=True)
class SamplingSettings:
    """How each character is drawn (see :func:`rnnkit.generate.filter_logits`)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    max_length: int = MAX_TUNE_LENGTH


@dataclass(frozen=True)
class GeneratedTune:
    """One sampled tune: its ABC text, whether it ended cleanly, and its check."""

    index: int
    text: str
    finished: bool
    check: TuneCheck

    @property
    def valid(self) -> bool:
        """A finished tune that passes :func:`rnnkit.music.validate.check_tune`."""
        return self.finished and self.check.valid


class HeaderSpellings:
    """The way the training tunes write each key and meter, most common spelling first."""

    def __init__(self, training_text: str) -> None:
        self.keys: dict[str, Counter[str]] = {}
        self.meters: dict[str, Counter[str]] = {}
        for tune in split_tunes(training_text):
            header = parse_header(tune)
            self._count(self.keys, header.first("K"), normalize_key)
            self._count(self.meters, header.first("M"), normalize_meter)

    @staticmethod
    def _count(table: dict[str, Counter[str]], value: str | None, normalize) -> None:
        if value is None:
            return
        # A malformed field in the training text has no spelling worth copying.
        with contextlib.suppress(ValueError):
            table.setdefault(normalize(value), Counter())[value] += 1

    def key_line(self, key: str) -> str:
        """``K:`` line for normalized ``key``; ``ValueError`` if no training tune has it."""
        return "K:" + self._spelling(self.keys, key, "key")

    def meter_line(self, meter: str) -> str:
        """``M:`` line for normalized ``meter``; ``ValueError`` if no training tune has it."""
        return "M:" + self._spelling(self.meters, meter, "meter")

    @staticmethod
    def _spelling(table: dict[str, Counter[str]], value: str, what: str) -> str:
        if value not in table:
            known = ", ".join(sorted(table, key=lambda v: -sum(table[v].values())))
            raise ValueError(f"no training tune is in {what} {value!r}, so the model has "
                             f"never seen it; the training tunes' {what}s are: {known}")
        return table[value].most_common(1)[0][0].strip()


def generate_tunes(
    model: nn.Module,
    vocab: Vocabulary,
    count: int,
    *,
    seed: int = 0,
    settings: SamplingSettings | None = None,
    request: TuneRequest | None = None,
    spellings: HeaderSpellings | None = None,
    conditions: ConditionVocabulary | None = None,
) -> Iterator[GeneratedTune]:
    """Yield ``count`` tunes written one after another in one stream, seeded by ``seed``.

    The model was trained with its state carried from tune to tune, so it writes a tune's
    header best with a state that has just finished a tune: a first, warm-up tune is
    sampled from ``X:`` and thrown away, and each kept tune starts where the previous one
    ended (the lab cuts its tunes out of one long sample the same way). A request is met by
    header priming when ``spellings`` (from the training text) are given, and through the
    conditioning vector when ``conditions`` (the model's classes) are given instead.
    """
    settings = settings or SamplingSettings()
    request = request or TuneRequest()
    if conditions is not None:
        model = _conditioned(model, conditions, request)
    elif not request.empty and spellings is None:
        raise ValueError("a key or meter request needs the training tunes' header spellings "
                         "(header priming) or the model's condition classes (vector)")
    forced = {} if conditions is not None else _forced_lines(request, spellings)
    with inference_mode(model):
        stream = _Stream(model, vocab, settings, seed)
        _next_tune(stream, {}, settings.max_length)  # the warm-up tune
        for index in range(count):
            text = _next_tune(stream, forced, settings.max_length)
            finished = text.endswith(TUNE_ENDS)
            tune = text.removesuffix(NEXT_TUNE[1:]).strip()
            yield GeneratedTune(index, tune, finished, check_tune(tune))


def _conditioned(model: nn.Module, conditions: ConditionVocabulary,
                 request: TuneRequest) -> WithConditions:
    sizes = tuple(getattr(getattr(model, "config", None), "condition_sizes", ()))
    if sizes != conditions.sizes:
        raise ValueError(f"the conditioning vector needs a model trained with condition = "
                         f"'key_meter' on the same tunes: its condition classes are {sizes}, "
                         f"the training tunes give {conditions.sizes}")
    ids = torch.tensor(conditions.request_ids(request.key, request.meter), dtype=torch.long)
    return WithConditions(model, ids)


class _Stream:
    """One continuous text the model reads (``feed``) or writes (``sample``), state carried.

    The caller holds the model in eval mode without gradients.
    """

    def __init__(self, model: nn.Module, vocab: Vocabulary, settings: SamplingSettings,
                 seed: int) -> None:
        self.model, self.vocab = model, vocab
        self.options = SamplingOptions(settings.temperature, settings.top_k, settings.top_p)
        self.device = model_device(model)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.state, self.logits = None, None
        self.text = ""  # everything fed or sampled so far

    def feed(self, text: str) -> str:
        """Read ``text`` (unknown characters: the vocabulary's ``ValueError``)."""
        ids = self.vocab.encode(text, strict=True)
        self._advance(torch.tensor([ids], dtype=torch.long, device=self.device))
        self.text += text
        return text

    def sample(self, stops: tuple[str, ...], limit: int) -> str:
        """Write until the text ends with one of ``stops`` or ``limit`` characters more."""
        start = len(self.text)
        for _ in range(limit):
            token = draw_token(self.logits, self.options, self.generator)
            self._advance(torch.tensor([[token]], dtype=torch.long, device=self.device))
            self.text += self.vocab.decode([token])
            if self.text.endswith(stops):
                break
        return self.text[start:]

    def _advance(self, tokens: Tensor) -> None:
        logits, self.state = self.model(tokens, self.state)
        self.logits = logits[:, -1]  # (1, vocab)


def _next_tune(stream: _Stream, forced: dict[str, str], max_length: int) -> str:
    """The next tune of the stream, from ``X:`` to its end, with ``forced`` header lines."""
    if not stream.text.endswith(TUNE_PRIME):
        if stream.text and not stream.text.endswith(TUNE_ENDS):
            stream.feed(TUNE_SEPARATOR)  # after an unfinished tune: start cleanly
        stream.feed(TUNE_PRIME)
    text = TUNE_PRIME + stream.sample(("\n",), min(LINE_LENGTH_MAX, max_length))  # X: line
    if not text.endswith("\n"):
        return text  # unfinished
    if forced:
        header = _forced_header(stream, dict(forced))
        if header is None:
            return text  # the header did not end: an unfinished tune
        text += header
    return text + stream.sample(TUNE_ENDS, max(1, max_length - len(text)))


def _forced_header(stream: _Stream, forced: dict[str, str]) -> str | None:
    """Header lines after X:, with each forced field's line written for the model.

    The model starts every line; when it begins a forced field (``M:`` or ``K:``) the rest
    of the line is the requested one. Returns ``None`` if no ``K:`` line came.
    """
    header = ""
    for _ in range(HEADER_LINES_MAX):
        start = stream.sample(("\n",), 2)  # the field letter and its colon
        letter = start[:1]
        if start.endswith("\n"):
            return None  # a blank line inside the header
        if letter in forced and start == letter + ":":
            line = start + stream.feed(forced.pop(letter)[2:] + "\n")
        else:
            line = start + stream.sample(("\n",), LINE_LENGTH_MAX)
        header += line
        if start == "K:":
            return header
    return None


def _forced_lines(request: TuneRequest, spellings: HeaderSpellings) -> dict[str, str]:
    forced = {}
    if request.meter is not None:
        forced["M"] = spellings.meter_line(request.meter)
    if request.key is not None:
        forced["K"] = spellings.key_line(request.key)
    return forced
