"""The records a ZarrStore keeps in its group's attributes: read strictly, any corrupt one refused by name."""

from __future__ import annotations

import pytest

from farm_grids import GridFileMismatchError
from farm_grids.stores.zarr.records import ArrayRecord, parse_records

GOOD = {"shape": [6, 7], "dtype": "float32", "chunk": 8}


def test_a_valid_record_reads_back_as_written() -> None:
    records = parse_records({"grids": {"heat": GOOD}}, "g.zarr")
    assert records == {"heat": ArrayRecord((6, 7), "float32", 8)}
    assert records["heat"].to_json() == GOOD


def test_a_group_without_records_has_none() -> None:
    assert parse_records(None, "g.zarr") == {} and parse_records({}, "g.zarr") == {}


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        ({**GOOD, "shape": [6]}, "not two whole numbers"),
        ({**GOOD, "shape": [6, True]}, "not two whole numbers"),
        ({**GOOD, "shape": [0, 7]}, "outside"),
        ({**GOOD, "dtype": "complex64"}, "dtype"),
        ({**GOOD, "dtype": None}, "dtype"),
        ({**GOOD, "chunk": 4}, "chunk side"),
        ({**GOOD, "chunk": 8.0}, "chunk side"),
        ("not a mapping", "not a mapping"),
    ],
)
def test_a_corrupt_record_is_a_mismatch_naming_the_grid(record: object, problem: str) -> None:
    with pytest.raises(GridFileMismatchError, match=problem) as raised:
        parse_records({"grids": {"heat": record}}, "g.zarr")
    assert "'heat'" in str(raised.value) and "g.zarr" in str(raised.value)


def test_grids_that_are_not_a_mapping_are_refused() -> None:
    with pytest.raises(GridFileMismatchError, match="not a mapping"):
        parse_records({"grids": ["heat"]}, "g.zarr")
