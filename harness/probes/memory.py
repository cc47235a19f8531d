"""Memory probes: one fresh subprocess per grid size (harness.probes.memory_child), and the records they give."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessUsageError
from harness.probes.stats import fit_memory_slope
from harness.progress import ProgressCallback

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
