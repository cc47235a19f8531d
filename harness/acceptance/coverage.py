"""C7, coverage: the validation measured every file-backed structure (a structure no workload touches FAILs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.acceptance.criterion_rows import not_measured, row
from harness.verdicts import Criterion, Verdict
from harness.workloads.catalog import WORKLOADS, WorkloadSpec

ID = "C7"
NAME = "validation covers every memmap structure"
REQUIRED_STRUCTURES: frozenset[str] = frozenset(
    {"OBSTACLES", "TERRAIN_COST", "VISIBILITY", "DAMAGE_HEAT", "TRAILS", "ALLY_SIGNAL", "RESOURCES"}
)


@dataclass(frozen=True)
class CoverageEvidence:
    """C7: which memmap structures the validation measured."""
    measured: frozenset[str]  # structures the validation exercised through the memmap path
    skipped: frozenset[str] = frozenset()  # structures planned but not measured (quick mode, error)


def judge(evidence: CoverageEvidence | None, required: frozenset[str] = REQUIRED_STRUCTURES) -> Criterion:
    """FAIL when a required structure is absent from the validation; WARN when it was only skipped."""
    if evidence is None or not (evidence.measured or evidence.skipped):
        return not_measured(ID, NAME)
    absent = sorted(required - evidence.measured - evidence.skipped)
    skipped = sorted((required & evidence.skipped) - evidence.measured)
    value = len(required & evidence.measured) / len(required) if required else 1.0
    if absent:
        verdict, details = Verdict.FAIL, f"not covered: {', '.join(absent)}"
    elif skipped:
        verdict, details = Verdict.WARN, f"skipped: {', '.join(skipped)}"
    else:
        verdict, details = Verdict.PASS, f"all {len(required)} structures measured"
    return row(ID, NAME, verdict, details, value=value, threshold=1.0)


def coverage_evidence(ran: Iterable[str], registry: Mapping[str, WorkloadSpec] = WORKLOADS) -> CoverageEvidence:
    """Structures measured by the workloads that ran; those of registered workloads that did not
    run (deselected, failed, interrupted) count as skipped.

    A structure no registered workload touches is absent from both sets, so C7 FAILs on it.
    """
    ran = list(ran)
    measured = frozenset(s for name in ran for s in registry[name].structures)
    not_run = set(registry) - set(ran)
    skipped = frozenset(s for name in not_run for s in registry[name].structures) - measured
    return CoverageEvidence(measured=measured, skipped=skipped)
