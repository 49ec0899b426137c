"""ABC → MIDI → WAV with the field's own tools, and MIDI read back as notes.

ABC → MIDI is Debian's ``abc2midi`` (the abcMIDI package, the converter the course lab
uses); MIDI → WAV is ``timidity`` with the FreePats General MIDI patches. ``make
music-tools`` installs all three (``apt-get install abcmidi timidity freepats``). Without
``timidity`` the MIDI is still written and the WAV is skipped, and
:func:`synthesizer_available` lets callers say so. Every output is written to a temporary
file in the target folder and renamed into place, so a failed conversion never leaves a
half-written file under the final name.

MIDI files are read with ``mido`` into :class:`MidiNote` lists (start and end in seconds).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ABC2MIDI = "abc2midi"
TIMIDITY = "timidity"
INSTALL_HINT = ("install the converters with `make music-tools` "
                "(apt-get install abcmidi timidity freepats)")
FREEPATS_CONFIG = Path("/etc/timidity/freepats.cfg")
TIMEOUT_S = 120


class MissingConverterError(RuntimeError):
    """A converter program (``abc2midi`` or ``timidity``) is not installed."""


class ConversionError(RuntimeError):
    """A converter ran but did not produce its output; carries what it printed."""


@dataclass(frozen=True)
class MidiNote:
    """One sounding note: MIDI pitch (60 = middle C), start and end in seconds, channel."""

    pitch: int
    start: float
    end: float
    velocity: int
    channel: int


def find_converter(name: str) -> str:
    """The path of program ``name``; :class:`MissingConverterError` naming it if absent."""
    path = shutil.which(name)
    if path is None:
        raise MissingConverterError(f"{name} is not installed (not found on PATH); "
                                    f"{INSTALL_HINT}")
    return path


def synthesizer_available() -> bool:
    """Whether ``timidity`` is installed, i.e. whether WAV files can be made."""
    return shutil.which(TIMIDITY) is not None


def abc_to_midi(abc_path: str | Path, midi_path: str | Path) -> Path:
    """Convert the first tune of ``abc_path`` to a MIDI file at ``midi_path``.

    Raises :class:`MissingConverterError` without ``abc2midi``, ``FileNotFoundError`` for a
    missing input, and :class:`ConversionError` (with abc2midi's messages) when no MIDI
    comes out.
    """
    source = _existing_file(abc_path, "ABC file")
    program = find_converter(ABC2MIDI)
    with _atomic_output(midi_path, ".mid") as temporary:
        messages = _run([program, str(source), "-o", str(temporary), "-quiet"])
        _check_output(temporary, f"abc2midi wrote no MIDI for {source}", messages)
    return Path(midi_path)


def midi_to_wav(midi_path: str | Path, wav_path: str | Path) -> Path:
    """Render ``midi_path`` to a 16-bit WAV at ``wav_path`` with timidity (FreePats)."""
    source = _existing_file(midi_path, "MIDI file")
    program = find_converter(TIMIDITY)
    config = ["-c", str(FREEPATS_CONFIG)] if FREEPATS_CONFIG.is_file() else []
    with _atomic_output(wav_path, ".wav") as temporary:
        messages = _run([program, *config, "-Ow", "-o", str(temporary), str(source)])
        _check_output(temporary, f"timidity wrote no WAV for {source}", messages)
    return Path(wav_path)


def read_midi_notes(midi_path: str | Path) -> list[MidiNote]:
    """The notes of a MIDI file in start order, times in seconds (tempo changes applied).

    Raises ``ValueError`` naming the file if it is not a MIDI file mido can read.
    """
    import mido

    source = _existing_file(midi_path, "MIDI file")
    try:
        midi = mido.MidiFile(str(source))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as error:
        raise ValueError(f"{source} is not a readable MIDI file: {error}") from None
    notes, sounding, now = [], {}, 0.0
    for message in midi:  # merged tracks; message.time is seconds since the previous one
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            sounding[(message.channel, message.note)] = (now, message.velocity)
        elif message.type in ("note_off", "note_on"):
            started = sounding.pop((message.channel, message.note), None)
            if started is not None:
                notes.append(MidiNote(message.note, started[0], now, started[1],
                                      message.channel))
    return sorted(notes, key=lambda note: (note.start, note.pitch))


def _existing_file(path: str | Path, what: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{what} {str(file)!r} does not exist")
    return file


def _run(command: list[str]) -> str:
    try:
        finished = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                                  check=False)
    except subprocess.TimeoutExpired as error:
        raise ConversionError(f"{Path(command[0]).name} took more than {TIMEOUT_S} s") \
            from error
    return (finished.stdout + finished.stderr).strip()


def _check_output(path: Path, failure: str, messages: str) -> None:
    if not path.is_file() or path.stat().st_size == 0:
        raise ConversionError(f"{failure}: {messages or 'no message'}")


@contextmanager
def _atomic_output(target: str | Path, suffix: str) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed to ``target`` if the block succeeds."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=suffix,
                                        dir=target.parent)
    except OSError as error:
        raise OSError(f"cannot write to {str(target.parent)!r}: {error.strerror}") from None
    os.close(handle)
    temporary = Path(name)
    temporary.unlink()  # the converters create the file themselves
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
