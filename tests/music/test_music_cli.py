"""``rnnkit music train|generate|play`` end to end on a tiny model, and their errors."""

import json
import shutil
from pathlib import Path

import pytest

from rnnkit.cli import main
from rnnkit.music import convert
from rnnkit.music.validate import check_tune

TUNE = "X:1\nT:Test Jig\nM:6/8\nL:1/8\nK:D Major\nA|dfa agf|efg e2c|d3 d2:|\n"
# abc2midi missing fails the test (tests/music/conftest.py), it never skips.
needs_abc2midi = pytest.mark.usefixtures("abc2midi")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small LSTM that has learned one jig by heart (40 copies, split by tune)."""
    folder = tmp_path_factory.mktemp("music")
    tunes = folder / "tunes.abc"
    tunes.write_text("\n".join([TUNE] * 40), encoding="utf-8")
    status = main(["music", "train", "--text-file", str(tunes), "--out-dir",
                   str(folder / "run"), "--hidden-size", "64", "--embedding-size", "16",
                   "--num-layers", "1", "--batch-size", "8", "--seq-len", "64", "--lr", "0.01",
                   "--max-steps", "150", "--eval-every", "150", "--no-progress",
                   "--no-tensorboard", "--sample-length", "5"])
    assert status == 0
    return folder / "run"


def generate(trained: Path, out: Path, *extra: str) -> int:
    return main(["music", "generate", "--checkpoint", str(trained), "--n", "4", "--out",
                 str(out), "--seed", "3", "--temperature", "0.5", "--no-progress", *extra])


def test_music_train_saves_its_task_table(trained: Path) -> None:
    saved = json.loads(next(trained.rglob("config.json")).read_text())
    assert saved["data"]["dataset"] is None and "format" not in saved["data"]
    assert saved["task"] == {"name": "music", "condition": None}


@needs_abc2midi
def test_generate_writes_every_file_and_a_true_summary(trained: Path, tmp_path: Path) -> None:
    assert generate(trained, tmp_path / "out") == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["generated"] == 4 == len(summary["tunes"])
    assert summary["audio"] == ("WAV written with timidity" if shutil.which("timidity") else
                                "no WAV: timidity is not installed (MIDI only); "
                                "`make music-tools` installs it")
    rechecked = [check_tune((tmp_path / "out" / t["abc"]).read_text()).valid and t["finished"]
                 for t in summary["tunes"]]
    assert summary["valid"] == sum(rechecked) >= 3  # the learned jig comes back
    for record in summary["tunes"]:
        for kind in ("abc", "midi", "piano_roll") + (("wav",) if shutil.which("timidity")
                                                       else ()):
            assert (tmp_path / "out" / record[kind]).is_file()


def test_key_and_meter_request_is_reported(trained: Path, tmp_path: Path) -> None:
    assert generate(trained, tmp_path / "out", "--key", "D", "--meter", "6/8",
                    "--no-midi") == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["respect"]["request"] == {"key": "D major", "meter": "6/8"}
    assert summary["audio"] == "no MIDI or WAV (--no-midi)"
    assert summary["respect"]["header"] == 1.0
    assert "M:6/8\nL:1/8\nK:D Major\n" in (tmp_path / "out" / "tune_001.abc").read_text()


def test_a_key_the_model_never_saw_is_refused(trained: Path, tmp_path: Path, capsys) -> None:
    assert generate(trained, tmp_path / "out", "--key", "Bb", "--no-midi") == 1
    assert "no training tune is in key 'Bb major'" in capsys.readouterr().err


def test_unwritable_output_directory(trained: Path, tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert generate(trained, blocker / "out") == 1
    assert "output directory" in capsys.readouterr().err


def test_missing_converter_stops_before_sampling(trained: Path, tmp_path: Path, capsys,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert.shutil, "which", lambda name: None)
    assert generate(trained, tmp_path / "out") == 1
    assert "abc2midi is not installed" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob("*.abc"))


@needs_abc2midi
def test_play_writes_midi_and_wav(tmp_path: Path, capsys) -> None:
    source = tmp_path / "jig.abc"
    source.write_text(TUNE + "\n" + TUNE.replace("X:1", "X:2"), encoding="utf-8")
    assert main(["music", "play", str(source), "--tune", "2"]) == 0
    assert (tmp_path / "jig.mid").is_file()
    if shutil.which("timidity"):
        assert (tmp_path / "jig.wav").is_file()


@needs_abc2midi
def test_play_without_synthesizer_writes_midi_and_says_so(tmp_path: Path, capsys,
                                                          monkeypatch) -> None:
    monkeypatch.setattr(convert, "synthesizer_available", lambda: False)
    source = tmp_path / "jig.abc"
    source.write_text(TUNE, encoding="utf-8")
    assert main(["music", "play", str(source)]) == 0
    assert "MIDI only: timidity is not installed" in capsys.readouterr().out
    assert (tmp_path / "jig.mid").is_file() and not (tmp_path / "jig.wav").exists()


@pytest.mark.parametrize(("text", "message"), [
    ("T:no tunes here\n", "is not an ABC file"),
    ("X:1\nT:Bad\nM:6/8\nL:1/8\nK:D\nA|df$a|\n", "tune 1 is not valid ABC: body does not "
                                                "parse: line 1, column 5"),
    ("X:1\nT:No key\nM:6/8\nabc|\n", "no K: line ends the header"),
])
def test_play_refuses_malformed_abc(tmp_path: Path, capsys, text: str, message: str) -> None:
    source = tmp_path / "bad.abc"
    source.write_text(text, encoding="utf-8")
    assert main(["music", "play", str(source)]) == 1
    assert message in capsys.readouterr().err


def test_play_names_a_missing_file_and_tune(tmp_path: Path, capsys) -> None:
    assert main(["music", "play", str(tmp_path / "none.abc")]) == 1
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "one.abc").write_text(TUNE, encoding="utf-8")
    assert main(["music", "play", str(tmp_path / "one.abc"), "--tune", "3"]) == 1
    assert "holds 1 tune(s); --tune 3" in capsys.readouterr().err


REEL = "X:2\nT:Test Reel\nM:C|\nL:1/8\nK:G Major\nB|GABc dBGB|cBAG A4:|\n"


@pytest.fixture(scope="module")
def conditional(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conditional model of two tunes: a jig in D (6/8) and a reel in G (C|)."""
    folder = tmp_path_factory.mktemp("conditional")
    tunes = folder / "tunes.abc"
    tunes.write_text("\n".join([TUNE, REEL] * 20), encoding="utf-8")
    status = main(["music", "train", "--text-file", str(tunes), "--condition", "key_meter",
                   "--out-dir", str(folder / "run"), "--hidden-size", "64",
                   "--embedding-size", "16", "--num-layers", "1", "--batch-size", "8",
                   "--seq-len", "64", "--lr", "0.01", "--max-steps", "200",
                   "--eval-every", "200", "--no-progress", "--no-tensorboard",
                   "--sample-length", "5"])
    assert status == 0
    return folder / "run"


