"""The checks registry and run_validation's loop: ids in order, each measurement planned once for the checks that need it."""

from __future__ import annotations

from harness.acceptance.checks import CHECKS, CRITERION_NAMES, KNOWN_CRITERIA
from harness.acceptance.measurements import MEASUREMENTS, planned, step_count
from harness.acceptance.plan import ValidationPlan
from harness.acceptance.scope import BackendScope
from harness.acceptance.validation import judge_all
from harness.verdicts import Verdict


def test_the_registry_holds_the_nine_checks_in_their_printed_order() -> None:
    assert KNOWN_CRITERIA == ("C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9")
    assert CRITERION_NAMES["C4"] == "performance within threshold"
    assert CRITERION_NAMES["C9"] == "out-of-core: cold reads and resident file memory track the work"


def test_every_check_reads_only_measurements_that_exist() -> None:
    names = {m.name for m in MEASUREMENTS}
    assert len(names) == len(MEASUREMENTS)
    assert all(set(check.needs) <= names for check in CHECKS)


def test_a_plan_measures_only_what_its_checks_need_and_each_once() -> None:
    def names(*criteria: str, **changes: object) -> list[str]:
        return [m.name for m in planned(ValidationPlan(criteria=criteria, **changes))]

    assert names("C1") == ["env_grids"]
    assert names("C2") == names("C5") == names("C2", "C5") == ["observations"]
    assert names("C7") == ["warm_timing"]
    assert names("C4") == ["warm_timing", "cold_rows"]
    assert names("C4", cold_rows=False) == ["warm_timing"]
    assert names("C6", "C9") == ["memory_probes", "out_of_core"]
    assert [m.name for m in planned(ValidationPlan())] == [m.name for m in MEASUREMENTS]


def test_the_step_count_is_one_per_check_workload_size_and_probe() -> None:
    plan = ValidationPlan()  # quick: 7 gated workloads at one size, 4 cold ones, 2 memory sizes
    cold = len(plan.cold_workloads)
    assert step_count(plan) == 4 + len(plan.workloads) + cold + len(plan.memory_sizes) + 2 * len(plan.out_of_core.layouts)
    assert step_count(ValidationPlan(criteria=("C1", "C8"))) == 2


def test_a_measurement_that_raised_fails_every_check_that_reads_it_and_no_other() -> None:
    plan = ValidationPlan(criteria=("C2", "C5", "C8"))
    rows = judge_all(plan, {"portability": None}, {"observations": OSError("disk gone")})
    assert [(r.id, r.verdict) for r in rows] == [("C2", Verdict.FAIL), ("C5", Verdict.FAIL), ("C8", Verdict.WARN)]
    assert rows[0].details == rows[1].details == "raised OSError: disk gone"
    assert rows[2].details.startswith("cannot measure")


def test_a_check_applies_unless_the_scope_lists_it() -> None:
    scope = BackendScope("zarr", {"C1": "chunked"})
    assert [c.id for c in CHECKS if not c.applies(scope)] == ["C1"]


def test_a_judge_that_raises_on_a_guarded_measurement_fails_its_row() -> None:
    # The portability measurement is guarded: an evidence record the judge cannot read is a FAIL row.
    rows = judge_all(ValidationPlan(criteria=("C8",)), {"portability": object()}, {})
    assert rows[0].verdict is Verdict.FAIL and rows[0].details.startswith("raised AttributeError")
