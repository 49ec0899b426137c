"""Reading the body of an ABC tune into bars with exact durations.

This is the part of ABC (standard 2.1) that decides how long each bar lasts: notes and
rests with their length modifiers, chords, broken rhythm (``>``, ``<``), tuplets
(``(3``, ``(p:q:r``), multi-bar rests (``Z4``), bar lines, repeats and endings, and inline
or body ``M:``/``L:`` changes. Everything that does not change a duration (decorations,
slurs, ties, grace notes, chord symbols, annotations, spacers, line continuations, the lone
``!`` older files use as a line break) is read and passed over. Anything else is a syntax
error naming its line and column.

Durations are :class:`fractions.Fraction` of a whole note, so a bar of 6/8 lasts exactly
``Fraction(3, 4)`` and no rounding can hide or invent an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from fractions import Fraction

from rnnkit.music.abc_tunes import FIELD_LINE

NOTE = re.compile(r"(\^{1,2}|_{1,2}|=)?([A-Ga-g])([',]*)")
LENGTH = re.compile(r"(\d*)(/*)(\d*)")
REST = re.compile(r"[zx]")
MULTI_BAR_REST = re.compile(r"[ZX](\d*)")
BAR_LINE = re.compile(r":*(?:\[\||\|\]|\|\||\|)(?:\]|:*)|::")
ENDING = re.compile(r"\[?\d+(?:[,-]\d+)*")
BROKEN_RHYTHM = re.compile(r">{1,3}|<{1,3}")
TUPLET = re.compile(r"\((\d+)(?::(\d*))?(?::(\d*))?")
DECORATION = re.compile(r"!([^!\s]+)!|\+([^+\s]+)\+")
INLINE_FIELD = re.compile(r"\[([A-Za-z]):([^\]]*)\]")
METER = re.compile(r"^(\d+(?:\+\d+)*)/(\d+)$")
# Spans that take no time, skipped whole: opening character -> (closing one, what it is).
ENCLOSED = {'"': ('"', "chord symbol or annotation"), "{": ("}", "grace notes")}
SKIPPED = set(" \t\\`y-()~.HLMOPSTuvRJ")
DEFAULT_UNIT = Fraction(1, 8)
# How many notes of a tuplet (p) fill the time of how many (q): ABC 2.1, section 4.13.
TUPLET_TIME = {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}


class AbcSyntaxError(ValueError):
    """The body of a tune is not ABC this reader understands; names line and column."""


@dataclass(frozen=True)
class Bar:
    """One bar: how long it lasts, the measure it should last, where it sits.

    ``measure`` is ``None`` under free meter (``M:none``). ``opens_section`` is true for
    the first bar of the tune and the first after a repeat start, a double bar or an
    ending marker; ``closes_section`` for the last bar before a repeat end, a double bar,
    an ending marker, or the end of the tune. ``line`` counts from 1 within the tune.
    """

    duration: Fraction
    measure: Fraction | None
    line: int
    opens_section: bool
    closes_section: bool
    rests_only: bool = False


@dataclass(frozen=True)
class Body:
    """A parsed tune body: its bars, and the letter (A-G) of its last note, if any."""

    bars: list[Bar]
    final_note: str | None


@dataclass
class _Reader:
    """The state of one pass over a body: the current bar, unit length and modifiers."""

    measure: Fraction | None
    unit: Fraction
    line: int = 0
    bars: list[Bar] = field(default_factory=list)
    bar_duration: Fraction = Fraction(0)
    bar_has_sound: bool = False
    bar_is_open: bool = False
    section_open: bool = True
    last_duration: Fraction | None = None
    broken_factor: Fraction | None = None
    tuplet_factor: Fraction = Fraction(1)
    tuplet_left: int = 0
    final_note: str | None = None


def parse_meter(text: str) -> Fraction | None:
    """The measure length of an ``M:`` value as a fraction of a whole note.

    ``C`` is 4/4, ``C|`` is 2/2, ``none`` (free meter) gives ``None``; ``2+3/8`` is 5/8.
    Raises ``ValueError`` for anything else.

    >>> parse_meter("6/8"), parse_meter("C|"), parse_meter("none")
    (Fraction(3, 4), Fraction(1, 1), None)
    """
    value = text.strip()
    if value in ("C", "C|"):  # common time 4/4 and cut time 2/2 both last a whole note
        return Fraction(1)
    if value.lower() == "none":
        return None
    match = METER.match(value)
    if match is None or int(match.group(2)) == 0:
        raise ValueError(f"meter {text.strip()!r} is not C, C|, none or N/D")
    return Fraction(sum(int(n) for n in match.group(1).split("+")), int(match.group(2)))


def parse_unit(text: str) -> Fraction:
    """The unit note length of an ``L:`` value, e.g. ``1/8``; ``ValueError`` otherwise."""
    match = re.fullmatch(r"\s*(\d+)/(\d+)\s*", text)
    if match is None or int(match.group(1)) == 0 or int(match.group(2)) == 0:
        raise ValueError(f"unit note length {text.strip()!r} is not N/D (e.g. 1/8)")
    return Fraction(int(match.group(1)), int(match.group(2)))


def default_unit(measure: Fraction | None) -> Fraction:
    """ABC's default unit when ``L:`` is absent: 1/16 below a 3/4 measure, else 1/8."""
    return Fraction(1, 16) if measure is not None and measure < Fraction(3, 4) else DEFAULT_UNIT