@pytest.mark.parametrize(("key", "meter", "phrase"), [("D", "6/8", "A|dfa agf|"),
                                                      ("G", "C|", "B|GABc dBGB|")])
def test_conditioning_vector_picks_the_tune(conditional: Path, tmp_path: Path, key: str,
                                            meter: str, phrase: str) -> None:
    assert generate(conditional, tmp_path / "out", "--key", key, "--meter", meter,
                    "--no-midi") == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["settings"]["condition"] == "vector"
    assert summary["respect"]["header"] >= 0.75  # the model writes the asked header itself
    bodies = [(tmp_path / "out" / t["abc"]).read_text() for t in summary["tunes"]]
    assert sum(phrase in body for body in bodies) >= 3  # and plays the matching tune


def test_conditioning_method_must_fit_the_model(conditional: Path, trained: Path,
                                                tmp_path: Path, capsys) -> None:
    assert generate(conditional, tmp_path / "a", "--key", "D", "--condition", "header",
                    "--no-midi") == 1
    assert "needs its conditioning vector" in capsys.readouterr().err
    assert generate(trained, tmp_path / "b", "--key", "D", "--condition", "vector",
                    "--no-midi") == 1
    assert "has no conditioning vector" in capsys.readouterr().err


def test_plain_sampling_refuses_a_conditional_model(conditional: Path, capsys) -> None:
    assert main(["sample", "--checkpoint", str(conditional), "--length", "5"]) == 1
    assert "conditional model" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(conditional), "--window", "32",
                 "--json"]) == 0  # on its own data it is scored with its conditions
