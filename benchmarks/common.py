"""Shared parts of the asv suite: parameter grids, the slow-size skip, scratch dirs and memory probes."""

from __future__ import annotations

import abc
import hashlib
import math
import os
import shutil
import tempfile
from pathlib import Path

from harness.probes.process_stats import read_smaps_rollup
from harness.probes.timing import measure_paired
from harness.workloads.source import Sources, fingerprint, source_closure, workload_fingerprint
from harness.workloads.catalog import BACKENDS, Workload, build_workload

# Sizes in SLOW_SIZES run only with FARM_BENCH_SLOW=1, so that the default grid (what CI's
# `asv run --quick` executes) stays within a few minutes.
SLOW = os.environ.get("FARM_BENCH_SLOW", "").strip() == "1"
SLOW_SIZES = frozenset({4096, 8192})
SIZES = [512, 1024, 4096]
RADII = [6, 12]
MIB = 1024**2
RATIO_BUDGET_S = 1.5  # seconds of paired blocks per ratio track (>= 5 pairs whatever the budget)


def skip_unless_wanted(size: int) -> None:
    """asv's skip idiom: NotImplementedError in setup marks this parameter combination skipped."""
    if size in SLOW_SIZES and not SLOW:
        raise NotImplementedError(f"size {size} is slow: set FARM_BENCH_SLOW=1 to run it")


def resident_bytes() -> tuple[float, float]:
    """(anonymous, file-backed) resident bytes from /proc/self/smaps_rollup; NaN where there is none."""
    rollup = read_smaps_rollup()
    if rollup is None:  # macOS, Windows: asv shows NaN as n/a
        return math.nan, math.nan
    anon = rollup.get("Anonymous", 0)
    return anon, rollup.get("Rss", 0) - anon  # the rest of Rss is file-backed (this process maps no shmem)


def measured_workloads(cls: type) -> tuple[str, ...]:
    """The harness workloads an asv class times: its ``workload_name``, or its ratio class's ``workloads``."""
    name = getattr(cls, "workload_name", None)
    if isinstance(name, str):
        return (name,)
    names = getattr(cls, "workloads", None)
    return tuple(names) if isinstance(names, (tuple, list)) else ()


def series_version(cls: type, sources: Sources | None = None) -> str:
    """asv ``version``: the workloads' source fingerprints and the class's own (with what it uses here).

    asv starts a new series when a version changes. Hashing the timed workload's source (not
    the engine's) means a redefined workload starts a new series and an engine edit does not.
    The workload names lead, so a results reader can tell what a series times.
    """
    workloads = measured_workloads(cls)
    modules = tuple(dict.fromkeys((cls.__module__, __name__)))
    parts = [workload_fingerprint(name, sources) for name in workloads]
    parts.append(fingerprint(source_closure((cls.__module__, cls.__name__), modules, sources)))
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]
    return f"{'+'.join(workloads)}/{digest}"


class _Versioned:
    """Gives every concrete asv class a ``version`` derived from what it times (see series_version)."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if measured_workloads(cls):
            cls.version = series_version(cls)


class _Scratch(_Versioned):
    """A temp dir for one parameter combination's memmap files, removed in teardown."""

    scratch: Path | None = None

    def make_scratch(self) -> Path:
        self.scratch = Path(tempfile.mkdtemp(prefix=f"farm-asv-{os.getpid()}-"))
        return self.scratch

    def remove_scratch(self) -> None:
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


class WorkloadBenchmark(_Scratch, abc.ABC):
    """Times one unit (``run()``) of a workload built per backend x size (x extra parameters)."""

    params: list[list[object]] = [list(BACKENDS), SIZES]
    param_names = ["backend", "size"]
    timeout = 300
    # This asv re-runs setup before every timed call; a bounded sample count keeps heavy
    # set-ups affordable while leaving asv enough samples to compare commits.
    repeat = (3, 10, 10.0)
    workload: Workload | None = None

    @property
    @abc.abstractmethod
    def workload_name(self) -> str:
        """The harness workload this class measures (a subclass sets it as a class attribute)."""

    def options(self, *extra: object) -> dict[str, object]:
        """WorkloadParams fields for the parameters after backend and size."""
        return {}

    def setup(self, backend: str, size: int, *extra: object) -> None:
        skip_unless_wanted(size)
        self.anon_before, self.file_before = resident_bytes()
        directory = self.make_scratch()
        try:
            self.workload = build_workload(
                self.workload_name, backend, size, directory=directory, **self.options(*extra)
            )
            self.workload.run()  # warm: first-touch page faults are not what is timed
        except BaseException:
            self.teardown()
            raise

    def teardown(self, *params: object) -> None:
        if self.workload is not None:
            self.workload.close()
            self.workload = None
        self.remove_scratch()

    def time_run(self, *params: object) -> None:
        self.workload.run()  # type: ignore[union-attr]

    def peakmem_run(self, *params: object) -> None:
        self.workload.run()  # type: ignore[union-attr]


class WorkloadMemoryBenchmark(WorkloadBenchmark, abc.ABC):
    """Also tracks the anonymous vs file-backed resident MiB the built (and once run) workload added."""

    def track_anon_mib(self, *params: object) -> float:
        return (resident_bytes()[0] - self.anon_before) / MIB

    track_anon_mib.unit = "MiB"  # type: ignore[attr-defined]

    def track_file_mib(self, *params: object) -> float:
        return (resident_bytes()[1] - self.file_before) / MIB

    track_file_mib.unit = "MiB"  # type: ignore[attr-defined]


class MemmapRamRatio(_Scratch, abc.ABC):
    """memmap/RAM time ratio of each workload, paired and interleaved in one process (harness timing)."""

    param_names = ["workload", "size"]
    timeout = 300
    ram: Workload | None = None
    memmap: Workload | None = None

    @property
    @abc.abstractmethod
    def workloads(self) -> tuple[str, ...]:
        """The workloads compared; a subclass sets it and ``params = [list(workloads), sizes]``."""

    def setup(self, workload: str, size: int) -> None:
        skip_unless_wanted(size)
        directory = self.make_scratch()
        try:
            self.ram = build_workload(workload, "ram", size, directory=directory)
            self.memmap = build_workload(workload, "memmap", size, directory=directory)
        except BaseException:
            self.teardown()
            raise

    def teardown(self, *params: object) -> None:
        for workload in (self.ram, self.memmap):
            if workload is not None:
                workload.close()
        self.ram = self.memmap = None
        self.remove_scratch()

    def track_memmap_over_ram(self, workload: str, size: int) -> float:
        timing = measure_paired(
            self.ram.run, self.memmap.run, workload=workload, blocks=20,  # type: ignore[union-attr]
            min_block_s=0.005, warmup_blocks=2, time_budget_s=RATIO_BUDGET_S,
        )
        return timing.ratio

    track_memmap_over_ram.unit = "ratio"  # type: ignore[attr-defined]
