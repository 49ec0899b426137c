"""Numeric series from CSV columns: exact values, interpolation, and errors that name the cell."""

from __future__ import annotations

import pytest

from rnnkit.data.series import (
    airline_passengers,
    co2,
    interpolate_missing,
    read_series,
    sunspots,
)


def test_column_is_read_in_order_with_crlf_and_blank_lines() -> None:
    text = '"month","passengers"\r\n"1949-01",112\r\n\r\n"1949-02", 118.5 \r\n'
    assert read_series(text, "passengers") == [112.0, 118.5]


def test_missing_column_is_named_with_the_columns_present() -> None:
    with pytest.raises(ValueError) as caught:
        read_series("YEAR,SUNACTIVITY\n1700,5\n", "sunactivity", source="sun.csv")
    assert str(caught.value) == ("sun.csv has no column 'sunactivity'; columns present: "
                                 "'YEAR', 'SUNACTIVITY'")


def test_non_numeric_cell_names_row_line_and_column() -> None:
    text = "t,y\n1,2\n\n2,3,5\n3,n/a\n"
    with pytest.raises(ValueError) as caught:
        read_series(text, "y", source="s.csv")
    assert str(caught.value) == "s.csv row 3 (line 5), column 'y': 'n/a' is not a number"
    with pytest.raises(ValueError, match=r"row 1 \(line 2\), column 'y': 'inf' is not a finite"):
        read_series("t,y\n1,inf\n", "y")


def test_short_row_and_empty_inputs_are_errors() -> None:
    with pytest.raises(ValueError, match=r"^CSV row 2 \(line 3\), column 'y': the row has "
                                         r"only 1 fields$"):
        read_series("t,y\n1,2\n3\n", "y")
    with pytest.raises(ValueError, match="CSV is empty"):
        read_series("", "y")
    with pytest.raises(ValueError, match="CSV has a header but no rows"):
        read_series("t,y\n", "y")


def test_missing_value_is_refused_unless_interpolating() -> None:
    text = "t,y\n1,1\n2,\n3, \n4,4\n5,6\n"
    with pytest.raises(ValueError) as caught:
        read_series(text, "y")
    assert str(caught.value) == ("CSV row 2 (line 3), column 'y': the cell is empty (a missing "
                                 "value)")
    assert read_series(text, "y", missing="interpolate") == [1.0, 2.0, 3.0, 4.0, 6.0]


def test_interpolation_cannot_fill_the_ends() -> None:
    assert interpolate_missing([0.0, None, 1.0]) == [0.0, 0.5, 1.0]
    with pytest.raises(ValueError) as caught:
        read_series("t,y\n1,\n2,3\n", "y", missing="interpolate")
    assert str(caught.value) == ("CSV, column 'y': row 1 is missing and cannot be "
                                 "interpolated: it is the first value")
    with pytest.raises(ValueError, match=r"row 3 is missing .* the last value"):
        interpolate_missing([1.0, 2.0, None])
    with pytest.raises(ValueError, match="every value is missing"):
        interpolate_missing([None, None])


def test_named_series_read_their_columns() -> None:
    assert airline_passengers('"month","passengers"\r\n"1949-01",112\r\n"1949-02",118\r\n') \
        == [112.0, 118.0]
    assert sunspots('"YEAR","SUNACTIVITY"\n1700,5\n1701,11\n') == [5.0, 11.0]


def test_co2_interpolates_missing_weeks_linearly() -> None:
    text = ("date,co2\n19580503,316.0\n19580510,\n19580517,\n19580524,316.6\n"
            "19580531,317.0\n")
    assert co2(text) == pytest.approx([316.0, 316.2, 316.4, 316.6, 317.0], abs=1e-12)
    with pytest.raises(ValueError, match=r"co2 CSV row 2 \(line 3\), column 'co2': 'x'"):
        co2("date,co2\n19580503,316.0\n19580510,x\n")
