"""Reading user text files and the positional train/validation split."""

from __future__ import annotations

import pytest

from rnnkit.data.text import load_text_file, split_text


def test_split_is_positional_and_complete() -> None:
    text = "".join(chr(65 + i % 26) for i in range(1000))
    parts = split_text(text, 0.1)
    assert parts["train"] + parts["valid"] == text
    assert len(parts["valid"]) == 100


def test_reads_utf8(tmp_path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("héllo\n", encoding="utf-8")
    assert load_text_file(path) == "héllo\n"


@pytest.mark.parametrize(("content", "error", "words"), [
    (None, FileNotFoundError, "does not exist"),
    (b"", ValueError, "is empty"),
    (b" \n\n", ValueError, "is empty"),
    (b"ok \xff bad", ValueError, "is not UTF-8: byte 0xff at offset 3"),
])
def test_bad_files_get_named_errors(tmp_path, content, error, words) -> None:
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=words) as info:
        load_text_file(path)
    assert "input.txt" in str(info.value)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_split_fraction_must_be_inside_zero_one(fraction) -> None:
    with pytest.raises(ValueError, match="valid_fraction in \\(0, 1\\)"):
        split_text("abcdefgh", fraction)


def test_too_short_to_split() -> None:
    with pytest.raises(ValueError, match="too short to split"):
        split_text("abc", 0.1)
