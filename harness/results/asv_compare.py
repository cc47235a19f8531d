"""asv results of a base and a head commit compared per benchmark: ratio, interval and asv's significance test."""

from __future__ import annotations

import ast
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from harness.results.asv_schemas import CHECK_BENCHMARKS
from harness.errors import HarnessUsageError
from harness.results.jsonfiles import load_json

# Verdicts of one benchmark, base -> head. Only REGRESSION and BROKE gate a change: each is a
# change asv itself calls significant (or a benchmark that stopped running), never noise.
REGRESSION, IMPROVED, NOISE, UNCHANGED = "REGRESSION", "improved", "not significant", "unchanged"
BROKE, FIXED, NEW_SERIES, NO_BASE, NOT_RUN = "BROKE", "fixed", "new series", "no base", "not run"
NOT_REPRODUCED = "not reproduced"  # a REGRESSION in the first run that a second, independent run did not confirm
UNCONFIRMED = "changed, no interval"  # beyond the factor, but asv keeps no samples for this kind
GATING = frozenset({REGRESSION, BROKE})
GATED_KINDS = frozenset({"time"})  # peakmem/track have one sample: asv cannot test them
# The instruction lane's track_ series (harness.probes.instructions): counts, not times. Two processes
# of one commit count the same instructions, so one value per side decides, with no test; the
# factor sits far above the measured A/A spread and below the smallest change worth a look.
INSTRUCTION_UNIT = "instructions"
DEFAULT_INSTRUCTION_FACTOR = 1.02


@dataclass(frozen=True)
class AsvValue:
    """One benchmark at one parameter combination in one result file."""

    benchmark: str
    params: tuple[str, ...]
    param_names: tuple[str, ...]
    kind: str
    unit: str
    version: str | None
    value: float | None  # None: failed; NaN: skipped
    stats: Mapping[str, Any] | None
    samples: Sequence[float] | None


@dataclass(frozen=True)
class AsvRow:
    """One benchmark at one parameter combination, base vs head, with asv's verdict."""

    benchmark: str
    params: str
    kind: str
    unit: str
    workload: str | None
    backend: str | None
    size: int | None
    base: float | None
    head: float | None
    ratio: float | None  # head / base
    ci_low: float | None  # head/base from asv's 99 % intervals: the widest ratio they allow
    ci_high: float | None
    significant: bool | None  # asv's test (Mann-Whitney U on the samples, else the intervals)
    verdict: str
    rerun_ratio: float | None = None  # head / base in the confirming run (suspects only)
    rerun_verdict: str | None = None

    @property
    def gating(self) -> bool:
        return self.verdict in GATING

    @property
    def changed(self) -> bool:
        return self.verdict not in (UNCHANGED, NO_BASE, NOT_RUN)

    def record(self) -> dict[str, Any]:
        return asdict(self)


