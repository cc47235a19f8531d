"""The checks registry: each acceptance check's id and name, the measurements it reads, how it builds its evidence, its judge."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.acceptance import (
    coverage,
    env_grids,
    memory_scaling,
    observations,
    out_of_core,
    performance,
    persistence,
    portability,
    tensors,
)
from harness.acceptance.scope import BackendScope
from harness.verdicts import Criterion

# The measurements a validation run can make (harness.acceptance.measurements runs each at most once).
ENV_GRIDS, OBSERVATIONS, PERSISTENCE, PORTABILITY = "env_grids", "observations", "persistence", "portability"
WARM_TIMING, COLD_ROWS, MEMORY_PROBES, OUT_OF_CORE = "warm_timing", "cold_rows", "memory_probes", "out_of_core"

Measured = Mapping[str, Any]  # measurement name -> what it returned


@dataclass(frozen=True)
class Check:
    """One acceptance check: ``collect`` builds its evidence from the measurements, ``judge`` (pure) rules on it."""

    id: str
    name: str
    needs: tuple[str, ...]  # the measurements ``collect`` reads
    collect: Callable[[Measured], Any]
    judge: Callable[[Any], Criterion]

    def applies(self, scope: BackendScope) -> bool:
        """Whether the check applies to the backend a run measures (a chunked one skips the mapping checks)."""
        return scope.applies(self.id)


def _performance(measured: Measured) -> performance.PerformanceEvidence:
    cold = measured.get(COLD_ROWS, ())
    return performance.performance_evidence(measured[WARM_TIMING], [row.row for row in cold])


def _out_of_core(measured: Measured) -> out_of_core.OutOfCoreEvidence:
    run: out_of_core.OutOfCoreRun = measured[OUT_OF_CORE]
    return out_of_core.out_of_core_evidence(run, [*measured[MEMORY_PROBES], *run.tiled], run.plan)


CHECKS: tuple[Check, ...] = (
    Check(env_grids.ID, env_grids.NAME, (ENV_GRIDS,), lambda m: m[ENV_GRIDS], env_grids.judge),
    Check(observations.ID, observations.NAME, (OBSERVATIONS,), lambda m: m[OBSERVATIONS].observation,
          observations.judge),
    Check(persistence.ID, persistence.NAME, (PERSISTENCE,), lambda m: m[PERSISTENCE], persistence.judge),
    Check(performance.ID, performance.NAME, (WARM_TIMING, COLD_ROWS), _performance, performance.judge),
    Check(tensors.ID, tensors.NAME, (OBSERVATIONS,), lambda m: m[OBSERVATIONS].tensor, tensors.judge),
    Check(memory_scaling.ID, memory_scaling.NAME, (MEMORY_PROBES,),
          lambda m: memory_scaling.memory_evidence(m[MEMORY_PROBES]), memory_scaling.judge),
    Check(coverage.ID, coverage.NAME, (WARM_TIMING,), lambda m: coverage.coverage_evidence(m[WARM_TIMING].ran),
          coverage.judge),
    Check(portability.ID, portability.NAME, (PORTABILITY,), lambda m: m[PORTABILITY], portability.judge),
    Check(out_of_core.ID, out_of_core.NAME, (MEMORY_PROBES, OUT_OF_CORE), _out_of_core, out_of_core.judge),
)
KNOWN_CRITERIA: tuple[str, ...] = tuple(check.id for check in CHECKS)
CRITERION_NAMES: Mapping[str, str] = {check.id: check.name for check in CHECKS}
CHECKS_BY_ID: Mapping[str, Check] = {check.id: check for check in CHECKS}
