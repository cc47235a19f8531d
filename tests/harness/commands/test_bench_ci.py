"""bench-ci: the commands each mode runs, and the exit code from asv rows and gate verdicts (tools faked)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.acceptance import performance
from harness.results import asv_compare

from harness.commands import bench_ci
from harness.results.asv_compare import AsvValue
from harness.cli import build_parser
from harness.verdicts import RatioRow
from harness.results.document import build_result, write_result
from harness.verdicts import Overall, Verdict

ROOT = Path(__file__).resolve().parents[3]
NAME = "bench_windows.SingleWindow.time_run"


def value(centre: float, params: tuple[str, ...] = ("'ram'", "512", "6")) -> AsvValue:
    samples = [centre * (1 + 0.01 * (i % 5)) for i in range(20)]
    stats = {"ci_99_a": centre * 0.99, "ci_99_b": centre * 1.05, "repeat": 20, "number": 1}
    return AsvValue(NAME, params, ("backend", "size", "radius"), "time", "seconds", "store_windows/abc", centre,
                    stats, samples)


def gate_document(verdicts: dict[str, str]) -> dict:
    rows = [{"workload": w, "size": 1024, "cache": "warm", "ratio": 1.3 if v == "FAIL" else 1.0,
             "ci_low": 1.26 if v == "FAIL" else 0.95, "ci_high": 1.35 if v == "FAIL" else 1.05, "threshold": 1.25,
             "verdict": v} for w, v in verdicts.items()]
    overall = Overall.FAIL if "FAIL" in verdicts.values() else Overall.PASS
    criterion = performance.judge(performance.PerformanceEvidence(rows=tuple(
        RatioRow(workload=r["workload"], ratio=r["ratio"], size=1024, threshold=1.25, ci_low=r["ci_low"],
                 ci_high=r["ci_high"]) for r in rows)))
    return build_result(verdict=overall, mode="quick", threshold=1.25, criteria=[criterion], duration_s=1.0,
                        ratios=rows)


class FakeTools:
    """Stands in for asv, validate, pytest and gate: records commands, writes what each would write."""

    def __init__(self, validate: dict[str, str], gate: dict[str, str]) -> None:
        self.commands: list[list[str]] = []
        self.validate, self.gate = validate, gate

    def __call__(self, command, env=None) -> int:
        self.commands.append(list(command))
        words = list(command)
        if "validate" in words:
            write_result(gate_document(self.validate), words[words.index("--json") + 1])
            return 1 if "FAIL" in self.validate.values() else 0
        if "gate" in words:
            write_result(gate_document(self.gate), words[words.index("--json") + 1])
            return 1 if "FAIL" in self.gate.values() else 0
        return 0

    def asv_words(self, sub: str) -> list[str]:
        return next(c for c in self.commands if c[1:4] == ["-m", "asv", sub])


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setattr(bench_ci, "git_hash", lambda ref: {"HEAD": "h" * 40}.get(ref, "b" * 40))
    monkeypatch.setattr(bench_ci, "asv_dirs", lambda config: (tmp_path / "results", tmp_path / "html"))
    return tmp_path


def run_mode(argv: list[str], tools: FakeTools, monkeypatch, base=(), head=()) -> tuple[int, dict, str]:
    store = {"b" * 40: list(base), "h" * 40: list(head)}
    monkeypatch.setattr(asv_compare, "load_values", lambda results, machine, commit, since=None: store[commit])
    args = build_parser("bench-ci").parse_args(["bench-ci", *argv])
    code = bench_ci.run(args, runner=tools)
    out = Path(args.out)
    summary = (out / "summary.md").read_text() if (out / "summary.md").is_file() else ""
    return code, json.loads((out / "bench-ci.json").read_text()), summary


def test_a_confirmed_slowdown_fails_the_change_and_the_summary_names_it(in_repo: Path, monkeypatch) -> None:
    tools = FakeTools({"store_windows": "PASS"}, {"store_windows": "PASS"})
    out = in_repo / "out"
    code, document, summary = run_mode(["change", "--base", "main", "--out", str(out), "--factor", "1.2"], tools,
                                       monkeypatch, base=[value(1e-4)], head=[value(1.6e-4)])
    assert code == 1 and document["verdict"] == "FAIL"
    continuous = tools.asv_words("continuous")
    assert continuous[-4:] == ["b" * 40, "h" * 40, "--config", "asv.conf.json"] and "--interleave-rounds" in continuous
    assert continuous[continuous.index("--factor") + 1] == "1.2"
    assert ["-b", "time_", "-b", "track_instructions"] == continuous[-8:-4]
    assert f"{NAME}" in summary and "REGRESSION" in summary and "1.60" in summary
    assert "PASS 1.000 [0.950, 1.050] @1024" in summary  # the harness verdict beside asv's
    assert (out / "junit.xml").read_text().count("<failure") == 1 and (out / "summary.html").is_file()


def test_noise_only_is_inconclusive_and_ci_sh_passes_it(in_repo: Path, monkeypatch) -> None:
    noisy = value(1e-4)
    wide = AsvValue(noisy.benchmark, noisy.params, noisy.param_names, "time", "seconds", noisy.version, 1.5e-4,
                    {"ci_99_a": 0.5e-4, "ci_99_b": 3e-4, "repeat": 6}, [1e-4, 3e-4, 1e-4, 3e-4, 1e-4, 3e-4])
    code, document, summary = run_mode(["change", "--out", str(in_repo / "out")], FakeTools({}, {}), monkeypatch,
                                       base=[noisy], head=[wide])
    assert code == 3 and document["verdict"] == "INCONCLUSIVE" and "not significant" in summary


def test_a_gate_fail_that_the_paired_validate_passes_is_a_doubt_not_a_failure(in_repo: Path, monkeypatch) -> None:
    tools = FakeTools({"write_path": "PASS"}, {"write_path": "FAIL"})
    code, document, _ = run_mode(["change", "--out", str(in_repo / "o1")], tools, monkeypatch,
                                 base=[value(1e-4)], head=[value(1e-4)])
    assert code == 3 and any("validate's paired timing PASSes it" in r for r in document["reasons"])
    tools = FakeTools({"write_path": "PASS"}, {"store_windows": "FAIL"})  # nothing paired contradicts it
    code, document, _ = run_mode(["change", "--out", str(in_repo / "o2")], tools, monkeypatch,
                                 base=[value(1e-4)], head=[value(1e-4)])
    assert code == 1 and document["reasons"] == ["gate: FAIL store_windows@1024 1.30"]


def test_quick_mode_smoke_runs_asv_once_and_fails_only_on_broken_benchmarks_or_validate(in_repo: Path,
                                                                                         monkeypatch) -> None:
    tools = FakeTools({"write_path": "PASS"}, {"temporal_decay": "FAIL"})
    code, document, summary = run_mode(["quick", "--out", str(in_repo / "q")], tools, monkeypatch,
                                       head=[value(1e-4)])
    run_words = tools.asv_words("run")
    assert {"--python=same", "--quick"} <= set(run_words) and run_words[run_words.index("--set-commit-hash") + 1]
    pytest_words = next(c for c in tools.commands if c[1:3] == ["-m", "pytest"])
    assert "--benchmark-enable" in pytest_words and code == 3  # the 256² gate is advisory in quick mode
    broken = AsvValue(NAME, ("'ram'", "512", "6"), (), "time", "seconds", None, None, None, None)
    code, document, summary = run_mode(["quick", "--out", str(in_repo / "q2")], FakeTools({}, {}), monkeypatch,
                                       head=[broken])
    assert code == 1 and "BROKE" in summary
    code, *_ = run_mode(["quick", "--out", str(in_repo / "q3")], FakeTools({"observe_all": "FAIL"}, {}),
                        monkeypatch, head=[value(1e-4)])
    assert code == 1


def test_history_runs_new_commits_then_publishes(in_repo: Path, monkeypatch) -> None:
    tools = FakeTools({}, {})
    code, document, summary = run_mode(["history", "--machine", "box", "--out", str(in_repo / "h")], tools,
                                       monkeypatch)
    assert code == 0 and tools.asv_words("run")[-3] == "HEAD^!"  # no results yet: start at HEAD
    assert any(c[3] == "publish" for c in tools.commands if len(c) > 3)
    (in_repo / "results" / "box").mkdir(parents=True)
    (in_repo / "results" / "box" / "abc-virtualenv.json").write_text("{}")
    code, document, summary = run_mode(["history", "--machine", "box", "--out", str(in_repo / "h")], tools, monkeypatch)
    assert tools.commands[-2][-3] == "NEW" and "Steps asv publish detected" in summary


def test_find_needs_a_range_and_one_benchmark(in_repo: Path, monkeypatch) -> None:
    with pytest.raises(bench_ci.HarnessUsageError):
        run_mode(["find", "--out", str(in_repo / "f")], FakeTools({}, {}), monkeypatch)
    tools = FakeTools({}, {})
    code, *_ = run_mode(["find", "--range", "A..B", "-b", NAME, "--out", str(in_repo / "f")], tools, monkeypatch)
    assert code == 0 and tools.asv_words("find")[-4:-2] == ["A..B", NAME]


def test_a_run_never_shows_an_earlier_runs_files(in_repo: Path, monkeypatch) -> None:
    out = in_repo / "out"
    out.mkdir()
    (out / "gate.json").write_text("stale")
    tools = FakeTools({}, {})
    tools_no_gate = lambda command, env=None: 2 if "pytest" in command else tools(command, env)  # noqa: E731
    code, document, summary = run_mode(["change", "--out", str(out)], tools_no_gate, monkeypatch,
                                       base=[value(1e-4)], head=[value(1e-4)])
    assert not (out / "gate.json").exists() and code == 4 and "pytest-benchmark: exit 2" in document["reasons"]


def test_ci_sh_and_the_command_agree_on_modes() -> None:
    script = (ROOT / "benchmarks" / "ci.sh").read_text()
    assert os.access(ROOT / "benchmarks" / "ci.sh", os.X_OK)
    assert "python -m harness bench-ci" in script and '"$status" -eq 3' in script
    assert all(f"  {mode} " in script for mode in bench_ci.MODES)


def test_a_regression_counts_only_when_a_second_run_of_the_suspects_reproduces_it(in_repo: Path,
                                                                                    monkeypatch) -> None:
    runs = iter([([value(1e-4)], [value(1.6e-4)]), ([value(1e-4)], [value(1.01e-4)])])  # drift, then calm
    current: dict[str, list[AsvValue]] = {}

    def load(results, machine, commit, since=None):
        if commit == "b" * 40:
            current["base"], current["head"] = next(runs)
            return current["base"]
        return current["head"]

    monkeypatch.setattr(asv_compare, "load_values", load)
    tools = FakeTools({}, {})
    args = build_parser("bench-ci").parse_args(["bench-ci", "change", "--out", str(in_repo / "c"), "--no-harness"])
    code = bench_ci.run(args, runner=tools)
    document = json.loads((in_repo / "c" / "bench-ci.json").read_text())
    confirm = [c for c in tools.commands if c[1:4] == ["-m", "asv", "continuous"]][1]
    assert confirm[confirm.index("-b") + 1] == r"^bench_windows\.SingleWindow\.time_run\('ram',\ 512,\ 6\)$"
    assert code == 3 and document["verdict"] == "INCONCLUSIVE"
    assert document["asv"][0]["verdict"] == "not reproduced" and document["asv"][0]["rerun_ratio"] == pytest.approx(1.01)
    assert any("not reproduced" in reason for reason in document["reasons"])
    summary = (in_repo / "c" / "summary.md").read_text()
    assert "1.60, rerun 1.01" in summary


def test_a_gate_fail_that_validate_warns_on_is_a_doubt(in_repo: Path, monkeypatch) -> None:
    tools = FakeTools({"write_path": "WARN"}, {"write_path": "FAIL"})
    code, document, _ = run_mode(["change", "--out", str(in_repo / "w")], tools, monkeypatch,
                                 base=[value(1e-4)], head=[value(1e-4)])
    assert code == 3 and any("validate's paired timing WARNs it" in r for r in document["reasons"])


def test_history_reports_the_steps_publish_detected_on_its_own_machine_only(in_repo: Path, monkeypatch) -> None:
    html = in_repo / "html"
    html.mkdir()
    (html / "index.json").write_text(json.dumps({"revision_to_hash": {"93": "a" * 40, "94": "c" * 40}}))
    jump = [[None, 94, 1e-3, 2e-3]]
    (html / "regressions.json").write_text(json.dumps({"regressions": [
        [f"{NAME}('ram', 512, 6)", "graphs/box/x.json", {"machine": "box"}, 0, 2e-3, 1e-3, jump],
        [f"{NAME}('ram', 512, 12)", "graphs/other/x.json", {"machine": "other"}, 0, 3e-3, 1e-3, jump]]}))
    code, document, summary = run_mode(["history", "--machine", "box", "--range", "A..B", "--out",
                                        str(in_repo / "h")], FakeTools({}, {}), monkeypatch)
    assert code == 0 and [s["benchmark"] for s in document["history_steps"]] == [f"{NAME}('ram', 512, 6)"]
    assert document["history_steps"][0]["jumps"][0]["after_commit"] == "c" * 40 and "cccccccccc" in summary
    failing = lambda command, env=None: 1 if "publish" in command else 0  # noqa: E731
    code, document, _ = run_mode(["history", "--machine", "box", "--range", "A..B", "--out", str(in_repo / "h2")],
                                 failing, monkeypatch)
    assert code == 4 and document["history_steps"] == []  # a failed publish: nothing there is this run's


def instruction_count(value: float, workload: str = "store_windows") -> AsvValue:
    return AsvValue("bench_instructions.Instructions.track_instructions", (f"'{workload}'",), ("workload",), "track",
                    asv_compare.INSTRUCTION_UNIT, "store_windows+observe_all/abc", value, None, None)


def count_rows(summary: str) -> list[list[str]]:
    """The cells of the summary's instruction-count table, row by row."""
    section = summary.split("### Instruction counts", 1)[1].split("###", 1)[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| bench_instructions")]


def test_an_instruction_count_beyond_its_factor_fails_the_change_with_no_rerun(in_repo: Path, monkeypatch) -> None:
    tools = FakeTools({}, {})
    code, document, summary = run_mode(["change", "--out", str(in_repo / "i1")], tools, monkeypatch,
                                       base=[instruction_count(2_000_000), instruction_count(9e6, "observe_all")],
                                       head=[instruction_count(2_100_000), instruction_count(9e6, "observe_all")])
    assert code == 1 and document["instruction_factor"] == asv_compare.DEFAULT_INSTRUCTION_FACTOR
    assert document["reasons"] == ["asv: bench_instructions.Instructions.track_instructions('store_windows') "
                                   "REGRESSION x1.05"]
    assert sum(c[3] == "continuous" for c in tools.commands if len(c) > 3) == 1  # counts repeat: no confirm run
    assert "### Instruction counts (2)" in summary
    assert [row[1:] for row in count_rows(summary)] == [["'store_windows'", "2,000,000", "2,100,000", "1.0500",
                                                          "REGRESSION"],
                                                         ["'observe_all'", "9,000,000", "9,000,000", "1.0000",
                                                          "unchanged"]]
    code, document, _ = run_mode(["change", "--out", str(in_repo / "i2"), "--instruction-factor", "1.06"], tools,
                                 monkeypatch, base=[instruction_count(2_000_000)], head=[instruction_count(2_100_000)])
    assert code == 0 and document["verdict"] == "PASS"


def test_quick_mode_shows_every_instruction_count(in_repo: Path, monkeypatch) -> None:
    code, document, summary = run_mode(["quick", "--out", str(in_repo / "q")], FakeTools({}, {}), monkeypatch,
                                       head=[instruction_count(2_116_870.75)])
    assert code == 0 and count_rows(summary) == [["bench_instructions.Instructions.track_instructions",
                                                  "'store_windows'", "—", "2,116,871", "—", "no base"]]
