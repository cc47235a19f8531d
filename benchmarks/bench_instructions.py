"""asv: the instruction lane — instructions per call of the CPU-bound workloads, counted under valgrind (see BENCHMARKS.md)."""

from __future__ import annotations

from benchmarks.common import _Versioned

try:
    from harness.probes import instructions
except ImportError:  # asv also runs this suite on commits older than the lane: nothing to count there
    instructions = None  # type: ignore[assignment]

if instructions is not None:

    class Instructions(_Versioned):
        """callgrind's instructions per call of store call overhead, window kernels and observe_all on RAM.

        One fresh process per workload (seconds each under valgrind); `bench-ci change` gates on
        these with a fixed factor, since two runs of one commit count the same instructions.
        """

        workloads = tuple(instructions.LANE)
        params = [list(instructions.LANE)]
        param_names = ["workload"]
        timeout = 600

        def setup(self, workload: str) -> None:
            if missing := instructions.missing_tools():
                raise NotImplementedError(f"{', '.join(missing)} not installed: the instruction lane is skipped")

        def track_instructions(self, workload: str) -> float:
            return instructions.count_instructions(workload).per_call

        track_instructions.unit = instructions.UNIT  # type: ignore[attr-defined]

    # The counts are per call of the lane's own sizes and counting method: a change there starts a new series.
    Instructions.version = f"{Instructions.version}-{instructions.lane_fingerprint()}"
