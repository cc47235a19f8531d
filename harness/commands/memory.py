"""Memory probe driver: one fresh subprocess per grid size, then the anon-vs-grid fit behind C6."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.commands.commandline import (
    ProgressCallback,
    add_outputs,
    comma_list,
    exit_code,
    positive_int_list,
    progress_display,
)
from harness.acceptance.criteria import MIB, MemoryScalingEvidence, c6_memory_scales
from harness.errors import HarnessUsageError
from harness.results.document import build_result, write_result
from harness.probes.stats import fit_memory_slope
from harness.probes.tempfiles import scratch_dir
from harness.verdicts import DEFAULT_THRESHOLD, Criterion, Overall, overall, unmeasurable

QUICK_SIZES: tuple[int, ...] = (1024, 4096)
FULL_SIZES: tuple[int, ...] = (1024, 2048, 4096, 8192, 16384)
PROBE_TIMEOUT_S = 300.0
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class ProbeResult:
    """One subprocess: its JSON record, or why there is none."""

    size: int
    record: dict[str, Any] | None
    error: str | None = None

    @property
    def anon_bytes(self) -> float | None:
        """Pss_Anon where the kernel has smaps_rollup, else RssAnon; None when unmeasured."""
        if self.record is None:
            return None
        value = self.record.get("pss_anon_bytes")
        return self.record.get("rss_anon_bytes") if value is None else value


def probe_command(size: int, directory: Path, *, file_backend: str | None = None,
                  agents: int | None = None, ticks: int | None = None, layout: str = "rows") -> list[str]:
    """The probe's command line; ``layout`` is ``rows`` or ``tiles<side>`` (e.g. ``tiles32``)."""
    command = [sys.executable, "-m", "harness.probes.memory_child", "--size", str(size), "--directory", str(directory)]
    if layout != "rows":
        side = layout.removeprefix("tiles")
        if not layout.startswith("tiles") or not side.isdigit():
            raise HarnessUsageError(f"probe layout must be 'rows' or 'tiles<side>', got {layout!r}")
        command += ["--layout", "tiles", "--tile-size", side]
    if agents is not None:
        command += ["--agents", str(agents)]
    if ticks is not None:
        command += ["--ticks", str(ticks)]
    if file_backend is not None:
        command += ["--file-backend", file_backend]
    return command


def _probe_environment() -> dict[str, str]:
    # The repo root on the path lets the child import harness (and test helpers) even when
    # the package is not installed, e.g. `--file-backend tests.harness.faulty_stores:...`.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_probe(size: int, directory: Path, *, file_backend: str | None = None, agents: int | None = None,
              ticks: int | None = None, timeout_s: float = PROBE_TIMEOUT_S, layout: str = "rows") -> ProbeResult:
    """Run one probe subprocess; a crash, timeout or bad output becomes ``error``, never a number."""
    command = probe_command(size, directory, file_backend=file_backend, agents=agents, ticks=ticks, layout=layout)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              env=_probe_environment(), check=False)
    except subprocess.TimeoutExpired:
        return ProbeResult(size, None, f"probe timed out after {timeout_s:g} s")
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return ProbeResult(size, None, f"probe exited {done.returncode}: {tail}")
    try:
        record = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return ProbeResult(size, None, f"probe printed no JSON: {done.stdout[-200:]!r}")
    return ProbeResult(size, record)


def run_probes(sizes: Sequence[int], directory: Path, *, file_backend: str | None = None,
               agents: int | None = None, ticks: int | None = None,
               progress: ProgressCallback | None = None, layout: str = "rows") -> list[ProbeResult]:
    """One fresh subprocess per size, one after another (so they never compete for memory)."""
    results = []
    for done, size in enumerate(sizes, start=1):
        results.append(run_probe(size, directory, file_backend=file_backend, agents=agents, ticks=ticks,
                                 layout=layout))
        if progress is not None:
            progress(done, len(sizes), f"{layout} {size}x{size}")
    return results


def scaling_evidence_of(proc_available: bool, grid_bytes: Sequence[float],
                        anon_bytes: Sequence[float | None]) -> MemoryScalingEvidence:
    """C6 evidence from anon bytes per grid size, with the slope fitted over the measured points."""
    points = sorted((g, a) for g, a in zip(grid_bytes, anon_bytes) if not unmeasurable(a))
    slope, interval = None, None
    if len({g for g, _ in points}) >= 2:
        slope, _, _, interval = fit_memory_slope([g for g, _ in points], [a for _, a in points])
    return MemoryScalingEvidence(proc_available, tuple(grid_bytes), tuple(anon_bytes), slope, interval)


def scaling_evidence(results: Sequence[ProbeResult]) -> MemoryScalingEvidence:
    measured = [r for r in results if r.record is not None]
    proc = any(r.record.get("proc_available") for r in measured if r.record is not None)
    return scaling_evidence_of(proc, [float(r.record["grid_bytes"]) for r in measured if r.record is not None],
                               [r.anon_bytes for r in measured])