def read_body(body: str, measure: Fraction | None, unit: Fraction) -> Body:
    """The bars of a tune body, in order, with exact durations, and its last note.

    ``measure`` and ``unit`` are the header's meter and unit length; ``M:`` and ``L:``
    lines or inline fields in the body change them from there on. Raises
    :class:`AbcSyntaxError` at the first thing that is not ABC.
    """
    reader = _Reader(measure=measure, unit=unit)
    for number, line in enumerate(body.splitlines(), start=1):
        reader.line = number
        _read_line(reader, line)
    _close_bar(reader, closes_section=True)
    return Body(reader.bars, reader.final_note)


def _read_line(reader: _Reader, line: str) -> None:
    if line.startswith("%"):
        return
    field_line = FIELD_LINE.match(line)
    if field_line is not None:
        _apply_field(reader, *field_line.groups())
        return
    line = line.split("%", 1)[0]
    position = 0
    while position < len(line):
        position = _read_symbol(reader, line, position)


def _read_symbol(reader: _Reader, line: str, position: int) -> int:
    """Read the symbol at ``position``; returns the position after it."""
    char = line[position]
    for reader_function in (_read_note_or_rest, _read_bar_line, _read_bracket,
                            _read_tuplet, _read_broken_rhythm, _read_skipped):
        end = reader_function(reader, line, position)
        if end is not None:
            return end
    raise AbcSyntaxError(f"line {reader.line}, column {position + 1}: unexpected {char!r} "
                         f"in {line.strip()!r}")


def _read_note_or_rest(reader: _Reader, line: str, position: int) -> int | None:
    multi = MULTI_BAR_REST.match(line, position)
    if multi is not None:
        bars = int(multi.group(1) or 1)
        reader.bar_duration += bars * (reader.measure or Fraction(0))
        reader.bar_is_open = True
        return multi.end()
    note = NOTE.match(line, position) or REST.match(line, position)
    if note is None:
        return None
    length, end = _read_length(reader, line, note.end())
    _add_event(reader, length * reader.unit, sounding=note.re is NOTE)
    if note.re is NOTE:
        reader.final_note = note.group(2).upper()
    return end


def _read_length(reader: _Reader, line: str, position: int) -> tuple[Fraction, int]:
    match = LENGTH.match(line, position)
    numerator, slashes, denominator = match.groups()
    if slashes and denominator and int(denominator) == 0:  # "c/0": a syntax error, no crash
        raise AbcSyntaxError(f"line {reader.line}, column {position + 1}: note length "
                             f"{match.group(0)!r} divides by zero in {line.strip()!r}")
    value = Fraction(int(numerator) if numerator else 1)
    if slashes and denominator:  # "3/2", "/4"; "//4" would be an eighth of 4: rare, allowed
        value /= int(denominator) * 2 ** (len(slashes) - 1)
    elif slashes:  # "/" halves, "//" quarters
        value /= 2 ** len(slashes)
    return value, match.end()


def _add_event(reader: _Reader, duration: Fraction, sounding: bool) -> None:
    if reader.broken_factor is not None:
        duration *= reader.broken_factor
        reader.broken_factor = None
    if reader.tuplet_left:
        duration *= reader.tuplet_factor
        reader.tuplet_left -= 1
    reader.bar_duration += duration
    reader.bar_has_sound |= sounding
    reader.bar_is_open = True
    reader.last_duration = duration


def _read_bar_line(reader: _Reader, line: str, position: int) -> int | None:
    match = BAR_LINE.match(line, position)
    if match is None:
        return None
    symbol = match.group()
    end = match.end()
    ending = ENDING.match(line, end) if not line.startswith("[", end) else None
    # Any bar line but a plain "|" (repeats, double and final bars) or an ending number
    # bounds a section, where a short bar is a pickup or its complement, not an error.
    boundary = symbol != "|" or ending is not None
    _close_bar(reader, closes_section=boundary)
    reader.section_open = boundary
    return ending.end() if ending is not None else end


