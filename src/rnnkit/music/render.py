"""Generated tunes to files: ``.abc``, ``.mid``, ``.wav``, a piano roll, and ``summary.json``.

Each tune ``i`` becomes ``tune_<i>.abc`` (always), ``tune_<i>.mid`` and
``tune_<i>.png`` (when abc2midi is there), and ``tune_<i>.wav`` (when timidity is
there too). ``summary.json`` counts the tunes, the valid ones and the reasons for the
rest, and, for a key/meter request, how often the tunes respect it.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rnnkit.atomic import atomic_write_json, atomic_write_text
from rnnkit.music.convert import (
    ConversionError,
    abc_to_midi,
    midi_to_wav,
    read_midi_notes,
)
from rnnkit.music.pianoroll import plot_piano_roll
from rnnkit.music.tunes import GeneratedTune, TuneRequest

SUMMARY = "summary.json"


def writable_directory(path: str | Path) -> Path:
    """Create ``path`` if needed and prove a file can be written in it; clear error if not."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OSError(f"output directory {str(folder)!r} cannot be written: "
                      f"{error.strerror or error}") from None
    return folder


def render_tune(tune: GeneratedTune, folder: Path, *, midi: bool = True,
                audio: bool = True) -> dict[str, Any]:
    """Write one tune's files into ``folder``; returns its record for the summary."""
    stem = f"tune_{tune.index + 1:03d}"
    record: dict[str, Any] = {
        "abc": atomic_write_text(folder / f"{stem}.abc", tune.text + "\n").name,
        "title": tune.check.title, "key": tune.check.key, "meter": tune.check.meter,
        "valid": tune.valid, "finished": tune.finished, "bars": tune.check.bars,
        "irregular_bars": tune.check.irregular_bars, "problems": _problems(tune)}
    if not midi:
        return record
    try:
        midi_path = abc_to_midi(folder / record["abc"], folder / f"{stem}.mid")
        notes = read_midi_notes(midi_path)
        record.update(midi=midi_path.name, notes=len(notes))
        if notes:
            record["piano_roll"] = plot_piano_roll(notes, folder / f"{stem}.png",
                                                   tune.check.title or stem).name
        if audio:
            record["wav"] = midi_to_wav(midi_path, folder / f"{stem}.wav").name
    except (ConversionError, ValueError) as error:
        record["conversion_error"] = str(error)
    return record


def _problems(tune: GeneratedTune) -> list[str]:
    unfinished = [] if tune.finished else ["unfinished: no blank line ended the tune within "
                                           "the length limit"]
    return unfinished + list(tune.check.problems)


def failure_reasons(tunes: Iterable[GeneratedTune]) -> dict[str, int]:
    """How many invalid tunes fail for each reason (a tune may have several)."""
    counts: Counter[str] = Counter()
    for tune in tunes:
        if not tune.finished:
            counts["unfinished"] += 1
        counts.update(tune.check.categories)
    return dict(counts.most_common())


def respect(tunes: list[GeneratedTune], request: TuneRequest) -> dict[str, Any]:
    """How often the tunes do what ``request`` asked.

    ``header``: the tune's K:/M: say what was asked. ``respected``: that, and the tune is
    valid (so its bars fit the asked meter). ``ends_on_tonic``: the last note has the
    letter of the asked key's tonic (the lab's own tunes do so 75% of the time).
    """
    def header_matches(tune: GeneratedTune) -> bool:
        return ((request.key is None or tune.check.key == request.key)
                and (request.meter is None or tune.check.meter == request.meter))

    count = max(1, len(tunes))
    report = {"request": asdict(request),
              "header": sum(map(header_matches, tunes)) / count,
              "respected": sum(t.valid and header_matches(t) for t in tunes) / count}
    if request.key is not None and request.key != "none":
        tonic = request.key[0]
        report["ends_on_tonic"] = sum(t.check.final_note == tonic for t in tunes) / count
    return report


def summarize(tunes: list[GeneratedTune], records: list[dict[str, Any]], *,
              settings: dict[str, Any], request: TuneRequest, audio: str = "") -> dict[str, Any]:
    """The ``summary.json`` document; ``audio`` says whether WAV files were made, or why not."""
    valid = sum(tune.valid for tune in tunes)
    summary: dict[str, Any] = {
        "generated": len(tunes), "valid": valid,
        "valid_rate": valid / len(tunes) if tunes else 0.0,
        "failures": failure_reasons(t for t in tunes if not t.valid),
        "keys": dict(Counter(t.check.key for t in tunes).most_common()),
        "meters": dict(Counter(t.check.meter for t in tunes).most_common()),
        "settings": settings,
        "audio": audio,
        "tunes": records}
    if not request.empty:
        summary["respect"] = respect(tunes, request)
    return summary


def write_summary(folder: Path, summary: dict[str, Any]) -> Path:
    """Write ``summary.json`` into ``folder`` atomically."""
    return atomic_write_json(folder / SUMMARY, summary)
