"""Atomic writes: the target holds the old content or the new, and no temp file is left over."""

import json
import math
import os
from pathlib import Path

import pytest

from rnnkit import atomic
from rnnkit.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text


def names(folder: Path) -> list[str]:
    return sorted(entry.name for entry in folder.iterdir())


def test_write_bytes_reads_back_and_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c.bin"
    data = bytes(range(256)) * 3
    assert atomic_write_bytes(target, data) == target
    assert target.read_bytes() == data
    assert names(target.parent) == ["c.bin"]


def test_write_bytes_replaces_previous_content(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old content that is longer")
    atomic_write_bytes(str(target), b"new")  # a str path works too
    assert target.read_bytes() == b"new"
    assert names(tmp_path) == ["file.bin"]


def test_write_text_is_utf8(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    atomic_write_text(target, "naïve — ünïcödé ✓\n")
    assert target.read_bytes() == "naïve — ünïcödé ✓\n".encode()


def test_write_json_round_trip(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    document = {"a": [1, 2.5, None, True], "b": {"c": "d"}, "e": 0, "f": 0.0}
    atomic_write_json(target, document)
    text = target.read_text(encoding="utf-8")
    assert text.endswith("\n")
    loaded = json.loads(text)
    assert loaded == document
    assert isinstance(loaded["e"], int) and isinstance(loaded["f"], float)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_write_json_rejects_non_finite_and_keeps_old_file(tmp_path: Path, bad: float) -> None:
    target = tmp_path / "doc.json"
    atomic_write_json(target, {"x": 1})
    with pytest.raises(ValueError, match="not JSON compliant"):
        atomic_write_json(target, {"x": [bad]})
    assert json.loads(target.read_text()) == {"x": 1}
    assert names(tmp_path) == ["doc.json"]


def test_write_json_rejects_unserialisable_without_touching_file(tmp_path: Path) -> None:
    target = tmp_path / "doc.json"
    with pytest.raises(TypeError):
        atomic_write_json(target, {"x": object()})
    assert not target.exists()
    assert names(tmp_path) == []


class BoomError(Exception):
    pass


def _raise(*args, **kwargs):
    raise BoomError("interrupted")


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_interrupted_write_keeps_old_content_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"previous")
    monkeypatch.setattr(os, where, _raise)
    with pytest.raises(BoomError):
        atomic_write_bytes(target, b"replacement that never lands")
    monkeypatch.undo()
    assert target.read_bytes() == b"previous"
    assert names(tmp_path) == ["file.bin"]


def test_interrupted_first_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "new.bin"
    monkeypatch.setattr(os, "replace", _raise)
    with pytest.raises(BoomError):
        atomic_write_bytes(target, b"data")
    monkeypatch.undo()
    assert names(tmp_path) == []


def test_keyboard_interrupt_mid_write_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BaseException (Ctrl-C) too: the temp file goes, the old file stays."""
    target = tmp_path / "file.txt"
    atomic_write_text(target, "old")

    def interrupt(descriptor: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old"
    assert names(tmp_path) == ["file.txt"]


def test_failure_while_writing_data_cleans_up(tmp_path: Path) -> None:
    """Data the file cannot take (a str for a binary file) fails inside the write itself."""
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["file.bin"]


def test_temp_file_is_in_target_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rename must stay within one file system: the temp file sits beside the target."""
    seen = []
    real_replace = os.replace

    def spy(source, destination):
        seen.append((Path(source), Path(destination)))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", spy)
    target = tmp_path / "sub" / "x.bin"
    atomic_write_bytes(target, b"1")
    (source, destination), = seen
    assert source.parent == target.parent and destination == target
    assert source.name.startswith(".x.bin.") and source.name.endswith(".tmp")
