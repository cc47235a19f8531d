"""The named comparisons (harness.workloads.comparison_catalog, judged by harness.acceptance.comparisons): every comparison builds, runs once at a tiny size and removes its files (no timing asserts)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from farm_grids.managers import ENVIRONMENTAL_LAYERS, TEMPORAL_CHANNELS
from harness.cli import main as cli_main
from harness.acceptance.comparisons import judge, run_comparison, select
from harness.commands.compare import results_frame
from harness.workloads.comparison_catalog import (
    _CELL_FLOOR_TICKS,
    COMPARISONS,
    _agent_steps,
    _plain_cell_reads,
    _plain_layer_gathers,
)
from harness.errors import HarnessUsageError
from harness.probes.stats import median_interval
from harness.probes.timing import PairedTiming
from harness.verdicts import Verdict
from harness.workloads.catalog import WORKLOADS, build_workload

TINY = 32


def files_under(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if p.is_file())


@pytest.mark.parametrize("name", list(COMPARISONS))
def test_each_comparison_builds_runs_once_and_cleans_up(name, tmp_path) -> None:
    spec = COMPARISONS[name]
    pair = spec.build(TINY, tmp_path)
    try:
        pair.baseline()
        pair.candidate()
        uses_files = "memmap" in name
        assert bool(files_under(tmp_path)) == uses_files, files_under(tmp_path)
    finally:
        pair.cleanup.close()
    assert files_under(tmp_path) == []


def test_each_comparison_holds_its_documented_target() -> None:
    assert COMPARISONS["single_window.ram.1024"].max_ratio == 1.5
    assert COMPARISONS["batched_windows.memmap.1024"].max_ratio == pytest.approx(1 / 4)
    assert COMPARISONS["batched_windows.ram.4096"].max_ratio == pytest.approx(1 / 2)
    assert COMPARISONS["temporal_decay.memmap_vs_ram.4096"].max_ratio == 1.25
    assert COMPARISONS["sparse_decay.active_vs_full.8192"].size == 8192
    assert COMPARISONS["observe_all.vs_observe.4096"].per_unit_limit_s == pytest.approx(10e-6)
    assert COMPARISONS["observe_all.memmap_vs_ram.512"].target == "<= 1.05x; <= 10 us/agent"
    assert COMPARISONS["deposit.ram.1024"].target == ">= 20x faster"


def test_layer_gathers_floor_reads_the_same_windows_as_observe_all(tmp_path) -> None:
    # The floor is only a floor if it does the pass's reads: for agents away from the edge,
    # its plane of the first world layer must equal observe_all's channel for that layer.
    workload = build_workload("observe_all", "ram", TINY, directory=tmp_path)
    try:
        floor = _plain_layer_gathers(workload)()
        env = workload.env
        obs = env.observe_all().numpy()
        r = env.config.observation.radius
        ys, xs = env.agents.ys, env.agents.xs
        inside = (ys >= r) & (ys < env.height - r) & (xs >= r) & (xs < env.width - r)
        assert floor.shape == obs.shape and inside.any()
        layer = env.channels.index(ENVIRONMENTAL_LAYERS[0])
        np.testing.assert_array_equal(floor[inside, 0], obs[inside, layer])
    finally:
        workload.close()


@pytest.mark.parametrize("name", [name for name, spec in WORKLOADS.items() if not spec.gated])
def test_micro_workloads_clean_up_their_files(name, tmp_path) -> None:
    # Frontier agents need lanes of unread cells: a 32x32 world has none, 128x128 has them for 4.
    options = {"agents": 4} if name == "frontier_tick" else {}
    workload = build_workload(name, "memmap", 128 if name == "frontier_tick" else TINY, directory=tmp_path, **options)
    workload.run()
    assert files_under(tmp_path) and all(path.exists() for path in workload.files())
    workload.close()
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "backend", "size", "options", "fragment"),
    [
        ("store_windows", "disk", TINY, {}, "unknown backend 'disk'"),
        ("temporal_deposit", "ram", 8, {}, "size must be an integer >= 16"),
        ("store_windows", "ram", 16, {"radius": 12}, "no in-bounds centre for radius 12"),
        ("teleport", "ram", TINY, {}, "unknown workload 'teleport'"),
    ],
)
def test_bad_workload_requests_raise(name, backend, size, options, fragment, tmp_path) -> None:
    with pytest.raises(HarnessUsageError, match=fragment):
        build_workload(name, backend, size, directory=tmp_path, **options)
    assert files_under(tmp_path) == []


def test_run_comparison_returns_a_judged_result_and_leaves_nothing(tmp_path) -> None:
    result = run_comparison(COMPARISONS["deposit.memmap.1024"], size=TINY, directory=tmp_path, blocks=2)
    assert result.size == TINY and result.blocks == 2
    assert result.verdict is rule_verdict(result), "the verdict does not follow from the result's own intervals"
    assert result.ratio > 0 and result.speedup == pytest.approx(1 / result.ratio)
    assert result.baseline_per_unit_s > 0 and result.candidate_per_unit_s > 0
    assert files_under(tmp_path) == []
    frame = results_frame([result])
    assert list(frame["comparison"]) == ["deposit.memmap.1024"] and frame["target"][0] == ">= 20x faster"


def interval_verdict(low: float, high: float, limit: float) -> Verdict:
    """The documented rule, written out: PASS within the limit, FAIL above it, WARN straddling it."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return Verdict.WARN
    return Verdict.PASS if high <= limit else Verdict.FAIL if low > limit else Verdict.WARN


