"""JSON Schemas of the asv files the harness and the reports read (asv 0.6): checked whole before any key is used."""

from __future__ import annotations

from typing import Any

from harness.results.jsonfiles import compile_schema

_TEXT = {"type": "string"}
_MAYBE_NUMBER = {"type": ["number", "null"]}
_NUMBERS_OR_ONE = {"type": ["array", "number", "null"], "items": _MAYBE_NUMBER}
_NUMBERS_OR_NONE = {"type": ["array", "null"], "items": _MAYBE_NUMBER}

# results/benchmarks.json: {"version": 2, "<benchmark name>": {its metadata}, ...}
BENCHMARKS_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"version": {"type": "integer"}},
    "additionalProperties": {
        "type": "object",
        "properties": {
            "name": _TEXT, "type": _TEXT, "unit": {"type": ["string", "null"]}, "version": {"type": ["string", "null"]},
            "param_names": {"type": "array", "items": _TEXT},
            "params": {"type": "array", "items": {"type": "array"}},
        },
    },
}
# results/<machine>/machine.json
MACHINE_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"machine": {"type": ["string", "null"]}, "version": {"type": "integer"}},
}
# results/<machine>/<commit>-<env>.json (format version 2): each result is packed in result_columns' order.
RESULT_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["result_columns", "results"],
    "properties": {
        "result_columns": {"type": "array", "items": _TEXT},
        "results": {"type": "object", "additionalProperties": {"type": "array"}},
        "commit_hash": {"type": ["string", "null"]},
        "date": _MAYBE_NUMBER,
        "params": {"type": ["object", "null"], "properties": {"machine": {"type": ["string", "null"]}}},
    },
}
# One benchmark's packed result, unpacked by result_columns (asv writes NaN for unknown intervals).
RESULT_ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "result": _NUMBERS_OR_ONE,
        "params": {"type": ["array", "null"], "items": {"type": "array"}},
        "stats_ci_99_a": _NUMBERS_OR_NONE,
        "stats_ci_99_b": _NUMBERS_OR_NONE,
    },
}
# html/index.json, the part read: revision number (as text) -> commit hash.
HTML_INDEX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"revision_to_hash": {"type": "object", "propertyNames": {"pattern": "^[0-9]+$"},
                                        "additionalProperties": _TEXT}},
}
# html/regressions.json: [name, graph path, graph params, index, last, best, jumps], a jump being
# [revision before (null: adjacent commits), revision after, value before, value after].
_JUMP = {"type": "array", "minItems": 4,
         "items": [{"type": ["integer", "null"]}, {"type": "integer"}, {"type": "number"}, {"type": "number"}]}
REGRESSIONS_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"regressions": {"type": ["array", "null"], "items": {
        "type": "array", "minItems": 7,
        "items": [_TEXT, _TEXT, {"type": ["object", "null"]}, {"type": ["integer", "null"]}, {"type": "number"},
                  {"type": "number"}, {"type": ["array", "null"], "items": _JUMP}],
    }}},
}

CHECK_BENCHMARKS = compile_schema(BENCHMARKS_JSON_SCHEMA)
CHECK_MACHINE = compile_schema(MACHINE_JSON_SCHEMA)
CHECK_RESULT_FILE = compile_schema(RESULT_FILE_SCHEMA)
CHECK_RESULT_ENTRY = compile_schema(RESULT_ENTRY_SCHEMA)
CHECK_HTML_INDEX = compile_schema(HTML_INDEX_SCHEMA)
CHECK_REGRESSIONS = compile_schema(REGRESSIONS_JSON_SCHEMA)
