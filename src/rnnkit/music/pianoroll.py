"""A piano roll: the notes of a tune as bars on a pitch-over-time grid, saved as a PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rnnkit.music.convert import MidiNote
from rnnkit.plotting import pyplot, save_figure

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def pitch_name(pitch: int) -> str:
    """Scientific pitch name of a MIDI number: 60 → ``C4``, 69 → ``A4``.

    >>> pitch_name(60), pitch_name(69)
    ('C4', 'A4')
    """
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def plot_piano_roll(notes: Sequence[MidiNote], path: str | Path, title: str = "") -> Path:
    """Draw ``notes`` (seconds on x, pitch on y, one bar per note) and save a PNG at ``path``.

    Raises ``ValueError`` if there are no notes to draw.
    """
    if not notes:
        raise ValueError(f"no notes to draw for the piano roll {str(path)!r}")
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(10, 3.2))
    for note in notes:
        axes.broken_barh([(note.start, note.end - note.start)], (note.pitch - 0.4, 0.8),
                         facecolors="tab:blue", edgecolors="none")
    low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
    ticks = [p for p in range(low - 1, high + 2) if p % 12 in (0, 7)]  # every C and G
    axes.set_yticks(ticks, [pitch_name(p) for p in ticks])
    axes.set_ylim(low - 1.5, high + 1.5)
    axes.set_xlim(0, max(n.end for n in notes))
    axes.set_xlabel("time (s)")
    axes.set_ylabel("pitch")
    axes.grid(axis="y", alpha=0.3)
    axes.set_title(title or Path(path).stem)
    figure.tight_layout()
    return save_figure(figure, path)
