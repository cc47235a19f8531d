"""FARM_GRIDS_MAX_REQUEST_BYTES: a whole number of bytes in ASCII digits, anything else a typed error naming it."""

from __future__ import annotations

import pytest

from farm_grids import limits
from farm_grids.errors import InvalidGridSpecError


@pytest.mark.parametrize("text", ["abc", "0", "-5", "1e9", "1.5", "1_000", "\uff19\uff19", "0x10", "9" * 5000, "+7"])
def test_a_malformed_limit_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(limits.ENV_VAR, text)
    with pytest.raises(InvalidGridSpecError, match=limits.ENV_VAR) as caught:
        limits.max_request_bytes()
    assert len(str(caught.value)) < 200, "the message stays one short line, however long the value"


@pytest.mark.parametrize(("text", "expected"), [("1048576", 2**20), (" 4096\n", 4096), ("", None)])
def test_a_whole_number_of_bytes_sets_the_limit(monkeypatch: pytest.MonkeyPatch, text: str, expected: int | None) -> None:
    monkeypatch.setenv(limits.ENV_VAR, text)
    default = int(limits.physical_memory() * limits.DEFAULT_MEMORY_FRACTION)
    assert limits.max_request_bytes() == (default if expected is None else expected)
