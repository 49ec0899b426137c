"""ABC tune files: one tune per ``X:`` block, its header fields, its key and meter.

An ABC file holds tunes one after another; each starts with an ``X:`` (reference number)
line, its header runs through the ``K:`` (key) line and the body (the notes) follows. A
character language model learns the whole file, so the text it trains on must keep tunes
intact: :func:`split_tunes` cuts at ``X:`` lines, :func:`normalize_tune` drops blank lines
inside a tune (a blank line is how a generated tune says it has ended) and
:func:`join_tunes` writes them back one blank line apart (the music task's split by tune,
:func:`rnnkit.tasks.music.corpus.split_abc_text`, builds on them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TUNE_START = re.compile(r"^X:", re.MULTILINE)
FIELD_LINE = re.compile(r"^([A-Za-z]):(.*)$")
TUNE_SEPARATOR = "\n\n"
MODES = {
    "": "major", "maj": "major", "major": "major", "ion": "major", "ionian": "major",
    "m": "minor", "min": "minor", "minor": "minor", "aeo": "minor", "aeolian": "minor",
    "dor": "dorian", "dorian": "dorian", "mix": "mixolydian", "mixolydian": "mixolydian",
    "phr": "phrygian", "phrygian": "phrygian", "lyd": "lydian", "lydian": "lydian",
    "loc": "locrian", "locrian": "locrian",
}
KEY = re.compile(r"^([A-G][#b]?)\s*([A-Za-z]*)((?:\s+(?:[_^=][A-Ga-g]|\w+=\S+))*)\s*$")


@dataclass(frozen=True)
class TuneHeader:
    """The header fields of a tune, in file order, and where its body begins.

    ``fields`` maps a field letter to its values (a field may repeat, e.g. several ``T:``
    titles); ``body_start`` is the index of the first body line in ``tune.splitlines()``,
    or ``None`` if the header never reached a ``K:`` line.
    """

    fields: dict[str, list[str]]
    body_start: int | None

    def first(self, letter: str) -> str | None:
        """The first value of field ``letter``, stripped, or ``None`` when absent."""
        values = self.fields.get(letter)
        return values[0].strip() if values else None


def split_tunes(text: str) -> list[str]:
    """The tunes of an ABC text, one string per ``X:`` block, each normalized.

    Text before the first ``X:`` line (a file header, comments) is not a tune and is left
    out. Raises ``ValueError`` if the text holds no ``X:`` line at all.

    >>> split_tunes("%abc\\nX:1\\nT:A\\nK:D\\nabc|\\n\\n\\nX:2\\nT:B\\nK:G\\nd2|\\n")
    ['X:1\\nT:A\\nK:D\\nabc|', 'X:2\\nT:B\\nK:G\\nd2|']
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = [match.start() for match in TUNE_START.finditer(text)]
    if not starts:
        raise ValueError("the text holds no ABC tune: no line starts with 'X:' (every tune "
                         "begins with an X: reference-number line)")
    ends = [*starts[1:], len(text)]
    return [normalize_tune(text[start:end]) for start, end in zip(starts, ends, strict=True)]


def normalize_tune(tune: str) -> str:
    """The tune with trailing spaces and blank lines removed (blank lines end a tune in ABC)."""
    lines = (line.rstrip() for line in tune.splitlines())
    return "\n".join(line for line in lines if line)


def join_tunes(tunes: list[str]) -> str:
    """Tunes as one ABC text, each followed by one blank line."""
    return "".join(tune + TUNE_SEPARATOR for tune in tunes)


def parse_header(tune: str) -> TuneHeader:
    """Header fields from the ``X:`` line through the first ``K:`` line.

    Comment lines (``%``) in the header are skipped. The header ends at ``K:``; a line that
    is not a field before it leaves ``body_start`` as ``None`` only if no ``K:`` follows.
    """
    fields: dict[str, list[str]] = {}
    for index, line in enumerate(tune.splitlines()):
        if line.startswith("%"):
            continue
        match = FIELD_LINE.match(line)
        if match is None:
            return TuneHeader(fields, None)
        letter, value = match.groups()
        fields.setdefault(letter, []).append(value)
        if letter == "K":
            return TuneHeader(fields, index + 1)
    return TuneHeader(fields, None)


def normalize_key(value: str) -> str:
    """``"D"``, ``"Dmaj"``, ``"D Major"`` → ``"D major"``; ``"Ador"`` → ``"A dorian"``.

    Raises ``ValueError`` if ``value`` is not a key this module knows.

    >>> normalize_key("Em"), normalize_key("A Dorian"), normalize_key("F#mix")
    ('E minor', 'A dorian', 'F# mixolydian')
    """
    text = value.strip()
    if text.lower() == "none":
        return "none"
    match = KEY.match(text)
    mode = match.group(2).lower() if match else None
    if match is None or mode not in MODES:
        raise ValueError(f"key {text!r} is not a tonic A-G with an optional mode "
                         f"(e.g. D, Em, A Dorian, G Mixolydian)")
    return f"{match.group(1)} {MODES[mode]}"


def normalize_meter(value: str) -> str:
    """``"C"`` → ``"4/4"``, ``"C|"`` → ``"2/2"``, others as written (stripped)."""
    text = value.strip()
    return {"C": "4/4", "C|": "2/2"}.get(text, text)
