"""Labelled CSV texts: exact pairs from made-up CSVs, and errors that name the problem."""

from __future__ import annotations

import re

import pytest

from rnnkit.data.labelled_text import (
    column_index,
    csv_records,
    read_labelled_csv,
    rotten_tomatoes_pairs,
)

REVIEWS = ('id,label,text\n'
           '1,pos,A fine film.\n'
           '2,neg,"Dull, and long."\n'
           '\n'
           '3,pos,"Two\nlines, ""quoted"""\r\n')


def test_pairs_in_file_order_with_quoting_kept_exact() -> None:
    assert read_labelled_csv(REVIEWS, "text", "label") == [
        ("A fine film.", "pos"), ("Dull, and long.", "neg"), ('Two\nlines, "quoted"', "pos")]


def test_label_filter_skips_other_rows_before_checking_them() -> None:
    text = "text,label\nkept,a\n,plot\ndropped,b\n"
    assert read_labelled_csv(text, "text", "label", labels={"a"}) == [("kept", "a")]


def test_missing_column_is_named_with_the_columns_present() -> None:
    with pytest.raises(ValueError) as caught:
        read_labelled_csv(REVIEWS, "review", "label", source="reviews.csv")
    assert str(caught.value) == ("reviews.csv has no column 'review'; columns present: 'id', "
                                 "'label', 'text'")
    with pytest.raises(ValueError, match="no column 'sentiment'"):
        read_labelled_csv(REVIEWS, "text", "sentiment")


def test_empty_text_cell_names_row_and_line() -> None:
    text = 'label,text\npos,"a\nb"\nneg,  \n'
    with pytest.raises(ValueError) as caught:
        read_labelled_csv(text, "text", "label", source="r.csv")
    assert str(caught.value) == "r.csv row 2 (line 4): the 'text' cell is empty"


def test_empty_label_cell_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("CSV row 1 (line 2): the 'label' cell")):
        read_labelled_csv("label,text\n,good\n", "text", "label")


def test_wrong_field_count_is_named() -> None:
    with pytest.raises(ValueError) as caught:
        read_labelled_csv("label,text\npos,good,extra\n", "text", "label")
    assert str(caught.value) == ("CSV row 1 (line 2): 3 fields, but the header has 2 "
                                 "(label, text)")


def test_empty_text_and_bad_quoting_are_errors() -> None:
    with pytest.raises(ValueError, match="CSV is empty: expected a header row"):
        read_labelled_csv("\n\n", "text", "label")
    with pytest.raises(ValueError, match=r"^CSV line 2: malformed CSV"):
        read_labelled_csv('label,text\npos,"open\n', "text", "label")


def test_records_start_lines_and_column_index() -> None:
    assert list(csv_records('a,b\n\n"x\ny",z\nu,v\n')) == [
        (1, ["a", "b"]), (3, ["x\ny", "z"]), (5, ["u", "v"])]
    assert column_index(["a", "b"], "b") == 1


def test_rotten_tomatoes_takes_snippets_only_stripped() -> None:
    text = ("category,text,movie_name,has_plot_and_reviews\n"
            "plot,,film_a,False\n"
            "fresh,A three-hour master class.,film_a,True\n"
            'rotten,"Too bad.\n\n\n",film_b,False\n')
    assert rotten_tomatoes_pairs(text) == [("A three-hour master class.", "fresh"),
                                           ("Too bad.", "rotten")]
