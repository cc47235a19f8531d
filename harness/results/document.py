"""Build, write (atomically) and read the farm-harness result JSON (schema farm-harness/result/v1)."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import socket
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from harness.errors import ResultSchemaError
from harness.results.jsonfiles import check_document, compile_schema, parse_json, to_jsonable, write_json_atomic
from harness.verdicts import Criterion, Overall, Verdict, judge_ratio


class PairedTiming(Protocol):
    """What ratio_record reads of a paired timing (harness.probes.timing.PairedTiming has it all).

    A protocol, not an import: results sit below the probes, and readers of results need no
    timing (or scipy) import.
    """

    @property
    def workload(self) -> str: ...

    @property
    def ratio(self) -> float: ...

    @property
    def ci_low(self) -> float: ...

    @property
    def ci_high(self) -> float: ...

    @property
    def blocks(self) -> int: ...

    @property
    def baseline_median_s(self) -> float: ...

    @property
    def candidate_median_s(self) -> float: ...

    @property
    def gc_enabled(self) -> bool: ...

    @property
    def interval(self) -> str: ...

    @property
    def baseline_block_s(self) -> tuple[float, ...]: ...

    @property
    def candidate_block_s(self) -> tuple[float, ...]: ...

SCHEMA = "farm-harness/result/v1"
MODES = ("quick", "full", "big")  # big: full plus C9's big-world figures (validate --big)
# Every ratio in a result is memmap over RAM; its records name both sides (ram_median_s, ...).
BACKENDS: tuple[str, ...] = ("ram", "memmap")
VERSIONED_PACKAGES = ("numpy", "torch", "scipy", "farm_grids")
_DISTRIBUTION_NAMES = {"farm_grids": "farm-grids"}

_NUMBER = {"type": ["number", "null"]}
_INTEGER = {"type": ["integer", "null"]}
_TEXT = {"type": ["string", "null"]}
_FLAG = {"type": ["boolean", "null"]}
_NUMBERS = {"type": "array", "items": {"type": "number"}}
# What readers rely on; keys a newer writer adds are allowed (additionalProperties is open).
RESULT_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "verdict", "criteria"],
    "properties": {
        "schema": {"const": SCHEMA},
        "verdict": {"enum": [o.value for o in Overall]},
        "mode": _TEXT, "threshold": _NUMBER, "created": _TEXT, "duration_s": _NUMBER, "git_commit": _TEXT,
        "machine": {"type": ["object", "null"], "properties": {"hostname": _TEXT}},
        "backend": _TEXT,
        "not_applicable": {"type": "object", "additionalProperties": {"type": "string"}},
        "criteria": {"type": "array", "items": {
            "type": "object", "required": ["id", "verdict"],
            "properties": {"id": {"type": "string"}, "name": _TEXT, "verdict": {"enum": [v.value for v in Verdict]},
                           "value": _NUMBER, "ci_low": _NUMBER, "ci_high": _NUMBER, "threshold": _NUMBER,
                           "unit": _TEXT, "details": _TEXT},
        }},
        "ratios": {"type": "array", "items": {
            "type": "object", "required": ["workload"],
            "properties": {
                "workload": {"type": "string"}, "size": _INTEGER, "cache": _TEXT, "ratio": _NUMBER,
                "ci_low": _NUMBER, "ci_high": _NUMBER, "threshold": _NUMBER,
                "verdict": {"enum": [*(v.value for v in Verdict), None]}, "blocks": _INTEGER,
                **{f"{backend}_median_s": _NUMBER for backend in BACKENDS},
                **{f"{backend}_block_s": _NUMBERS for backend in BACKENDS},
                **{f"{backend}_rounds": _INTEGER for backend in BACKENDS},
                "gc_enabled": _FLAG, "interval": _TEXT, "inblock_bytes": _INTEGER, "major_faults": _INTEGER,
                "eviction_effective": _FLAG, "gating": _FLAG, "details": _TEXT,
            },
        }},
        "memory": {"type": "array", "items": {"type": "object", "properties": {
            "size": _INTEGER, "grid_bytes": _NUMBER, "pss_anon_bytes": _NUMBER, "rss_anon_bytes": _NUMBER,
            "rss_file_bytes": _NUMBER, "file_bytes": _NUMBER, "file_blocks_bytes": _NUMBER, "pages_touched": _NUMBER,
            "layout": _TEXT, "needed_bytes": _NUMBER, "resident_file_bytes": _NUMBER, "untracked_calls": _INTEGER,
        }}},
        "memory_fit": {"type": ["object", "null"],
                       "properties": {"slope": _NUMBER, "intercept_bytes": _NUMBER, "r2": _NUMBER}},
        # C9: cold batched gathers and frontier ticks (harness.probes.cold_gather, harness.probes.cold_frontier).
        "outofcore": {"type": "array", "items": {"type": "object", "required": ["kind", "layout"], "properties": {
            "kind": {"enum": ["cold_gather", "frontier"]}, "layout": {"type": "string"}, "size": _INTEGER,
            "prefetch": _FLAG, "access": _TEXT, "us_per_window": _NUMBER, "warm_us_per_window": _NUMBER,
            "read_ratio": _NUMBER, "needed_bytes": _NUMBER, "file_bytes": _NUMBER, "floor_us_per_window": _NUMBER,
            "ratio": _NUMBER, "ci_low": _NUMBER, "ci_high": _NUMBER, "eviction_effective": _FLAG,
            "cold_s": _NUMBERS, "warm_s": _NUMBERS,
        }}},
    },
}
_CHECK_RESULT = compile_schema(RESULT_JSON_SCHEMA)


def package_version(name: str) -> str | None:
    """Installed version of ``name`` (import name or distribution name), or None if not installed."""
    for candidate in (_DISTRIBUTION_NAMES.get(name, name), name):
        try:
            return importlib.metadata.version(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def machine_info() -> dict[str, Any]:
    """Host, platform, Python and package versions, as recorded in every result."""
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "versions": {name: package_version(name) for name in VERSIONED_PACKAGES},
    }


def git_commit(cwd: str | os.PathLike[str] | None = None) -> str | None:
    """HEAD commit of the git repository containing ``cwd`` (default: this package), or None."""
    where = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):  # no git binary, or it hung
        return None
    commit = completed.stdout.strip()
    return commit if completed.returncode == 0 and commit else None


def criterion_record(criterion: Criterion) -> dict[str, Any]:
    """One entry of ``criteria`` in the result JSON."""
    return to_jsonable(criterion)


def ratio_record(
    timing: PairedTiming,
    *,
    threshold: float,
    size: int | None = None,
    cache: str = "warm",
    verdict: Verdict | None = None,
    include_blocks: bool = True,
) -> dict[str, Any]:
    """One entry of ``ratios``: a timing result judged against ``threshold`` (unless ``verdict`` is given)."""
    judged = verdict if verdict is not None else judge_ratio(timing.ci_low, timing.ci_high, threshold)
    record: dict[str, Any] = {
        "workload": timing.workload,
        "size": size,
        "cache": cache,
        "ratio": timing.ratio,
        "ci_low": timing.ci_low,
        "ci_high": timing.ci_high,
        "threshold": threshold,
        "verdict": judged,
        "blocks": timing.blocks,
        "ram_median_s": timing.baseline_median_s,
        "memmap_median_s": timing.candidate_median_s,
        "gc_enabled": timing.gc_enabled,
        "interval": timing.interval,
    }
    if include_blocks:
        record["ram_block_s"] = list(timing.baseline_block_s)
        record["memmap_block_s"] = list(timing.candidate_block_s)
    return to_jsonable(record)


def memory_fit_record(slope: float, intercept_bytes: float, r2: float) -> dict[str, Any]:
    """The ``memory_fit`` object: anon bytes = slope * grid bytes + intercept_bytes."""
    return to_jsonable({"slope": slope, "intercept_bytes": intercept_bytes, "r2": r2})


def build_result(
    *,
    verdict: Overall,
    mode: str,
    threshold: float,
    criteria: Iterable[Criterion],
    duration_s: float,
    ratios: Iterable[Mapping[str, Any]] = (),
    memory: Iterable[Mapping[str, Any]] = (),
    memory_fit: Mapping[str, Any] | None = None,
    outofcore: Iterable[Mapping[str, Any]] = (),
    created: dt.datetime | None = None,
    machine: Mapping[str, Any] | None = None,
    commit: str | None | bool = True,
    backend: str = "memmap",
    not_applicable: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole result document; ``commit=True`` asks git, a string or None is used as given."""
    if mode not in MODES:
        raise ResultSchemaError(f"mode must be one of {MODES}, got {mode!r}")
    stamp = (created or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds")
    return to_jsonable(
        {
            "schema": SCHEMA,
            "verdict": verdict,
            "mode": mode,
            "threshold": threshold,
            "created": stamp,
            "duration_s": duration_s,
            "git_commit": git_commit() if commit is True else (commit or None),
            "machine": dict(machine) if machine is not None else machine_info(),
            "criteria": [criterion_record(c) for c in criteria],
            "ratios": list(ratios),
            "memory": list(memory),
            "memory_fit": memory_fit,
            # The file backend measured against RAM, and the checks skipped for it (id -> reason).
            "backend": backend,
            "not_applicable": dict(not_applicable or {}),
            "outofcore": list(outofcore),
        }
    )


def write_result(result: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Check the document against RESULT_JSON_SCHEMA, then write it atomically."""
    check_result(result, str(path))
    return write_json_atomic(result, path)


def check_result(document: object, source: str) -> dict[str, Any]:
    """``document`` if it is a farm-harness result this version reads, else ResultSchemaError naming ``source``."""
    if not isinstance(document, Mapping):
        raise ResultSchemaError(f"{source}: result must be a JSON object, got {type(document).__name__}")
    if document.get("schema") != SCHEMA:
        raise ResultSchemaError(f"{source}: unknown schema {document.get('schema')!r} (expected {SCHEMA!r})")
    return check_document(document, _CHECK_RESULT, source, "farm-harness result", ResultSchemaError)


def load_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a result JSON and check it against RESULT_JSON_SCHEMA (ResultSchemaError if it does not follow it).

    NaN and Infinity are refused: the harness writes null for a number it could not measure.
    A missing file raises FileNotFoundError.
    """
    return check_result(parse_json(path, allow_nonfinite=False, error=ResultSchemaError), str(path))