def _finite(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _literal(text: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def load_values(results_dir: Path, machine: str, commit: str, since_ms: float | None = None) -> list[AsvValue]:
    """Every benchmark value asv saved for ``commit`` on ``machine`` (any environment), read with asv's API.

    ``since_ms`` (a JavaScript timestamp, as asv keeps them) drops benchmarks that started before it: a
    result file keeps values of earlier runs for benchmarks this run did not select.
    """
    try:
        from asv.results import iter_results_for_machine_and_hash
    except ImportError as exc:  # asv is a dev extra
        raise HarnessUsageError(f"asv is not installed ({exc}): pip install -e '.[dev]'") from None
    meta_path = results_dir / "benchmarks.json"
    meta = load_json(meta_path, CHECK_BENCHMARKS, "asv benchmarks.json") if meta_path.is_file() else {}
    values: list[AsvValue] = []
    if not (results_dir / machine).is_dir():
        return values
    for result in iter_results_for_machine_and_hash(str(results_dir), machine, commit):
        for key in result.get_all_result_keys():
            started = result.started_at.get(key)
            if since_ms is not None and (started is None or started < since_ms):
                continue
            params = result.get_result_params(key)
            info = meta.get(key, {})
            names = tuple(info.get("param_names") or ())
            combos = list(itertools.product(*params)) if params else [()]
            per = [result.get_result_value(key, params), result.get_result_stats(key, params),
                   result.get_result_samples(key, params)]
            per = [v if isinstance(v, list) else [v] * len(combos) for v in per]
            kind = str(info.get("type") or key.rsplit(".", 1)[-1].split("_", 1)[0])
            for combo, value, stats, samples in zip(combos, *per):
                values.append(AsvValue(key, tuple(combo), names, kind, str(info.get("unit") or ""),
                                       result.benchmark_version.get(key), value, stats, samples))
    return values


def workload_of(value: AsvValue) -> str | None:
    """The harness workload of a value: its ``workload`` parameter, else the one its version names."""
    named = dict(zip(value.param_names, (_literal(p) for p in value.params)))
    if isinstance(named.get("workload"), str):
        return named["workload"]
    version = value.version or ""
    if "/" not in version:  # asv's default version (a bare hash) names no workload
        return None
    names = [n for n in version.split("/", 1)[0].split("+") if n]
    return names[0] if len(names) == 1 else None


def _param(value: AsvValue, name: str) -> object:
    return dict(zip(value.param_names, (_literal(p) for p in value.params))).get(name)


def is_different(base: AsvValue, head: AsvValue) -> bool | None:
    """asv's own significance test of two results; None when asv has no statistics for them."""
    if not base.stats or not head.stats or base.stats.get("repeat") == 1 or head.stats.get("repeat") == 1:
        return None
    from asv import _stats  # the test `asv compare` and `asv continuous` apply

    return bool(_stats.is_different(base.samples, head.samples, base.stats, head.stats))


def _ratio_interval(base: AsvValue, head: AsvValue) -> tuple[float | None, float | None]:
    b_low, b_high = (_finite((base.stats or {}).get(k)) for k in ("ci_99_a", "ci_99_b"))
    h_low, h_high = (_finite((head.stats or {}).get(k)) for k in ("ci_99_a", "ci_99_b"))
    if None in (b_low, b_high, h_low, h_high) or b_low <= 0 or b_high <= 0:  # type: ignore[operator]
        return None, None
    return h_low / b_high, h_high / b_low  # type: ignore[operator]


def judge_counts(base: float, head: float, factor: float) -> str:
    """Instruction counts, head against base: beyond the factor is a change (the counts do not vary)."""
    if head > base * factor:
        return REGRESSION
    return IMPROVED if head < base / factor else UNCHANGED


def judge(base: AsvValue | None, head: AsvValue | None, factor: float,
          instruction_factor: float = DEFAULT_INSTRUCTION_FACTOR) -> tuple[str, bool | None]:
    """asv's rules (as `asv compare -f factor`): a change counts when beyond the factor and significant.

    An instruction count is judged by ``instruction_factor`` alone (see ``judge_counts``).
    """
    if head is None:
        return NOT_RUN, None
    if base is None:  # quick mode, or a new benchmark: nothing to compare, but raising is still broken
        return (BROKE if head.value is None else NO_BASE), None
    if base.version and head.version and base.version != head.version:
        return NEW_SERIES, None
    if base.value is not None and head.value is None:
        return BROKE, None
    if base.value is None and head.value is not None:
        return FIXED, None
    b, h = _finite(base.value), _finite(head.value)
    if b is None or h is None or b <= 0:
        return UNCHANGED, None  # both failed, or skipped on either side
    if head.unit == INSTRUCTION_UNIT:
        verdict = judge_counts(b, h, instruction_factor)
        return verdict, verdict != UNCHANGED
    beyond_up, beyond_down = h > b * factor, h < b / factor
    if not (beyond_up or beyond_down):
        return UNCHANGED, is_different(base, head)
    significant = is_different(base, head)
    if significant is None:
        return UNCONFIRMED, None
    if not significant:
        return NOISE, False
    return (REGRESSION if beyond_up else IMPROVED), True


def _key(value: AsvValue) -> tuple[str, tuple[str, ...]]:
    return value.benchmark, value.params


def compare(base: Iterable[AsvValue], head: Iterable[AsvValue], factor: float,
            instruction_factor: float = DEFAULT_INSTRUCTION_FACTOR) -> list[AsvRow]:
    """One row per benchmark and parameter combination found on either side, worst first."""
    base_by, head_by = {_key(v): v for v in base}, {_key(v): v for v in head}
    rows = []
    for key in sorted(set(base_by) | set(head_by)):
        b, h = base_by.get(key), head_by.get(key)
        either = h or b
        assert either is not None
        verdict, significant = judge(b, h, factor, instruction_factor)
        bv, hv = _finite(b.value) if b else None, _finite(h.value) if h else None
        ratio = hv / bv if bv and hv is not None else None
        low, high = _ratio_interval(b, h) if b and h and verdict != NEW_SERIES else (None, None)
        size = _param(either, "size")
        backend = _param(either, "backend")
        rows.append(AsvRow(
            benchmark=either.benchmark, params=", ".join(either.params), kind=either.kind, unit=either.unit,
            workload=workload_of(either), backend=backend if isinstance(backend, str) else None,
            size=size if isinstance(size, int) else None, base=bv, head=hv, ratio=ratio,
            ci_low=low, ci_high=high, significant=significant, verdict=verdict,
        ))
    return _worst_first(rows)


def _worst_first(rows: Iterable[AsvRow]) -> list[AsvRow]:
    order = {REGRESSION: 0, BROKE: 1, NOT_REPRODUCED: 2, NOISE: 3, UNCONFIRMED: 4, IMPROVED: 5, FIXED: 6,
             NEW_SERIES: 7}
    return sorted(rows, key=lambda r: (order.get(r.verdict, 9), -(r.ratio or 0.0)))


def suspects(rows: Iterable[AsvRow]) -> list[AsvRow]:
    """The rows a confirming run must reproduce: asv's significant slowdowns.

    A BROKE row needs no second look, and neither does an instruction count: a second run
    counts the same instructions again.
    """
    return [r for r in rows if r.verdict == REGRESSION and r.unit != INSTRUCTION_UNIT]


def selection_regex(row: AsvRow) -> str:
    """An asv ``-b`` regex for exactly this benchmark and parameter combination (asv matches ``name(p0, p1)``)."""
    return "^" + re.escape(f"{row.benchmark}({row.params})" if row.params else row.benchmark) + "$"


def confirm(first: Sequence[AsvRow], rerun: Iterable[AsvRow]) -> list[AsvRow]:
    """``first`` with each REGRESSION kept only where the independent rerun also finds one.

    asv's Mann-Whitney test pools every sample of a commit as independent, so drift on a shared
    machine between the base and head rounds reads as significant. A real slowdown survives a
    second run at another moment; drift rarely strikes the same benchmark twice.
    """
    again = {(r.benchmark, r.params): r for r in rerun}
    rows = []
    for row in first:
        if row.verdict != REGRESSION or row.unit == INSTRUCTION_UNIT:  # a count is not rerun (see suspects)
            rows.append(row)
            continue
        second = again.get((row.benchmark, row.params))
        held = second is not None and second.verdict == REGRESSION
        rows.append(replace(row, verdict=REGRESSION if held else NOT_REPRODUCED,
                            rerun_ratio=second.ratio if second else None,
                            rerun_verdict=second.verdict if second else NOT_RUN))
    return _worst_first(rows)