def rule_verdict(result) -> Verdict:
    """A comparison's verdict from its own numbers: the worse of the ratio's and the per-item judgement."""
    verdicts = [interval_verdict(result.ci_low, result.ci_high, result.max_ratio)]
    if result.per_unit_limit_s is not None:
        verdicts.append(interval_verdict(*result.per_unit_ci, result.per_unit_limit_s))
    order = [Verdict.PASS, Verdict.WARN, Verdict.FAIL]
    return max(verdicts, key=order.index)


def fake_timing(candidate_block_s: tuple[float, ...], ratio: float, low: float, high: float) -> PairedTiming:
    baseline = tuple(t / ratio for t in candidate_block_s)
    return PairedTiming("x", ratio, low, high, 0.95, len(baseline), 10, baseline, candidate_block_s,
                        sorted(baseline)[len(baseline) // 2], sorted(candidate_block_s)[len(baseline) // 2], False, 0)


def test_judge_applies_the_ratio_and_the_per_item_limit() -> None:
    spec = COMPARISONS["observe_all.vs_observe.512"]  # >= 20x faster and <= 10 us/agent, 1000 agents
    quick = fake_timing((0.05, 0.05, 0.05), ratio=0.02, low=0.019, high=0.021)  # 5 us/agent
    assert judge(spec, 512, quick).verdict is Verdict.PASS
    slow_agents = fake_timing((0.2, 0.2, 0.2), ratio=0.02, low=0.019, high=0.021)  # 20 us/agent
    assert judge(spec, 512, slow_agents).verdict is Verdict.FAIL
    too_close = fake_timing((0.05, 0.05, 0.05), ratio=0.06, low=0.055, high=0.065)  # only ~17x faster
    assert judge(spec, 512, too_close).verdict is Verdict.FAIL


def test_median_interval_brackets_the_median() -> None:
    assert median_interval([1.0, 1.0, 1.0]) == (1.0, 1.0)
    low, high = median_interval([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    assert low <= 4.0 <= high


def test_select_accepts_names_and_globs_and_rejects_unknown() -> None:
    assert [s.name for s in select("deposit.ram.1024")] == ["deposit.ram.1024"]
    assert {s.name for s in select("observe_all.*")} == {n for n in COMPARISONS if n.startswith("observe_all.")}
    assert len(select(None)) == len(COMPARISONS)
    with pytest.raises(HarnessUsageError, match="matches no comparison"):
        select("deposit.*,warp_drive")


def main(argv: list[str]) -> int:
    return cli_main(["compare", *argv])


def test_cli_lists_and_rejects_bad_usage(capsys) -> None:
    assert main(["--list"]) == 0
    assert "sparse_decay.active_vs_full.8192" in capsys.readouterr().out
    assert main(["--only", "nothing-like-this"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "matches no comparison" in err
    assert main(["--blocks", "1"]) == 2


def test_cli_runs_a_comparison_and_writes_json(capsys, tmp_path) -> None:
    out_path = tmp_path / "comparisons.json"
    code = main(["--only", "single_window.ram.1024", "--size", str(TINY), "--blocks", "2", "--json", str(out_path)])
    out = capsys.readouterr().out
    document = json.loads(out_path.read_text(encoding="utf-8"))
    (row,) = document["results"]
    # One comparison: the overall verdict is its verdict (WARN reads INCONCLUSIVE), and so is the exit code.
    assert document["overall"] == {"PASS": "PASS", "FAIL": "FAIL", "WARN": "INCONCLUSIVE"}[row["verdict"]]
    assert code == {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 3}[document["overall"]]
    assert "single_window.ram.1024" in out and f"overall: {document['overall']}" in out
    assert row["name"] == "single_window.ram.1024" and row["size"] == TINY and math.isfinite(row["ratio"])


def test_python_dash_m_harness_compare_is_farm_harness_compare() -> None:
    completed = subprocess.run([sys.executable, "-m", "harness", "compare", "--only", "warp_drive"],
                               cwd=Path(__file__).resolve().parents[3], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert completed.stderr.startswith("farm-harness compare: error: --only 'warp_drive' matches no comparison")


def test_the_zero_page_floor_gathers_the_same_values_from_written_copies(tmp_path) -> None:
    workload = build_workload("observe_all", "ram", TINY, directory=tmp_path)
    try:
        as_found = _plain_layer_gathers(workload)().copy()
        written = _plain_layer_gathers(workload, written=True)()
        np.testing.assert_array_equal(written, as_found)  # only the pages under them differ
    finally:
        workload.close()



def test_the_cell_floor_reads_every_agents_next_cell_in_every_grid_a_tick_writes(tmp_path) -> None:
    # A floor of write_path's scattered access must read the grids the tick writes by cell, at
    # the cells of the agents' next steps: checked cell by cell against a Python loop.
    workload = build_workload("write_path", "memmap", TINY, directory=tmp_path)
    try:
        env = workload.env
        ticks = env.tick
        read = _plain_cell_reads(workload)  # runs the warm-up ticks first
        assert env.tick == ticks + _CELL_FLOOR_TICKS
        grids = [env.temporal.get(channel) for channel in TEMPORAL_CHANNELS] + [env.resources.get()]
        steps = _agent_steps(env.agents.ys, env.agents.xs, (env.height, env.width), 2)
        for ys, xs in steps:
            rows = read()
            expected = [[float(grid[y, x]) for y, x in zip(ys.tolist(), xs.tolist())] for grid in grids]
            np.testing.assert_array_equal(rows, np.array(expected, dtype=np.float32))
        assert rows.any(), "after the warm-up ticks the agents' cells hold trails"
        assert not np.array_equal(steps[0][0], steps[1][0]) or not np.array_equal(steps[0][1], steps[1][1])
    finally:
        workload.close()


def test_agent_steps_move_each_agent_one_cell_at_most_and_reach_every_edge() -> None:
    shape = (9, 7)
    corner = np.full(300, shape[0] - 1), np.full(300, shape[1] - 1)
    origin = np.zeros(300, dtype=np.int64), np.zeros(300, dtype=np.int64)
    for ys, xs in (corner, origin):
        previous = ys, xs
        for step_ys, step_xs in _agent_steps(ys, xs, shape, 5):
            assert np.abs(step_ys - previous[0]).max() <= 1 and np.abs(step_xs - previous[1]).max() <= 1
            assert step_ys.min() >= 0 and step_ys.max() <= shape[0] - 1
            assert step_xs.min() >= 0 and step_xs.max() <= shape[1] - 1
            previous = step_ys, step_xs
    first_ys, first_xs = _agent_steps(*corner, shape, 1)[0]
    assert (first_ys == shape[0] - 1).any() and (first_xs == shape[1] - 1).any()  # clipped onto the edge, not inside it
    assert (first_ys < shape[0] - 1).any()  # and some really moved
