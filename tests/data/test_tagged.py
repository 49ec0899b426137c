"""Tagged sentences: CoNLL-style and word/TAG lines read exactly, malformed lines named."""

from __future__ import annotations

import pytest

from rnnkit.data.tagged import (
    pattern_sentences,
    read_conll,
    read_slash_tagged,
    wnut16_sentences,
)


def test_conll_sentences_split_at_blank_lines() -> None:
    text = "\n\nEmpire B-facility\nState\tI-facility\r\n \t\n\nPretty  O\nbad O"
    assert read_conll(text) == [[("Empire", "B-facility"), ("State", "I-facility")],
                                [("Pretty", "O"), ("bad", "O")]]
    assert read_conll("") == [] and read_conll("\n\t\n") == []


def test_conll_keeps_non_ascii_spaces_inside_tokens() -> None:
    assert read_conll("a\u00a0b O\n") == [[("a\u00a0b", "O")]]


def test_conll_malformed_line_is_named_with_its_number() -> None:
    text = "Paris B-geo-loc\n\nis O\nnice O extra\n"
    with pytest.raises(ValueError) as caught:
        read_conll(text, source="ner.txt")
    assert str(caught.value) == ("ner.txt line 4: expected 2 fields (token and tag) separated "
                                 "by spaces or tabs, got 3: 'nice O extra'")
    with pytest.raises(ValueError, match=r"CoNLL text line 2: .* got 1: 'lonely'"):
        read_conll("a O\nlonely\n")


def test_wnut16_tab_only_lines_end_sentences() -> None:
    text = "@paulwalk\tO\nIt\tO\n\t\nFrom\tO\nGreen\tB-geo-loc\n\t\n"
    assert wnut16_sentences(text) == [[("@paulwalk", "O"), ("It", "O")],
                                      [("From", "O"), ("Green", "B-geo-loc")]]
    with pytest.raises(ValueError, match=r"wnut16 ner\.txt line 1"):
        wnut16_sentences("no-tag\n")


def test_slash_tagged_splits_at_the_last_slash() -> None:
    text = "Pierre/NNP Vinken/NNP ,/, 61/CD ./.\n\nand/or/CC 1/2/CD \\/NN PRP$/PRP$\r\n"
    assert read_slash_tagged(text) == [
        [("Pierre", "NNP"), ("Vinken", "NNP"), (",", ","), ("61", "CD"), (".", ".")],
        [("and/or", "CC"), ("1/2", "CD"), ("\\", "NN"), ("PRP$", "PRP$")]]
    assert pattern_sentences("Has/VBZ the/DT Net/NN ?/.") == [
        [("Has", "VBZ"), ("the", "DT"), ("Net", "NN"), ("?", ".")]]


@pytest.mark.parametrize(("line", "column", "problem"), [
    ("The/DT cat NN", 8, "'cat' has no '/'"),
    ("The/DT  /NN", 9, "'/NN' has no word before its last '/'"),
    ("The/DT cat/", 8, "'cat/' has no tag after its last '/'"),
])
def test_slash_tagged_bad_token_names_line_and_column(line: str, column: int,
                                                      problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        read_slash_tagged(f"A/DT ./.\n{line}\n", source="tagged-en-wsj.txt")
    assert str(caught.value) == (f"tagged-en-wsj.txt line 2, column {column}: token {problem} "
                                 "(expected word/TAG)")
