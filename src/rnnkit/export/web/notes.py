"""The note samples the music page's player uses, made here instead of downloaded.

abcjs plays a tune from one recorded sample per note, which it loads from a "sound font"
folder: by default from a web server of its author's, which the page must not reach. So
the playground gets its own: a plucked tone per note, made from a few decaying harmonics,
written as 16-bit WAV. abcjs asks for ``<instrument>-mp3/<note>.mp3`` whatever the format
(it hands the bytes to the browser's decoder, which reads WAV by its header), so the files
carry that name.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

INSTRUMENT = "acoustic_grand_piano"  # abcjs' program 0, what tunes without %%MIDI use
SAMPLE_RATE = 16000
SECONDS = 1.2
LOWEST, HIGHEST = 28, 103  # MIDI E1 .. G7: tunes, their chords and bass notes
NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")  # abcjs' own


def note_name(midi: int) -> str:
    """abcjs' name of MIDI note ``midi``: ``60`` is ``"C4"``, ``61`` is ``"Db4"``."""
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def plucked_tone(midi: int) -> np.ndarray:
    """A plucked tone at the pitch of MIDI note ``midi``, int16 samples."""
    time = np.arange(int(SAMPLE_RATE * SECONDS)) / SAMPLE_RATE
    frequency = 440.0 * 2 ** ((midi - 69) / 12)
    tone = sum(np.sin(2 * np.pi * k * frequency * time) / k ** 1.5
               for k in range(1, 7) if k * frequency < SAMPLE_RATE / 2)
    envelope = np.minimum(time / 0.005, 1.0) * np.exp(-3.0 * time)  # 5 ms attack, decay
    signal = 0.5 * tone * envelope / np.max(np.abs(tone))
    return (signal * 32767).astype(np.int16)


def write_note_samples(folder: Path) -> list[Path]:
    """Write one sample per note from :data:`LOWEST` to :data:`HIGHEST` under ``folder``."""
    directory = folder / f"{INSTRUMENT}-mp3"
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for midi in range(LOWEST, HIGHEST + 1):
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as audio:
            audio.setnchannels(1)
            audio.setsampwidth(2)
            audio.setframerate(SAMPLE_RATE)
            audio.writeframes(plucked_tone(midi).tobytes())
        path = directory / f"{note_name(midi)}.mp3"
        path.write_bytes(buffer.getvalue())
        written.append(path)
    return written