def _close_bar(reader: _Reader, closes_section: bool) -> None:
    if reader.bar_is_open:
        reader.bars.append(Bar(reader.bar_duration, reader.measure, reader.line,
                               opens_section=reader.section_open,
                               closes_section=closes_section,
                               rests_only=not reader.bar_has_sound))
        reader.section_open = False
    elif closes_section and reader.bars:
        reader.bars[-1] = replace(reader.bars[-1], closes_section=True)
    reader.bar_duration, reader.bar_has_sound, reader.bar_is_open = Fraction(0), False, False


def _read_bracket(reader: _Reader, line: str, position: int) -> int | None:
    if line[position] != "[":
        return None
    inline = INLINE_FIELD.match(line, position)
    if inline is not None:
        _apply_field(reader, *inline.groups())
        return inline.end()
    ending = ENDING.match(line, position)  # "[1", "[2,3": needs a digit after "["
    if ending is not None:
        _close_bar(reader, closes_section=True)
        reader.section_open = True
        return ending.end()
    return _read_chord(reader, line, position)


def _read_chord(reader: _Reader, line: str, position: int) -> int:
    """``[CEG]2``: the chord lasts as long as its first note, times the length after ``]``."""
    close = line.find("]", position)
    if close < 0:
        raise AbcSyntaxError(f"line {reader.line}, column {position + 1}: chord '[' is never "
                             f"closed with ']' in {line.strip()!r}")
    inside, first = position + 1, None
    while inside < close:
        note = NOTE.match(line, inside)
        if note is None:
            if line[inside] in SKIPPED or line[inside] in ")(":
                inside += 1
                continue
            raise AbcSyntaxError(f"line {reader.line}, column {inside + 1}: {line[inside]!r} "
                                 f"is not a note, inside chord {line[position:close + 1]!r}")
        length, inside = _read_length(reader, line, note.end())
        first = length if first is None else first
        reader.final_note = note.group(2).upper()  # a chord's last note: usually its root's top
    if first is None:
        raise AbcSyntaxError(f"line {reader.line}, column {position + 1}: empty chord "
                             f"{line[position:close + 1]!r}")
    multiplier, end = _read_length(reader, line, close + 1)
    _add_event(reader, first * multiplier * reader.unit, sounding=True)
    return end


def _read_tuplet(reader: _Reader, line: str, position: int) -> int | None:
    match = TUPLET.match(line, position)
    if match is None:
        return None
    notes = int(match.group(1))
    if notes < 2:
        raise AbcSyntaxError(f"line {reader.line}, column {position + 1}: tuplet "
                             f"{match.group()!r} needs at least 2 notes")
    compound = reader.measure is not None and reader.measure.numerator % 3 == 0 and (
        reader.measure.numerator > 3)
    time = int(match.group(2)) if match.group(2) else TUPLET_TIME.get(notes, 3 if compound
                                                                      else 2)
    reader.tuplet_factor = Fraction(time, notes)
    reader.tuplet_left = int(match.group(3)) if match.group(3) else notes
    return match.end()


def _read_broken_rhythm(reader: _Reader, line: str, position: int) -> int | None:
    match = BROKEN_RHYTHM.match(line, position)
    if match is None:
        return None
    if reader.last_duration is None or not reader.bar_is_open:
        raise AbcSyntaxError(f"line {reader.line}, column {position + 1}: broken rhythm "
                             f"{match.group()!r} has no note before it in its bar")
    shorter = Fraction(1, 2 ** len(match.group()))
    longer = 2 - shorter
    first, second = (longer, shorter) if match.group()[0] == ">" else (shorter, longer)
    reader.bar_duration += reader.last_duration * (first - 1)
    reader.broken_factor = second
    return match.end()


def _read_skipped(reader: _Reader, line: str, position: int) -> int | None:
    char = line[position]
    if char in ENCLOSED:
        closer, what = ENCLOSED[char]
        close = line.find(closer, position + 1)
        if close < 0:
            raise AbcSyntaxError(f"line {reader.line}, column {position + 1}: {what} "
                                 f"{char!r} is never closed in {line.strip()!r}")
        return close + 1
    decoration = DECORATION.match(line, position)
    if decoration is not None:
        return decoration.end()
    if char == "!":  # a lone '!': the line break of older ABC files
        return position + 1
    return position + 1 if char in SKIPPED else None


def _apply_field(reader: _Reader, letter: str, value: str) -> None:
    try:
        if letter == "M":
            reader.measure = parse_meter(value)
        elif letter == "L":
            reader.unit = parse_unit(value)
    except ValueError as error:
        raise AbcSyntaxError(f"line {reader.line}: {error}") from None
