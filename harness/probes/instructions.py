"""The instruction lane: instructions per call of the CPU-bound workloads, counted under valgrind's callgrind.

Instruction counts do not move with the runner's load, so this lane tracks CPU-bound code
from commit to commit where wall time cannot (CodSpeed's method). One subprocess per
workload runs under ``valgrind --tool=callgrind --instr-atstart=no``: imports and the build run
uninstrumented; ``callgrind_control`` then switches instrumentation on and dumps the count of
a region with no call (the set-up-only baseline: the protocol itself) and of a region with
``calls`` calls. Instructions per call = (region - baseline) / calls. PYTHONHASHSEED is fixed,
so two processes of one commit execute the same instructions."""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import farm_grids
import harness
from harness.errors import HarnessError, HarnessUsageError
from harness.probes import instruction_child
from harness.probes.instruction_child import DONE, READY
from harness.results.asv_compare import INSTRUCTION_UNIT
from harness.workloads.catalog import WORKLOADS


UNIT = INSTRUCTION_UNIT
HASH_SEED = "0"
CONTROL_TIMEOUT_S = 120.0


class InstructionCountError(HarnessError, RuntimeError):
    """valgrind or callgrind_control failed, or the counted process died; the message says which."""


@dataclass(frozen=True)
class LaneWorkload:
    """A harness workload as the lane counts it: tiny, so that a count takes seconds under valgrind."""

    name: str  # a key of harness.workloads.catalog.WORKLOADS: the one definition of the work
    size: int
    calls: int  # calls in the counted region
    what: str
    agents: int | None = None

    def params(self, file_backend: str | None) -> dict[str, Any]:
        """WorkloadParams fields; a fixed run id, since names end up in the stores' structures."""
        params: dict[str, Any] = {"backend": "ram", "size": self.size, "seed": 0, "simulation_id": "instructions"}
        if file_backend is not None:  # a registered backend serves every store (the "memmap" side)
            params.update(backend="memmap", file_backend=file_backend)
        if self.agents is not None:
            params["agents"] = self.agents
        return params


LANE: dict[str, LaneWorkload] = {w.name: w for w in (
    LaneWorkload("store_windows", 64, 4, "store call overhead: 256 get_window calls from a bare store"),
    LaneWorkload("store_batched_windows", 64, 2, "window kernel: one gather of 10,000 R=6 windows, reused out"),
    LaneWorkload("observe_all", 64, 1, "observe_all on RAM: 200 agents x 13 channels", agents=200),
)}


def lane_fingerprint() -> str:
    """A digest of what a count means: the lane's sizes and calls, and the counted process's code."""
    source = Path(instruction_child.__file__).read_text(encoding="utf-8")
    return hashlib.sha256(f"{sorted(LANE.values(), key=repr)!r}\n{source}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class InstructionCount:
    """One workload counted in one process: callgrind's Ir of the empty region and of the region with calls."""

    workload: str
    size: int
    calls: int
    file_backend: str | None
    baseline_ir: int
    region_ir: int
    seconds: float

    @property
    def per_call(self) -> float:
        return (self.region_ir - self.baseline_ir) / self.calls

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "per_call": self.per_call}


def missing_tools() -> list[str]:
    """The valgrind programs this lane needs that are not on PATH."""
    return [tool for tool in ("valgrind", "callgrind_control") if shutil.which(tool) is None]


def import_roots() -> str:
    """A PYTHONPATH that finds the engine and harness this process runs (asv drops PYTHONPATH), then the rest."""
    roots = [str(Path(package.__file__).resolve().parents[1]) for package in (farm_grids, harness)]
    return os.pathsep.join(dict.fromkeys([*roots, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]))


def _control(pid: int, *words: str) -> None:
    """One callgrind_control command (through vgdb); it returns once callgrind has carried it out."""
    try:
        done = subprocess.run(["callgrind_control", *words, str(pid)], capture_output=True, text=True,
                              timeout=CONTROL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise InstructionCountError(f"callgrind_control {' '.join(words)} got no answer in {CONTROL_TIMEOUT_S:.0f} s "
                                    "(vgdb needs ptrace on the counted process)") from None
    if done.returncode != 0 or "OK" not in done.stdout:
        raise InstructionCountError(f"callgrind_control {' '.join(words)} failed: "
                                    f"{(done.stdout + done.stderr).strip()[-300:]}")


def _expect(proc: subprocess.Popen[bytes], word: bytes, deadline: float, log: Path) -> None:
    """Wait for ``word`` from the counted process (it answers in one short write)."""
    assert proc.stdout is not None
    got = b""
    while not got.endswith(b"\n"):
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(proc.stdout.fileno(), 64) if ready else b""
        if not chunk:
            proc.kill()
            proc.wait()
            tail = log.read_text(errors="replace")[-1500:] if log.is_file() else ""
            why = "timed out" if not ready else f"exited with {proc.returncode}"
            raise InstructionCountError(f"the counted process {why} before {word.strip().decode()!r}:\n{tail}")
        got += chunk
    if got != word:
        raise InstructionCountError(f"the counted process said {got!r}, expected {word!r}")


def read_total(path: Path) -> int:
    """The Ir total of one callgrind dump (its ``summary:`` line; events are Ir only)."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise InstructionCountError(f"{path.name}: no summary line (not a callgrind dump)")


def count_instructions(name: str, *, file_backend: str | None = None, plugins: Sequence[str] = (),
                       timeout_s: float = 600.0) -> InstructionCount:
    """Instructions per call of lane workload ``name`` in a fresh process under callgrind.

    ``file_backend`` (a backend name registered by one of ``plugins``, modules the counted
    process imports first) serves every store instead of RAM: how an injected change reaches
    the engine's paths through the store contract.
    """
    if name not in LANE:
        raise HarnessUsageError(f"unknown lane workload {name!r}; known: {', '.join(LANE)}")
    if missing := missing_tools():
        raise InstructionCountError(f"{', '.join(missing)} not found: install valgrind (Debian: apt-get install valgrind)")
    lane = LANE[name]
    factory = WORKLOADS[name].factory
    spec = {"module": factory.__module__, "factory": factory.__qualname__, "params": lane.params(file_backend),
            "plugins": list(plugins)}
    started = time.monotonic()
    deadline = started + timeout_s
    with tempfile.TemporaryDirectory(prefix="farm-instructions-") as tmp:
        out, log = Path(tmp) / "callgrind.out", Path(tmp) / "valgrind.log"
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                   sys.executable, "-m", "harness.probes.instruction_child", json.dumps(spec)]
        # Threads of a BLAS or OpenMP pool would spin a varying number of instructions.
        env = {**os.environ, "PYTHONHASHSEED": HASH_SEED, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "PYTHONPATH": import_roots()}
        with open(log, "wb") as log_file:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file, env=env)
        try:
            assert proc.stdin is not None
            _expect(proc, READY, deadline, log)
            _control(proc.pid, "-i", "on")
            for calls in (0, lane.calls):  # dump i holds the region since dump i-1
                proc.stdin.write(f"{calls}\n".encode())
                proc.stdin.flush()
                _expect(proc, DONE, deadline, log)
                _control(proc.pid, "-d")
            proc.stdin.write(b"exit\n")
            proc.stdin.close()
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if code != 0:
            raise InstructionCountError(f"the counted process exited with {code}:\n{log.read_text(errors='replace')[-1500:]}")
        baseline, region = (read_total(out.with_name(f"{out.name}.{i}")) for i in (1, 2))
    return InstructionCount(name, lane.size, lane.calls, file_backend, baseline, region,
                            round(time.monotonic() - started, 1))