def memory_criterion(results: Sequence[ProbeResult]) -> Criterion:
    """C6 from the row-layout probes (the default); a failed probe is named in the details (the fit uses the others)."""
    results = [r for r in results if r.record is None or r.record.get("layout", "rows") == "rows"]
    criterion = c6_memory_scales(scaling_evidence(results))
    failed = [f"{r.size}: {r.error}" for r in results if r.error is not None]
    if not failed:
        return criterion
    return dataclasses.replace(criterion, details=f"{criterion.details}; probe failed at {'; '.join(failed)}")


def memory_records(results: Sequence[ProbeResult]) -> list[dict[str, Any]]:
    """The ``memory`` list of the result JSON (schema fields only)."""
    keys = ("size", "grid_bytes", "pss_anon_bytes", "rss_anon_bytes", "rss_file_bytes", "file_bytes",
            "file_blocks_bytes", "pages_touched", "layout", "needed_bytes", "resident_file_bytes", "untracked_calls")
    return [{key: r.record.get(key) for key in keys} for r in results if r.record is not None]


def memory_fit(results: Sequence[ProbeResult]) -> dict[str, float] | None:
    points = [(float(r.record["grid_bytes"]), r.anon_bytes) for r in results
              if r.record is not None and r.anon_bytes is not None and r.record.get("layout", "rows") == "rows"]
    if len({g for g, _ in points}) < 2:
        return None
    slope, intercept, r2, _ = fit_memory_slope([g for g, _ in points], [a for _, a in points])
    return {"slope": slope, "intercept_bytes": intercept, "r2": r2}


def format_results(results: Sequence[ProbeResult]) -> list[str]:
    lines = [f"{'layout':>7} {'size':>6} {'grid MiB':>9} {'anon MiB':>9} {'file RSS MiB':>12} {'on disk MiB':>11} "
             f"{'file pages':>10} {'resident MiB':>12} {'needed MiB':>10}"]
    for r in results:
        if r.record is None:
            lines.append(f"{'-':>7} {r.size:>6} {'-':>9} {'-':>9} {'-':>12} {'-':>11} {'-':>10}  {r.error}")
            continue
        rec = r.record

        def mib(key: str) -> str:
            value = rec.get(key)
            return "n/a" if value is None else f"{value / MIB:.1f}"

        anon = "n/a" if r.anon_bytes is None else f"{r.anon_bytes / MIB:.1f}"
        lines.append(f"{rec.get('layout', 'rows'):>7} {r.size:>6} {mib('grid_bytes'):>9} {anon:>9} "
                     f"{mib('rss_file_bytes'):>12} {mib('file_blocks_bytes'):>11} {rec.get('pages_touched', 'n/a'):>10} "
                     f"{mib('resident_file_bytes'):>12} {mib('needed_bytes'):>10}")
    return lines


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} instead of {FULL_SIZES}")
    parser.add_argument("--sizes", type=positive_int_list, help="comma-separated grid sides, e.g. 1024,4096")
    parser.add_argument("--layouts", type=comma_list, default=("rows",),
                        help="comma-separated rows | tiles<side> (default rows); C6 judges rows, C9's "
                             "resident <= 2x needed line is printed for every layout")
    add_outputs(parser, "directory for memory.json")


def run(args: argparse.Namespace) -> int:
    """`farm-harness memory`: probes per layout and size, the C6 row (rows) and C9's resident line; exit by both."""
    sizes = tuple(args.sizes) if args.sizes else (QUICK_SIZES if args.quick else FULL_SIZES)
    if len(set(sizes)) < 2:
        raise HarnessUsageError(f"--sizes needs at least two different sizes to fit a slope, got {sizes}")
    if min(sizes) < 16:
        raise HarnessUsageError(f"--sizes must be >= 16, got {min(sizes)}")
    for layout in args.layouts:
        probe_command(16, Path("."), layout=layout)  # a bad layout name before any probe runs
    started = time.perf_counter()
    results: list[ProbeResult] = []
    with scratch_dir() as scratch, progress_display("memory", len(sizes) * len(args.layouts)) as progress:
        for index, layout in enumerate(args.layouts):
            results += run_probes(sizes, scratch, layout=layout, progress=lambda d, n, label, index=index: progress(
                index * len(sizes) + d, len(sizes) * len(args.layouts), label))
    criterion = memory_criterion(results)
    for line in format_results(results):
        print(line)
    if "rows" in args.layouts:
        print(f"{criterion.id} {criterion.verdict.value}: {criterion.details}")
    from harness.acceptance.out_of_core import RESIDENT_RATIO, judge_resident
    from harness.acceptance.out_of_core_runs import resident_points

    resident_verdict, resident_text, _ = judge_resident(resident_points(results), RESIDENT_RATIO)
    print(f"C9 (c) {resident_verdict.value}: {resident_text}")
    verdict: Overall = overall([criterion.verdict, resident_verdict] if "rows" in args.layouts else [resident_verdict])
    target = args.json if args.json is not None else (args.out / "memory.json" if args.out else None)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        document = build_result(verdict=verdict, mode="quick" if args.quick else "full", threshold=DEFAULT_THRESHOLD,
                                criteria=[criterion], duration_s=time.perf_counter() - started,
                                memory=memory_records(results), memory_fit=memory_fit(results))
        write_result(document, target)
        print(f"wrote {target}")
    return exit_code(verdict)
