"""ABC → MIDI → WAV with abc2midi and timidity, MIDI read back, and the errors around them."""

import shutil
import wave
from pathlib import Path

import pytest

from rnnkit.music import convert
from rnnkit.music.abc_tunes import split_tunes
from rnnkit.music.convert import (
    ConversionError,
    MissingConverterError,
    abc_to_midi,
    midi_to_wav,
    read_midi_notes,
)
from rnnkit.music.pianoroll import pitch_name, plot_piano_roll

IRISH = Path(__file__).parents[1] / "fixtures" / "irish.abc"
# abc2midi missing fails the test (tests/music/conftest.py), it never skips.
needs_abc2midi = pytest.mark.usefixtures("abc2midi")
needs_timidity = pytest.mark.skipif(shutil.which("timidity") is None,
                                    reason="timidity is not installed (make music-tools)")
# The D major scale over an octave: the key signature sharpens F and C.
SCALE = "X:1\nT:Scale\nM:4/4\nL:1/8\nQ:1/4=120\nK:D\nDEFG ABcd|d8|]\n"
D_MAJOR_SCALE = [62, 64, 66, 67, 69, 71, 73, 74, 74]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@needs_abc2midi
def test_scale_in_d_reads_back_with_its_pitches_and_times(tmp_path: Path) -> None:
    notes = read_midi_notes(abc_to_midi(write(tmp_path / "s.abc", SCALE), tmp_path / "s.mid"))
    assert [note.pitch for note in notes] == D_MAJOR_SCALE
    assert [pitch_name(note.pitch) for note in notes[:3]] == ["D4", "E4", "F#4"]
    # Eighth notes at 120 quarters a minute last 0.25 s; the last note is a whole note.
    assert notes[1].start == pytest.approx(0.25, abs=2e-3)
    assert notes[-1].end - notes[-1].start == pytest.approx(2.0, abs=5e-3)


@needs_abc2midi
def test_repeats_are_played_twice(tmp_path: Path) -> None:
    repeated = SCALE.replace("DEFG ABcd|d8|]", "|:DEFG ABcd:|d8|]")
    notes = read_midi_notes(abc_to_midi(write(tmp_path / "r.abc", repeated),
                                        tmp_path / "r.mid"))
    assert [n.pitch for n in notes] == D_MAJOR_SCALE[:8] * 2 + [74]


@needs_abc2midi
def test_the_labs_first_tune(tmp_path: Path) -> None:
    """Alexander's, a hornpipe in D: (3ABc|dAFA DFAd|..., two parts, each repeated."""
    first = split_tunes(IRISH.read_text(encoding="utf-8"))[0]
    notes = read_midi_notes(abc_to_midi(write(tmp_path / "a.abc", first), tmp_path / "a.mid"))
    assert [n.pitch for n in notes[:8]] == [69, 71, 73, 74, 69, 66, 69, 62]
    # Every part ends in ":|", so each written note (no chords here) sounds twice.
    body = "\n".join(first.splitlines()[6:])
    letters = sum(ch.upper() in "ABCDEFG" for ch in body)
    assert len(notes) == 2 * letters


@needs_abc2midi
def test_broken_tune_is_a_conversion_error_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="abc2midi wrote no MIDI"):
        abc_to_midi(write(tmp_path / "b.abc", "X:1\nT:No key\nabc|\n"), tmp_path / "b.mid")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.abc"]  # no temp file left


@needs_abc2midi
@needs_timidity
def test_midi_to_wav_renders_sound(tmp_path: Path) -> None:
    midi = abc_to_midi(write(tmp_path / "s.abc", SCALE), tmp_path / "s.mid")
    wav_path = midi_to_wav(midi, tmp_path / "s.wav")
    with wave.open(str(wav_path)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
        assert audio.getsampwidth() == 2 and seconds >= 3.5  # 2 bars of 4/4 at 120 = 4 s


def test_missing_converter_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(convert.shutil, "which", lambda name: None)
    with pytest.raises(MissingConverterError, match=r"abc2midi is not installed.*music-tools"):
        abc_to_midi(write(tmp_path / "s.abc", SCALE), tmp_path / "s.mid")
    assert not convert.synthesizer_available()


def test_missing_input_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"ABC file .*nothing\.abc"):
        abc_to_midi(tmp_path / "nothing.abc", tmp_path / "x.mid")


@needs_abc2midi
def test_unwritable_output_directory_is_named(tmp_path: Path) -> None:
    blocker = write(tmp_path / "file", "not a folder")
    with pytest.raises(OSError, match="cannot write to"):
        abc_to_midi(write(tmp_path / "s.abc", SCALE), blocker / "out" / "s.mid")


def test_a_file_that_is_not_midi_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a readable MIDI file"):
        read_midi_notes(write(tmp_path / "x.mid", "plain text"))


@needs_abc2midi
def test_piano_roll_png(tmp_path: Path) -> None:
    notes = read_midi_notes(abc_to_midi(write(tmp_path / "s.abc", SCALE), tmp_path / "s.mid"))
    png = plot_piano_roll(notes, tmp_path / "s.png", "Scale")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no notes"):
        plot_piano_roll([], tmp_path / "empty.png")
