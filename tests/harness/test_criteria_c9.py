"""C9 judging from synthetic evidence: each line (gathers, frontier, resident, slope) reaches PASS, WARN and FAIL."""

from __future__ import annotations

import math

import pytest

from harness import criteria_c9 as c9
from harness.evidence_c9 import OutOfCorePlan, out_of_core_evidence, resident_points, slope_fits
from harness.memory import ProbeResult
from harness.verdicts import Verdict

MIB, GIB = 1024**2, 1024**3
P, W, F = Verdict.PASS, Verdict.WARN, Verdict.FAIL


def gather(us=(14.0, 15.0), reads=(1.01, 1.02), effective=True, max_us=20.0, max_read=1.5, grid=GIB):
    return c9.GatherLine("tiles32 prefetch", grid, us, reads, effective, max_us, max_read)


@pytest.mark.parametrize(("line", "expected", "detail"), [
    (gather(), P, "14.5 us/window (<= 20), read 1.02x min (<= 1.5)"),
    (gather(us=(18.0, 23.0)), W, "us/window"),  # trials straddle the line
    (gather(us=(25.0, 31.0)), F, "28.0 us/window"),
    (gather(reads=(1.6, 1.7)), F, "read 1.65x min"),
    (gather(reads=None), W, "bytes read unmeasured"),
    (gather(effective=False), W, "eviction not effective"),
    (gather(us=(90.0, 95.0), max_us=None, max_read=1.25, reads=(1.0, 1.0)), P, "read 1.00x min (<= 1.25)"),
    (gather(grid=64 * MIB, max_us=None), P, "64 MiB grid"),
])
def test_gather_lines(line, expected, detail) -> None:
    verdict, text = c9.judge_gather(line)
    assert verdict is expected and detail in text


def test_a_gather_shows_its_disk_floor_beside_it() -> None:
    line = c9.GatherLine("tiles32 prefetch", GIB, (30.0, 31.0), (1.0, 1.0), True, 20.0, 1.5, floor_us_per_window=26.0)
    verdict, text = c9.judge_gather(line)
    assert verdict is F and "[disk floor 26.0]" in text  # a floor is shown, never an excuse


@pytest.mark.parametrize(("line", "expected"), [
    (c9.FrontierLine("tiles32", 2.0, 1.8, 2.3, True, 4.0), P),
    (c9.FrontierLine("tiles32", 4.1, 3.7, 4.6, True, 4.0), W),
    (c9.FrontierLine("tiles32", 5.0, 4.4, 5.5, True, 4.0), F),
    (c9.FrontierLine("tiles32", 2.0, 1.8, 2.3, False, 4.0), W),  # nothing read from disk: not cold
    (c9.FrontierLine("rows", 9.0, 8.0, 10.0, True, None), P),  # shown beside, never judged
])
def test_frontier_lines(line, expected) -> None:
    assert c9.judge_frontier(line)[0] is expected


def point(layout="tiles32", grid=GIB, rss=300 * MIB, resident=70 * MIB, needed=70 * MIB, untracked=0):
    return c9.ResidentPoint(layout, grid, rss, resident, needed, untracked)


@pytest.mark.parametrize(("points", "expected", "detail"), [
    ((point(), point(grid=4 * GIB, resident=139 * MIB)), P, "1.99x needed"),
    ((point(), point(resident=141 * MIB)), F, "2.01x needed"),
    ((point(resident=None),), W, "unmeasured"),
    ((point(needed=0),), W, "unmeasured"),
    ((point(untracked=2),), W, "reads through get()"),
    ((), W, "not measured"),
])
def test_resident_lines(points, expected, detail) -> None:
    verdict, text, _ = c9.judge_resident(points, 2.0)
    assert verdict is expected and detail in text


