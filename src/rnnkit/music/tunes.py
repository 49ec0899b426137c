"""Writing whole tunes with a character model: free, or asked for a key and a meter.

A tune starts from the prime ``X:`` and is sampled until it ends the way tunes end in the
training text, with a blank line, or runs into a next tune's ``X:`` line (which is cut
off), or until ``max_length`` characters, when it counts as unfinished. A request for a
key and/or meter is met in one of two ways:

- ``"header"`` (**header priming**, any model): the header is sampled line by line, and
  when the model begins the ``M:`` or ``K:`` line, that line is replaced by the requested
  one, written the way the training tunes spell it (``K:D Major`` in the lab's file,
  ``K:D`` in O'Neill's); the body is then sampled after the forced header. A requested
  field the model never reaches is written just before its ``K:`` line.
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
from torch import nn

from rnnkit.data.abc_conditions import ConditionVocabulary
from rnnkit.data.abc_tunes import (
    TUNE_SEPARATOR,
    normalize_key,
    normalize_meter,
    parse_header,
    split_tunes,
)
from rnnkit.generate import Vocabulary, sample_text
from rnnkit.models.language_model import WithConditions
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
    """Yield ``count`` tunes; tune ``i`` is drawn with seed ``seed * 1_000_003 + i``.

    A request is met by header priming when ``spellings`` (from the training text) are
    given, and through the conditioning vector when ``conditions`` (the model's classes,
    from the training text) are given instead.
    """
    settings = settings or SamplingSettings()
    request = request or TuneRequest()
    if conditions is not None:
        model = _conditioned(model, conditions, request)
    elif not request.empty and spellings is None:
        raise ValueError("a key or meter request needs the training tunes' header spellings "
                         "(header priming) or the model's condition classes (vector)")
    for index in range(count):
        sampler = _Sampler(model, vocab, settings, seed * 1_000_003 + index)
        if request.empty or conditions is not None:
            text = sampler.continue_until(TUNE_PRIME, TUNE_ENDS, settings.max_length)
        else:
            text = _primed_tune(sampler, request, spellings, settings.max_length)
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


class _Sampler:
    """Continues a text with the model, each call drawing from its own derived seed."""

    def __init__(self, model: nn.Module, vocab: Vocabulary, settings: SamplingSettings,
                 seed: int) -> None:
        self.model, self.vocab, self.settings, self.seed = model, vocab, settings, seed
        self.calls = 0

    def continue_until(self, text: str, stop_at: str | tuple[str, ...], length: int) -> str:
        """``text`` continued until ``stop_at`` is written or ``length`` characters more."""
        self.calls += 1
        return sample_text(self.model, self.vocab, text, length, stop_at=stop_at,
                           temperature=self.settings.temperature, top_k=self.settings.top_k,
                           top_p=self.settings.top_p, seed=self.seed * 64 + self.calls)


def _primed_tune(sampler: _Sampler, request: TuneRequest, spellings: HeaderSpellings,
                 max_length: int) -> str:
    forced = _forced_lines(request, spellings)  # {"M": "M:6/8", "K": "K:D Major"}
    text = sampler.continue_until(TUNE_PRIME, "\n", LINE_LENGTH_MAX)  # the X: line
    for _ in range(HEADER_LINES_MAX):
        if not text.endswith("\n"):
            return text  # a header line that never ended: an unfinished tune
        line_start = len(text)
        text = sampler.continue_until(text, "\n", LINE_LENGTH_MAX)
        letter, colon = text[line_start:line_start + 1], text[line_start + 1:line_start + 2]
        if colon != ":" or letter not in ("K", *forced):
            continue
        if letter != "K":
            text = text[:line_start] + forced.pop(letter) + "\n"
            continue
        key_line = forced.pop("K", text[line_start:].rstrip("\n"))
        unwritten = "".join(line + "\n" for line in forced.values())
        text = text[:line_start] + unwritten + key_line + "\n"
        return sampler.continue_until(text, TUNE_ENDS, max(1, max_length - len(text)))
    return text  # no K: line within HEADER_LINES_MAX lines: an unfinished tune


def _forced_lines(request: TuneRequest, spellings: HeaderSpellings) -> dict[str, str]:
    forced = {}
    if request.meter is not None:
        forced["M"] = spellings.meter_line(request.meter)
    if request.key is not None:
        forced["K"] = spellings.key_line(request.key)
    return forced
