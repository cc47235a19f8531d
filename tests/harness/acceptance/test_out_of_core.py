"""C9 judging from synthetic evidence: each line (gathers, frontier, resident, slope) reaches PASS, WARN and FAIL."""

from __future__ import annotations

import math

import pytest

from harness.acceptance import out_of_core as c9
from harness.acceptance.out_of_core import OutOfCorePlan, out_of_core_evidence, resident_points, slope_fits
from harness.probes.memory import ProbeResult
from harness.verdicts import Verdict

MIB, GIB = 1024**2, 1024**3
P, W, F = Verdict.PASS, Verdict.WARN, Verdict.FAIL


def gather(us=(14.0, 15.0), reads=(1.01, 1.02), effective=True, target_us=20.0, max_read=1.5, grid=GIB,
           floor=(1.1, 1.3), max_floor=1.5):
    return c9.GatherLine("tiles32 prefetch", grid, us, reads, effective, target_us, max_read, floor_us_per_window=13.0,
                         floor_ratios=floor, max_floor_ratio=max_floor, floor_reader="fio")


@pytest.mark.parametrize(("line", "expected", "detail"), [
    (gather(), P, "beyond warm 1.20x floor (<= 1.5), read 1.02x min (<= 1.5)"),
    (gather(floor=(1.3, 1.7)), W, "beyond warm 1.50x floor"),  # trials straddle the floor line
    (gather(floor=(1.6, 2.0)), F, "beyond warm 1.80x floor"),  # slower than the device allows: FAIL
    (gather(floor=None), W, "disk floor unmeasured"),  # a judged floor that was not read cannot PASS
    (gather(floor=(3.0, 4.0), max_floor=None), P, "beyond warm 3.50x floor"),  # shown, not judged
    (gather(reads=(1.6, 1.7)), F, "read 1.65x min"),
    (gather(reads=None), W, "bytes read unmeasured"),
    (gather(effective=False), W, "eviction not effective"),
    (gather(us=(90.0, 95.0), target_us=None, max_read=1.25, reads=(1.0, 1.0)), P, "read 1.00x min (<= 1.25)"),
    (gather(grid=64 * MIB, target_us=None), P, "64 MiB grid"),
])
def test_gather_lines(line, expected, detail) -> None:
    verdict, text = c9.judge_gather(line)
    assert verdict is expected and detail in text


def test_absolute_microseconds_are_shown_never_the_judge() -> None:
    slow_disk = gather(us=(45.0, 50.0), floor=(1.0, 1.1))  # far above the 20 us target, at the device's floor
    verdict, text = c9.judge_gather(slow_disk)
    assert verdict is P and "47.5 us/window (target 20, shown)" in text and "[disk floor 13.0 by fio]" in text
    fast_disk = gather(us=(8.0, 9.0), floor=(2.0, 2.5))  # within the target, but 2x the floor: FAIL
    assert c9.judge_gather(fast_disk)[0] is F


def frontier(floor_ratio, line=4.0, effective=True, ratio=5.0):
    return c9.FrontierLine("tiles32@1024", ratio, ratio - 0.3, ratio + 0.3, effective, line, floor_ratio, "fio")


@pytest.mark.parametrize(("line", "expected", "detail"), [
    (frontier(1.2), P, "beyond warm 1.20x floor by fio (<= 4)"),  # 5x warm (old line 4) but at the floor
    (frontier(3.99), P, "(<= 4)"),
    (frontier(4.01), F, "beyond warm 4.01x floor"),
    (frontier(9.0, ratio=1.5), F, "1.50x warm"),  # a fast cold/warm ratio does not hide a slow tick
    (frontier(None), W, "disk floor unmeasured"),
    (frontier(1.0, effective=False), W, "nothing read from disk"),
    (frontier(9.0, line=None), P, "(shown)"),  # rows: shown beside, never judged
])
def test_frontier_lines(line, expected, detail) -> None:
    verdict, text = c9.judge_frontier(line)
    assert verdict is expected and detail in text


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
                                    frontier=(frontier(1.2),),
                                    resident=(point(),), slopes=(c9.SlopeFit("tiles32", 0.001, (0.0, 0.002), 5),))
    row = c9.judge(evidence)
    assert row.verdict is F and row.details.startswith("tiles32 prefetch") and "FAIL" in row.details.split(";")[0]
    assert row.value == pytest.approx(1.0) and row.unit == "x needed" and row.threshold == 2.0
    empty = c9.judge(c9.OutOfCoreEvidence())
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
    row = c9.judge(evidence)
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
