"""The ABC tune reader on the course lab's real file."""

import hashlib
from pathlib import Path

import pytest

from rnnkit.data.registry import get_spec
from rnnkit.music.abc_tunes import join_tunes, parse_header, split_tunes

IRISH = Path(__file__).parents[1] / "fixtures" / "irish.abc"


@pytest.fixture(scope="module")
def irish_text() -> str:
    return IRISH.read_text(encoding="utf-8")


def test_fixture_is_the_registered_file(irish_text: str) -> None:
    (cached,) = get_spec("irish_abc").files
    assert hashlib.sha256(irish_text.encode("utf-8")).hexdigest() == cached.sha256


def test_real_file_has_804_tunes_with_known_titles(irish_text: str) -> None:
    tunes = split_tunes(irish_text)
    assert len(tunes) == 804 == irish_text.count("X:")
    titles = [parse_header(tune).first("T") for tune in tunes]
    assert titles[0] == "Alexander's"
    assert "Jug of Punch No. 2" in titles
    assert all(tune.startswith("X:") and "\n\n" not in tune for tune in tunes)
    assert all(parse_header(tune).body_start is not None for tune in tunes)


def test_tunes_keep_every_line(irish_text: str) -> None:
    tunes = split_tunes(irish_text)
    kept = [line for tune in tunes for line in tune.splitlines()]
    original = [line.rstrip() for line in irish_text.splitlines() if line.strip()]
    assert kept == original


def test_blank_lines_inside_a_tune_are_dropped_and_preamble_ignored() -> None:
    text = "% a file comment\n\nX:1\nT:A\n\nK:D\nabc|\n\n\nX:2\nT:B\nK:G\nd2|  \n"
    assert split_tunes(text) == ["X:1\nT:A\nK:D\nabc|", "X:2\nT:B\nK:G\nd2|"]
    assert join_tunes(["X:1", "X:2"]) == "X:1\n\nX:2\n\n"


def test_text_without_tunes_is_an_error() -> None:
    with pytest.raises(ValueError, match="no line starts with 'X:'"):
        split_tunes("T:no reference number\nK:D\nabc|\n")


def test_header_fields_in_order_and_body_start() -> None:
    header = parse_header("X:3\nT:One\nT:Two\n% note\nM:6/8\nL:1/8\nK:D Major\nabc|def|")
    assert header.fields == {"X": ["3"], "T": ["One", "Two"], "M": ["6/8"], "L": ["1/8"],
                             "K": ["D Major"]}
    assert header.body_start == 7 and header.first("K") == "D Major"
    assert parse_header("X:1\nT:x\nabc|").body_start is None
