"""The schema of bench-ci.json: what `bench-ci` writes and every reader checks before it reads a key."""

from __future__ import annotations

from typing import Any

from harness.results import asv_compare
from harness.results.document import RESULT_JSON_SCHEMA

SCHEMA = "farm-harness/bench-ci/v1"
MODES = ("change", "history", "quick", "find")
VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR")
ASV_VERDICTS = (asv_compare.REGRESSION, asv_compare.IMPROVED, asv_compare.NOISE, asv_compare.UNCHANGED,
                asv_compare.BROKE, asv_compare.FIXED, asv_compare.NEW_SERIES, asv_compare.NO_BASE,
                asv_compare.NOT_RUN, asv_compare.NOT_REPRODUCED, asv_compare.UNCONFIRMED)

_TEXT = {"type": "string"}
_NUMBER = {"type": "number"}
_MAYBE_TEXT = {"type": ["string", "null"]}
_MAYBE_NUMBER = {"type": ["number", "null"]}


def _record(properties: dict[str, Any], required: tuple[str, ...] | None = None) -> dict[str, Any]:
    """An object with these properties; all required unless ``required`` names fewer."""
    return {"type": "object", "properties": properties,
            "required": list(properties if required is None else required)}


# One row per benchmark and parameter combination: asv_compare.AsvRow.record().
_ASV_ROW = _record({
    "benchmark": _TEXT, "params": _TEXT, "kind": _TEXT, "unit": _TEXT, "workload": _MAYBE_TEXT,
    "backend": _MAYBE_TEXT, "size": {"type": ["integer", "null"]}, "base": _MAYBE_NUMBER, "head": _MAYBE_NUMBER,
    "ratio": _MAYBE_NUMBER, "ci_low": _MAYBE_NUMBER, "ci_high": _MAYBE_NUMBER,
    "significant": {"type": ["boolean", "null"]}, "verdict": {"enum": list(ASV_VERDICTS)},
    "rerun_ratio": _MAYBE_NUMBER, "rerun_verdict": {"enum": [*ASV_VERDICTS, None]},
}, required=("benchmark", "params", "unit", "verdict"))
# A harness gate: its verdict from the exit code, and the rows of the result JSON it wrote.
_GATE = _record({
    "verdict": _TEXT, "exit_code": {"type": "integer"}, "duration_s": _MAYBE_NUMBER,
    "ratios": RESULT_JSON_SCHEMA["properties"]["ratios"], "criteria": RESULT_JSON_SCHEMA["properties"]["criteria"],
}, required=("verdict",))
_STEP = _record({"name": _TEXT, "command": {"type": "array", "items": _TEXT}, "exit_code": {"type": "integer"},
                 "seconds": _NUMBER})
_JUMP = _record({"before_commit": _MAYBE_TEXT, "after_commit": _MAYBE_TEXT, "before": _MAYBE_NUMBER,
                 "after": _MAYBE_NUMBER, "ratio": _MAYBE_NUMBER}, required=())
_HISTORY_STEP = _record({"benchmark": _TEXT, "environment": {"type": ["object", "null"]}, "last": _MAYBE_NUMBER,
                         "best": _MAYBE_NUMBER, "ratio": _MAYBE_NUMBER, "jumps": {"type": "array", "items": _JUMP}},
                        required=("benchmark", "jumps"))
_COMMIT = _record({"ref": _TEXT, "commit": _TEXT})

BENCH_CI_JSON_SCHEMA: dict[str, Any] = _record({
    "schema": {"const": SCHEMA}, "mode": {"enum": list(MODES)}, "verdict": {"enum": list(VERDICTS)},
    "reasons": {"type": "array", "items": _TEXT}, "asv": {"type": "array", "items": _ASV_ROW},
    "gates": {"type": "object", "additionalProperties": _GATE},
    "steps": {"type": "array", "items": _STEP},
    "history_steps": {"type": "array", "items": _HISTORY_STEP},
    "base": _COMMIT, "head": _COMMIT, "range": _TEXT, "html_dir": _TEXT,
    "created": _MAYBE_TEXT, "machine": _MAYBE_TEXT, "factor": _MAYBE_NUMBER, "threshold": _MAYBE_NUMBER,
    "duration_s": _MAYBE_NUMBER,
}, required=("schema", "mode", "verdict", "asv", "gates", "steps"))
