"""Loader for an asv (0.6, result format version 2) results directory into the tidy frame."""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from harness.results.asv_schemas import CHECK_BENCHMARKS, CHECK_MACHINE, CHECK_RESULT_ENTRY, CHECK_RESULT_FILE
from harness.results.jsonfiles import check_document, load_json
from reports.errors import ReportInputError
from reports.frames import clean_number, concat_measurements, measurements_frame

# asv's benchmark type -> the statistic its single "result" number is.
# For "time" asv records the median of its samples.
STATISTIC_OF_TYPE = {"time": "median", "peakmemory": "peakmem", "memory": "mem", "track": "track"}
TYPE_OF_PREFIX = {"time_": "time", "timeraw_": "time", "peakmem_": "peakmemory", "mem_": "memory", "track_": "track"}
UNIT_NAMES = {"seconds": "s", "bytes": "bytes"}


@dataclass(frozen=True)
class AsvLayout:
    """Where an asv results tree keeps its benchmark metadata and per-machine result files."""

    benchmarks_json: Path | None
    machine_dirs: tuple[Path, ...]


def find_asv_results_root(path: Path) -> AsvLayout:
    """The asv layout under `path`: a results dir, one machine dir, or a project with .asv/results."""
    path = Path(path)
    if not path.is_dir():
        raise ReportInputError(f"{path}: no such directory")
    for nested in (path / ".asv" / "results", path / "results"):
        if nested.is_dir() and not (path / "machine.json").is_file():
            if (nested / "benchmarks.json").is_file() or _machine_dirs(nested):
                return find_asv_results_root(nested)
    if (path / "machine.json").is_file():
        benchmarks = path.parent / "benchmarks.json"
        return AsvLayout(benchmarks if benchmarks.is_file() else None, (path,))
    machines = _machine_dirs(path)
    if not machines and not (path / "benchmarks.json").is_file():
        raise ReportInputError(
            f"{path}: not an asv results directory (no benchmarks.json or <machine>/machine.json)"
        )
    benchmarks = path / "benchmarks.json"
    return AsvLayout(benchmarks if benchmarks.is_file() else None, machines)


def _machine_dirs(path: Path) -> tuple[Path, ...]:
    return tuple(sorted(child for child in path.iterdir() if (child / "machine.json").is_file()))


def _result_files(machine_dir: Path) -> list[Path]:
    return sorted(p for p in machine_dir.glob("*.json") if p.name != "machine.json")


def _literal(text: Any) -> Any:
    """asv stores parameter values as their repr: "'ram'" -> 'ram', "1024" -> 1024."""
    try:
        return ast.literal_eval(text) if isinstance(text, str) else text
    except (ValueError, SyntaxError):
        return text


def _param_names(params: list[list[Any]], meta: Mapping[str, Any]) -> list[str]:
    """Names from benchmarks.json, else guessed: all-backend lists are 'backend', all-int 'size'."""
    names = list(meta.get("param_names") or [])
    if len(names) == len(params):
        return names
    guessed = []
    for index, values in enumerate(params):
        if values and all(value in ("ram", "memmap") for value in values):
            guessed.append("backend")
        elif values and all(isinstance(value, int) for value in values):
            guessed.append("size")
        else:
            guessed.append(f"param{index + 1}")
    return guessed


def _benchmark_type(name: str, meta: Mapping[str, Any]) -> str:
    if meta.get("type"):
        return str(meta["type"])
    method = name.rsplit(".", 1)[-1]
    return next((kind for prefix, kind in TYPE_OF_PREFIX.items() if method.startswith(prefix)), "track")


def _iso_from_ms(milliseconds: Any) -> str | None:
    number = clean_number(milliseconds)
    if number is None:
        return None
    return datetime.fromtimestamp(number / 1000, tz=timezone.utc).isoformat()


def asv_result_measurements(
    document: Mapping[str, Any], benchmarks: Mapping[str, Any], machine: str | None, source: str = "asv result file"
) -> pd.DataFrame:
    """Tidy rows of one parsed asv result file; `benchmarks` is benchmarks.json (may be empty); `source` names the file."""
    columns = list(document["result_columns"])
    context = {
        "source": "asv",
        "commit": document.get("commit_hash"),
        "machine": machine or (document.get("params") or {}).get("machine"),
        "timestamp": _iso_from_ms(document.get("date")),
    }
    rows: list[dict[str, Any]] = []
    for name, packed in sorted(document["results"].items()):
        entry = check_document(dict(zip(columns, packed)), CHECK_RESULT_ENTRY, f"{source}: {name}",
                               "asv result", ReportInputError)
        meta = benchmarks.get(name) or {}
        params = [[_literal(value) for value in values] for values in entry.get("params") or []]
        names = _param_names(params, meta)
        combos = [dict(zip(names, combo)) for combo in itertools.product(*params)] if params else [{}]
        kind = _benchmark_type(name, meta)
        unit = UNIT_NAMES.get(str(meta.get("unit")), meta.get("unit") or ("s" if kind == "time" else ""))
        values = entry.get("result")
        values = values if isinstance(values, list) else [values]
        ci_low = entry.get("stats_ci_99_a") or [None] * len(values)  # asv's interval is 99 %
        ci_high = entry.get("stats_ci_99_b") or [None] * len(values)
        for combo, value, low, high in zip(combos, values, ci_low, ci_high):
            if clean_number(value) is None:
                continue  # asv writes null for a failed or skipped parameter combination
            rows.append({
                **context, "workload": name, "backend": combo.get("backend"), "size": combo.get("size"),
                "statistic": STATISTIC_OF_TYPE.get(kind, kind), "value": value,
                "ci_low": low, "ci_high": high, "unit": unit,
            })
    return measurements_frame(rows)


def _load_json(path: Path, validator: Any, what: str) -> Any:
    try:
        return load_json(path, validator, what, error=ReportInputError)
    except FileNotFoundError:
        raise ReportInputError(f"{path}: no such file") from None


def load_asv_results(path: Path) -> pd.DataFrame:
    """Every result file of every machine under an asv results directory, as one tidy frame."""
    layout = find_asv_results_root(Path(path))
    benchmarks = (_load_json(layout.benchmarks_json, CHECK_BENCHMARKS, "asv benchmarks.json")
                  if layout.benchmarks_json else {})
    frames = []
    for machine_dir in layout.machine_dirs:
        machine_info = _load_json(machine_dir / "machine.json", CHECK_MACHINE, "asv machine.json")
        machine = machine_info.get("machine")
        for result_path in _result_files(machine_dir):
            document = _load_json(result_path, CHECK_RESULT_FILE, "asv 0.6 result file")
            frames.append(asv_result_measurements(document, benchmarks, machine or machine_dir.name,
                                                  str(result_path)))
    if not frames:
        raise ReportInputError(f"{path}: asv results directory holds no result files")
    return concat_measurements(frames)
