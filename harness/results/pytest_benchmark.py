"""pytest-benchmark JSON: its schema, the loader, and how an entry names its workload, backend and size."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from harness.errors import InputFileError
from harness.results.jsonfiles import check_document, compile_schema, parse_json
from harness.results.document import BACKENDS

WHAT = "pytest-benchmark JSON"
_NUMBER = {"type": ["number", "null"]}
_TEXT = {"type": ["string", "null"]}
# A size may be written as a number or as text ("1024"); a longer text is no grid side, and
# would only reach Python's integer-conversion limit.
_SIZE = {"type": ["number", "string", "null"], "maxLength": 32}  # maxLength bounds only a text size
# The parts of a `pytest --benchmark-json` file (or a saved run) that the harness reads.
PYTEST_BENCHMARK_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["benchmarks", "machine_info"],
    "properties": {
        "machine_info": {"type": "object", "properties": {
            "node": _TEXT, "system": _TEXT, "release": _TEXT, "machine": _TEXT, "python_version": _TEXT,
            "cpu": {"type": ["object", "null"], "properties": {"count": {"type": ["integer", "null"]}}},
        }},
        "commit_info": {"type": ["object", "null"], "properties": {"id": _TEXT}},
        "datetime": _TEXT,
        "benchmarks": {"type": "array", "items": {
            "type": "object",
            "properties": {
                "name": _TEXT, "fullname": _TEXT, "group": _TEXT,
                "param": {"type": ["string", "null"], "maxLength": 1000},
                "params": {"type": ["object", "null"], "properties": {"backend": _TEXT, "size": _SIZE}},
                "stats": {"type": "object", "properties": {
                    **{name: _NUMBER for name in ("min", "max", "mean", "median", "stddev")},
                    "rounds": {"type": ["integer", "null"], "minimum": 0},
                    "data": {"type": ["array", "null"], "items": {"type": "number"}},
                }},
            },
        }},
    },
}
_CHECK = compile_schema(PYTEST_BENCHMARK_JSON_SCHEMA)
_DIGITS = re.compile(r"[0-9]{1,18}")


def check_pytest_benchmark(document: Any, source: str, error: type[InputFileError] = InputFileError) -> dict[str, Any]:
    """``document`` if it follows PYTEST_BENCHMARK_JSON_SCHEMA, else ``error`` naming ``source``."""
    return check_document(document, _CHECK, source, WHAT, error)


def load_pytest_benchmark_json(path: str | os.PathLike[str],
                               error: type[InputFileError] = InputFileError) -> dict[str, Any]:
    """Parse and check a pytest-benchmark JSON; NaN is allowed (the writer may emit it), the schema is not bent."""
    return check_pytest_benchmark(parse_json(path, error=error), str(path), error)


def as_size(value: Any) -> int | None:
    """A grid size as an int (1024, 1024.0, "1024"), or None when it is not a whole number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value)
    return None


def backend_and_size(entry: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """From ``params``, else from the parametrisation id such as 'ram-1024'."""
    params = entry.get("params") or {}
    backend, size = params.get("backend"), as_size(params.get("size"))
    tokens = re.split(r"[-_,\s]+", str(entry.get("param") or ""))
    if backend is None:
        backend = next((t for t in tokens if t in BACKENDS), None)
    if size is None and params.get("size") is None:
        size = next((int(t) for t in tokens if _DIGITS.fullmatch(t)), None)
    return backend, size


def workload_of(entry: Mapping[str, Any], default: str = "") -> str:
    """The suite groups by workload; without a group, the test's own name up to its parameters."""
    return str(entry.get("group") or str(entry.get("name") or default).split("[")[0])
