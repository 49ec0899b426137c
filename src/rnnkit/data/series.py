"""Numeric time series from CSV columns, for forecasting.

:func:`read_series` takes one numeric column of a CSV with a header row. The named series
read the registered data sets' CSV texts (``load_splits(name)["text"]``):

==================  ===============================  ==========================================
data set            series                           values
==================  ===============================  ==========================================
airline_passengers  :func:`airline_passengers`       144 monthly totals (thousands), 1949-1960
sunspots            :func:`sunspots`                 309 yearly mean sunspot numbers, 1700-2008
co2                 :func:`co2`                      2,284 weekly means (ppmv), 1958-2001; 59
                                                     missing weeks filled by interpolation
==================  ===============================  ==========================================

Row numbers in error messages count the records after the header from 1; line numbers are
lines of the text (the header is line 1).
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

from rnnkit.data.labelled_text import column_index, csv_header, csv_records

__all__ = ["airline_passengers", "co2", "interpolate_missing", "read_series", "sunspots"]

Missing = Literal["error", "interpolate"]


def read_series(text: str, column: str, *, missing: Missing = "error",
                source: str = "CSV") -> list[float]:
    """The values of the numeric ``column`` of the CSV ``text``, one per row, in file order.

    An empty (or blank) cell is a missing value: ``missing="error"`` refuses it,
    ``missing="interpolate"`` fills it by :func:`interpolate_missing`. Blank lines are skipped.

    Raises :class:`ValueError`, naming ``source``, when the text has no header or no rows, the
    column is missing (the message lists the columns present), a row is too short to have the
    column, a cell is not a finite number (row, line and column named), or a value is missing
    and may not be, or cannot be, filled.

    Example:
        >>> read_series("t,y\\n1,2.5\\n2,\\n3,4\\n", "y", missing="interpolate")
        [2.5, 3.25, 4.0]
    """
    records = csv_records(text, source)
    header = csv_header(records, source)
    index = column_index(header, column, source)
    values: list[float | None] = []
    for row, (line, fields) in enumerate(records, 1):
        where = f"{source} row {row} (line {line}), column {column!r}"
        if index >= len(fields):
            raise ValueError(f"{where}: the row has only {len(fields)} fields")
        cell = fields[index].strip()
        if not cell:
            if missing == "error":
                raise ValueError(f"{where}: the cell is empty (a missing value)")
            values.append(None)
        else:
            values.append(_number(cell, where))
    if not values:
        raise ValueError(f"{source} has a header but no rows")
    try:
        return interpolate_missing(values)
    except ValueError as error:
        raise ValueError(f"{source}, column {column!r}: {error}") from None


def interpolate_missing(values: list[float | None]) -> list[float]:
    """``values`` with each run of ``None`` filled by linear interpolation between the known
    values on either side (``[1, None, None, 4]`` -> ``[1, 2, 3, 4]``).

    A missing first or last value has only one neighbour and is refused with
    :class:`ValueError` (naming its row, counted from 1), as is an all-missing list.
    """
    known = [position for position, value in enumerate(values) if value is not None]
    if not known:
        raise ValueError("every value is missing")
    for end in (0, len(values) - 1):
        if values[end] is None:
            raise ValueError(f"row {end + 1} is missing and cannot be interpolated: it is the "
                             f"{'first' if end == 0 else 'last'} value")
    filled = [float(value) if value is not None else 0.0 for value in values]
    for left, right in itertools.pairwise(known):
        step = (filled[right] - filled[left]) / (right - left)
        for position in range(left + 1, right):
            filled[position] = filled[left] + step * (position - left)
    return filled


def airline_passengers(csv_text: str) -> list[float]:
    """Monthly international airline passengers in thousands, January 1949 to December 1960
    (144 values), from the ``airline_passengers`` CSV (columns ``month``, ``passengers``)."""
    return read_series(csv_text, "passengers", source="airline_passengers CSV")


def sunspots(csv_text: str) -> list[float]:
    """Yearly mean sunspot numbers, 1700 to 2008 (309 values), from the ``sunspots`` CSV
    (columns ``YEAR``, ``SUNACTIVITY``)."""
    return read_series(csv_text, "SUNACTIVITY", source="sunspots CSV")


def co2(csv_text: str) -> list[float]:
    """Weekly mean CO2 at Mauna Loa in ppmv, 29 March 1958 to 29 December 2001 (2,284 weeks),
    from the ``co2`` CSV (columns ``date`` as YYYYMMDD, ``co2``).

    The file lists every week, one week apart, and leaves the value empty for the 59 weeks
    without enough data (runs of up to 18 weeks, none at either end). Those are filled by
    linear interpolation between the nearest measured weeks before and after
    (:func:`interpolate_missing`), so the series stays evenly spaced.
    """
    return read_series(csv_text, "co2", missing="interpolate", source="co2 CSV")


def _number(cell: str, where: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {cell!r} is not a finite number")
    return value
