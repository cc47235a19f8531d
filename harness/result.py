"""Build, write (atomically) and read the farm-harness result JSON (schema farm-harness/result/v1)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import importlib.metadata
import json
import math
import os
import platform
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.verdicts import Criterion, Overall, Verdict, judge_ratio
from harness.errors import ResultSchemaError

if TYPE_CHECKING:  # only annotates ratio_record: readers of results need no timing (or scipy) import
    from harness.timing import PairedTiming

SCHEMA = "farm-harness/result/v1"
MODES = ("quick", "full")
VERSIONED_PACKAGES = ("numpy", "torch", "scipy", "farm_grids")
_DISTRIBUTION_NAMES = {"farm_grids": "farm-grids"}


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


def to_jsonable(value: Any) -> Any:
    """Plain JSON types: NaN/inf -> null, enums -> their value, dataclasses/tuples/numpy scalars unwrapped."""
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v) for v in items]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} to result JSON")


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
    created: dt.datetime | None = None,
    machine: Mapping[str, Any] | None = None,
    commit: str | None | bool = True,
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
        }
    )


def write_json_atomic(document: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``document`` as JSON via a temp file in the same directory and os.replace (never half-written)."""
    target = Path(path)
    text = json.dumps(to_jsonable(document), indent=2, allow_nan=False) + "\n"
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    return target


def write_result(result: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Check the schema key and write the result JSON atomically."""
    _check_result(result, str(path))
    return write_json_atomic(result, path)


def _check_result(document: object, source: str) -> None:
    if not isinstance(document, Mapping):
        raise ResultSchemaError(f"{source}: result must be a JSON object, got {type(document).__name__}")
    if document.get("schema") != SCHEMA:
        raise ResultSchemaError(f"{source}: schema is {document.get('schema')!r}, expected {SCHEMA!r}")
    verdicts = {o.value for o in Overall}
    if document.get("verdict") not in verdicts:
        raise ResultSchemaError(f"{source}: verdict {document.get('verdict')!r} is not one of {sorted(verdicts)}")
    for key in ("criteria", "ratios", "memory"):
        if not isinstance(document.get(key, []), list):
            raise ResultSchemaError(f"{source}: {key!r} must be a list")
    for entry in document.get("criteria", []):
        if not isinstance(entry, Mapping) or entry.get("verdict") not in {v.value for v in Verdict}:
            raise ResultSchemaError(f"{source}: criterion {entry!r} has no valid verdict")


def load_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a result JSON, checking its schema key, verdict and list fields (ResultSchemaError if not)."""
    text = Path(path).read_text(encoding="utf-8")  # FileNotFoundError propagates as is
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultSchemaError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    _check_result(document, str(path))
    return document
