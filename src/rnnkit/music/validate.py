"""Is a generated tune a valid tune? Header, body syntax and bar lengths, with reasons.

A tune is **valid** when all of these hold:

1. Header: the fields X, T, M, L and K are present, X comes first and K ends the header,
   and each is well formed: X a whole number, T not empty, M ``C``, ``C|``, ``none`` or
   N/D, L ``1/N`` style, K a tonic A-G (optionally ``#``/``b``) with an optional mode
   (major, minor, m, dorian, mixolydian, ...), or ``none``.
2. Body: it parses (:func:`rnnkit.music.notation.read_body`) and holds at least one bar
   with a note in it.
3. Meter, with a tolerance: every bar is compared with the measure exactly (rational
   arithmetic). A bar *longer* than the measure is irregular anywhere, except a multi-bar
   rest (``Z4``), which lasts whole measures by design. A *shorter* bar is
   allowed where a section begins or ends (the first bar of the tune or after a repeat
   sign, double bar or ending marker, and the last bar before one or at the end): those
   are pickups and their complements. At most ``max_irregular`` bars (default
   :data:`MAX_IRREGULAR_FRACTION` of the bars, rounded down, but at least 1) may break
   these rules, since a hand-written tune in the training data does too now and then.
   Under free meter (``M:none``) bar lengths are not checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from rnnkit.music.abc_tunes import normalize_key, normalize_meter, parse_header
from rnnkit.music.notation import (
    AbcSyntaxError,
    Bar,
    Body,
    default_unit,
    parse_meter,
    parse_unit,
    read_body,
)

REQUIRED_FIELDS = ("X", "T", "M", "L", "K")
MAX_IRREGULAR_FRACTION = 0.1
@dataclass(frozen=True)
class TuneCheck:
    """The verdict on one tune: ``valid``, and every reason it is not.

    ``key`` is the normalized key (``"D major"``, ``"A dorian"``) and ``meter`` the ``M:``
    value normalized (``C`` is ``4/4``), when those fields are well formed; ``bars`` and
    ``irregular_bars`` count the body's bars and those that break the meter rules;
    ``final_note`` is the letter (A-G) of the body's last note.
    """

    valid: bool
    problems: tuple[str, ...]
    title: str | None = None
    key: str | None = None
    meter: str | None = None
    bars: int = 0
    irregular_bars: int = 0
    final_note: str | None = None
    categories: tuple[str, ...] = field(default=())


def check_tune(tune: str, max_irregular: int | None = None) -> TuneCheck:
    """Check ``tune`` (one ABC tune, header and body) against the rules of this module."""
    header = parse_header(tune)
    problems: list[tuple[str, str]] = []
    title, key, meter, measure, unit = _check_header(header, problems)
    body = Body([], None)
    if header.body_start is not None:
        text = "\n".join(tune.splitlines()[header.body_start:])
        body = _check_body(text, measure, unit, problems)
    bars = body.bars
    irregular = irregular_bars(bars)
    allowed = max_irregular if max_irregular is not None else max(
        1, math.floor(MAX_IRREGULAR_FRACTION * len(bars)))
    if len(irregular) > allowed:
        shown = ", ".join(f"line {bar.line}: {bar.duration} of {bar.measure}"
                          for bar in irregular[:3])
        problems.append(("meter", f"{len(irregular)} of {len(bars)} bars do not fit the meter "
                                  f"(at most {allowed} may): {shown}"))
    return TuneCheck(valid=not problems, problems=tuple(text for _, text in problems),
                     title=title, key=key, meter=meter, bars=len(bars),
                     irregular_bars=len(irregular), final_note=body.final_note,
                     categories=tuple(dict.fromkeys(kind for kind, _ in problems)))


def irregular_bars(bars: list[Bar]) -> list[Bar]:
    """The bars that break the meter rules (see the module docstring)."""
    return [bar for bar in bars if bar.measure is not None and not _whole_bars_of_rest(bar)
            and (bar.duration > bar.measure
                 or (bar.duration < bar.measure
                     and not (bar.opens_section or bar.closes_section)))]


def _whole_bars_of_rest(bar: Bar) -> bool:
    """A multi-bar rest (``Z4``) lasts a whole number of measures by design."""
    return bar.rests_only and (bar.duration / bar.measure).denominator == 1


def _check_header(header, problems: list[tuple[str, str]]) -> tuple:
    missing = [letter for letter in REQUIRED_FIELDS if header.first(letter) is None]
    if missing:
        problems.append(("header", f"header lacks field(s) {', '.join(missing)}"))
    if header.fields and next(iter(header.fields)) != "X":
        problems.append(("header", "the header does not start with X:"))
    if header.body_start is None:
        problems.append(("header", "no K: line ends the header"))
    title = header.first("T")
    if title is not None and not title:
        problems.append(("header", "T: (title) is empty"))
    number = header.first("X")
    if number is not None and not number.isdigit():
        problems.append(("header", f"X: {number!r} is not a whole number"))
    key = _field(header, "K", normalize_key, problems)
    meter_text = header.first("M")
    measure = _field(header, "M", parse_meter, problems)
    unit = _field(header, "L", parse_unit, problems) or default_unit(measure)
    meter = normalize_meter(meter_text) if meter_text is not None and (
        measure is not None or meter_text.lower() == "none") else None
    return title, key, meter, measure, unit


def _field(header, letter: str, parse, problems: list[tuple[str, str]]):
    value = header.first(letter)
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as error:
        problems.append(("header", f"{letter}: {error}"))
        return None


def _check_body(body: str, measure: Fraction | None, unit: Fraction,
                problems: list[tuple[str, str]]) -> Body:
    try:
        parsed = read_body(body, measure, unit)
    except AbcSyntaxError as error:
        problems.append(("syntax", f"body does not parse: {error}"))
        return Body([], None)
    if all(bar.rests_only for bar in parsed.bars):
        problems.append(("empty", "the body holds no notes"))
    return parsed
