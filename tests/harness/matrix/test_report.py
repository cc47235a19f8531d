"""The matrix report: verdicts per cell and machine type, disagreeing cells first, the heatmap, the standard formats."""

from __future__ import annotations

import json

from harness.commands.commandline import render_report
from harness.matrix.report import RESULT_NAME, cells_frame, heatmap_frames, machine_summary, verdicts_by_machine, write_matrix_report
from harness.matrix.spec import parse_spec
from harness.results.document import load_result
from harness.verdicts import Overall

SPEC = parse_spec({"axes": {"workload": ["resource_windows"], "size": [64, 128], "layout": ["rows", "tiles"]}}, "test")


def row(size: int, layout: str, machine: str, ratio: float, verdict: str) -> dict[str, object]:
    cell = f"workload=resource_windows,size={size},layout={layout},backend=memmap,agents=1000"
    return {"id": f"{cell}@{machine}", "cell": cell, "workload": "resource_windows", "size": size, "layout": layout,
            "backend": "memmap", "agents": 1000, "ratio": ratio, "ci_low": ratio * 0.9, "ci_high": ratio * 1.1,
            "threshold": 1.25, "verdict": verdict, "error": None, "started": "t0", "ended": "t1",
            "engine_commit": "abc", "machine": {"machine_type": machine, "hostname": f"host-{machine}"}}


ROWS = [row(size, layout, machine, ratio, verdict)
        for machine, slow in (("nvme", 1.0), ("network-disk", 2.0))
        for size, layout in ((64, "rows"), (64, "tiles"), (128, "rows"), (128, "tiles"))
        for ratio, verdict in [((1.0, "PASS") if size == 64 or slow == 1.0 else (slow, "FAIL"))]]


def test_cells_that_differ_between_machine_types_come_first() -> None:
    table = verdicts_by_machine(cells_frame(ROWS))
    assert table["differs"].tolist() == [True, True, False, False]
    assert all("size=128" in cell for cell in table["cell"][:2])
    assert table.loc[0, "network-disk"] == "FAIL" and table.loc[0, "nvme"] == "PASS"


def test_per_machine_summary_and_heatmap_frames() -> None:
    cells = cells_frame(ROWS)
    summary = machine_summary(cells).set_index("machine_type")
    assert summary.loc["nvme", "verdict"] == "PASS" and summary.loc["network-disk", "FAIL"] == 2
    frames = heatmap_frames(cells, ("size", "layout"))
    assert frames["network-disk"].loc[128, "tiles"] == 2.0 and frames["nvme"].loc[128, "rows"] == 1.0


def test_the_report_is_written_in_the_standard_formats_beside_the_heatmap(tmp_path) -> None:
    verdict = write_matrix_report(ROWS, SPEC, tmp_path, duration_s=1.0, commit="abc")
    render_report(tmp_path / RESULT_NAME, tmp_path)  # as the matrix command does next
    assert verdict is Overall.FAIL
    names = {p.name for p in tmp_path.iterdir()}
    assert {"matrix-heatmap.png", "matrix.md", "matrix-cells.csv", "matrix-by-machine.csv", "report.md",
            "report.html", "report.json", "junit.xml", "ratio_verdicts.csv"} <= names
    assert (tmp_path / "matrix-heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = load_result(tmp_path / "matrix-result.json")
    assert [c["verdict"] for c in result["criteria"]] == ["FAIL", "PASS"]  # network-disk, nvme
    assert "size=128" in json.dumps(result["criteria"][0]["details"])
    assert result["ratios"][0]["verdict"] in ("PASS", "FAIL") and "@ " in result["ratios"][0]["workload"]
    assert (tmp_path / "matrix.md").read_text(encoding="utf-8").index("| True |") < \
        (tmp_path / "matrix.md").read_text(encoding="utf-8").index("| False |")