@pytest.mark.parametrize(("fit", "expected"), [
    (c9.SlopeFit("tiles32", 0.004, (-0.006, 0.014), 5), P),
    (c9.SlopeFit("tiles32", 0.015, (0.005, 0.03), 5), W),
    (c9.SlopeFit("tiles32", 0.5, (0.4, 0.6), 5), F),
    (c9.SlopeFit("tiles32", None, None, 1), W),
    (c9.SlopeFit("rows", 0.5, (0.4, 0.6), 5, gated=False, needed_slope=0.5), P),  # shown
])
def test_slope_lines(fit, expected) -> None:
    assert c9.judge_slope(fit, 0.02)[0] is expected


def test_the_criterion_is_the_worst_line_and_names_it_first() -> None:
    evidence = c9.OutOfCoreEvidence(gathers=(gather(), gather(reads=(1.7, 1.8))),
                                    frontier=(c9.FrontierLine("tiles32", 2.0, 1.8, 2.2, True, 4.0),),
                                    resident=(point(),), slopes=(c9.SlopeFit("tiles32", 0.001, (0.0, 0.002), 5),))
    row = c9.c9_out_of_core(evidence)
    assert row.verdict is F and row.details.startswith("tiles32 prefetch") and "FAIL" in row.details.split(";")[0]
    assert row.value == pytest.approx(1.0) and row.unit == "x needed" and row.threshold == 2.0
    empty = c9.c9_out_of_core(c9.OutOfCoreEvidence())
    assert empty.verdict is W and "no cold gather" in empty.details


def probe(layout, size, rss, needed, resident=None):
    record = {"grid_bytes": 7 * size * size * 4, "rss_file_bytes": rss, "needed_bytes": needed,
              "resident_file_bytes": needed if resident is None else resident, "layout": layout}
    return ProbeResult(size, record)


def test_probe_records_give_points_and_a_slope_per_layout_only_the_tiled_one_judged() -> None:
    probes = [probe("rows", s, 250 * MIB + s * s * 2, 20 * MIB + s * s * 2) for s in (1024, 4096, 16384)]
    probes += [probe("tiles32", s, 250 * MIB, 20 * MIB) for s in (1024, 4096, 16384)]
    probes.append(ProbeResult(2048, None, "probe exited 1"))
    points = resident_points(probes)
    assert len(points) == 6 and {p.layout for p in points} == {"rows", "tiles32"}
    fits = {f.layout: f for f in slope_fits(points, gated=("tiles32",))}
    assert fits["tiles32"].slope == pytest.approx(0.0, abs=1e-12) and fits["tiles32"].gated
    assert fits["rows"].slope == pytest.approx(2 / 28, rel=1e-6) and not fits["rows"].gated
    assert fits["rows"].needed_slope == pytest.approx(fits["rows"].slope)
    evidence = out_of_core_evidence(None, probes, OutOfCorePlan(judge_slope=True))
    row = c9.c9_out_of_core(evidence)
    assert row.verdict is W  # no gathers or frontier were measured
    assert "RssFile slope tiles32 0.0 MiB/GiB" in row.details and "(shown)" in row.details
    quick = out_of_core_evidence(None, probes, OutOfCorePlan(judge_slope=False))
    assert not any(f.gated for f in quick.slopes)


def test_a_loaded_world_fails_on_its_slope_and_its_resident_bytes() -> None:
    sizes = (1024, 2048, 4096, 8192, 16384)
    probes = [probe("tiles32", s, 250 * MIB + 7 * s * s * 4, 20 * MIB) for s in sizes]  # RssFile = the files
    for p in probes:
        p.record["resident_file_bytes"] = p.record["grid_bytes"]
    evidence = out_of_core_evidence(None, probes, OutOfCorePlan(judge_slope=True))
    verdicts = {text.split(" ")[0]: v for v, text in [c9.judge_slope(f, c9.RSS_FILE_SLOPE) for f in evidence.slopes]}
    assert verdicts == {"RssFile": F}
    assert c9.judge_resident(evidence.resident, 2.0)[0] is F
    assert math.isclose(evidence.slopes[0].slope, 1.0, rel_tol=1e-6)
