"""`farm-harness bench-ci`: the benchmark job (asv, the paired validate gate, the pytest-benchmark gate, a summary)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.results import asv_compare
from harness.results.bench_ci_schema import MODES, SCHEMA
from harness.commands.commandline import (
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    EXIT_INTERNAL,
    EXIT_PASS,
    PROG,
    add_threshold,
    load_plugin,
    output_dir,
    plugin_entry_points,
    run_with_arguments,
    threshold_value,
)
from harness.errors import HarnessUsageError
from harness.results.jsonfiles import write_json_atomic
from harness.results.document import load_result
from harness.commands.size_options import grid_sides_in_memory
from harness.verdicts import DEFAULT_THRESHOLD

DEFAULT_OUT = Path("bench-ci-out")
DEFAULT_FACTOR = 1.25  # asv's -f: like the harness threshold, a change must be 25 % to count at all
SUMMARY_COMMAND = "bench-summary"  # in reports, found through the entry points (reports -> harness only)
# Files a run writes; removed first, so nothing the summary shows can come from an earlier run.
OUTPUTS = ("bench-ci.json", "summary.md", "summary.html", "junit.xml", "validate.json", "pytest-benchmark.json",
           "gate.json")
# A change is judged on time_* benchmarks: the only kind asv keeps samples for, so the only kind its
# significance test can confirm (peakmem_/track_ are one value each; history mode records them all),
# and on the instruction lane's counts, which need no test (asv_compare.judge_counts).
CHANGE_BENCH = ("time_", "track_instructions")
TOOL_VERDICTS = {0: "PASS", 1: "FAIL", 3: "INCONCLUSIVE"}  # farm-harness exit codes that are verdicts


@dataclass
class Step:
    """One command the job ran, with its exit code and wall time."""

    name: str
    command: tuple[str, ...]
    exit_code: int
    seconds: float


Run = Callable[[Sequence[str], Mapping[str, str] | None], int]


def run_command(command: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Run ``command`` with this job's output streams; its exit code."""
    sys.stdout.flush()
    return subprocess.run(list(command), env=None if env is None else {**os.environ, **env}, check=False).returncode


@dataclass
class Job:
    """Runs the steps of one bench-ci mode and remembers what each did."""

    args: argparse.Namespace
    run: Run = run_command
    steps: list[Step] = field(default_factory=list)

    def step(self, name: str, command: Sequence[str], env: Mapping[str, str] | None = None) -> int:
        shown = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        print(f"\n== bench-ci {name}: {shown + ' ' if shown else ''}{shlex.join(command)}", flush=True)
        started = time.perf_counter()
        code = self.run(command, env)
        self.steps.append(Step(name, tuple(command), code, round(time.perf_counter() - started, 1)))
        print(f"== bench-ci {name}: exit {code} ({self.steps[-1].seconds:.1f} s)", flush=True)
        return code

    def asv(self, *words: str) -> list[str]:
        return [sys.executable, "-m", "asv", *words, "--config", str(self.args.asv_config)]

    def harness(self, *words: str) -> list[str]:
        return [sys.executable, "-m", "harness", *words]

    def bench_args(self, default: Sequence[str] = ()) -> list[str]:
        return [word for regex in self.args.bench or default for word in ("-b", regex)]


def git_hash(ref: str) -> str:
    """The full commit hash ``ref`` names (a usage error when git does not know it)."""
    done = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], capture_output=True, text=True)
    if done.returncode != 0:
        raise HarnessUsageError(f"unknown git ref {ref!r}")
    return done.stdout.strip()


def asv_dirs(config: Path) -> tuple[Path, Path]:
    """(results_dir, html_dir) of an asv config, read with asv's own loader."""
    from asv.config import Config

    conf = Config.load(str(config))
    return Path(conf.results_dir), Path(conf.html_dir)


def _tool_verdict(code: int) -> str:
    return TOOL_VERDICTS.get(code, f"ERROR (exit {code})")


def harness_gates(job: Job, out: Path, sizes: Sequence[int], max_time: float) -> dict[str, Any]:
    """The paired `validate` on this checkout, then the pytest-benchmark suite and its ratio gate."""
    threshold = str(job.args.threshold)
    gates: dict[str, Any] = {}
    validate_json, bench_json, gate_json = out / "validate.json", out / "pytest-benchmark.json", out / "gate.json"
    words = ["validate", "--threshold", threshold, "--json", str(validate_json), "--out", str(out / "validate")]
    code = job.step("validate", job.harness(*words, *(["--quick"] if job.args.validate == "quick" else [])))
    gates["validate"] = _gate_record(code, validate_json)
    sizes_env = {"FARM_BENCH_SIZES": ",".join(str(s) for s in sizes)}
    code = job.step("pytest-benchmark", [sys.executable, "-m", "pytest", "tests/benchmarks", "-q", "-p",
                                         "no:cacheprovider", "--benchmark-enable", f"--benchmark-json={bench_json}",
                                         f"--benchmark-max-time={max_time}"], env=sizes_env)
    if code != 0:
        gates["gate"] = {"verdict": f"ERROR (pytest exit {code})", "exit_code": code, "ratios": [], "criteria": []}
        return gates
    code = job.step("gate", job.harness("gate", "--pytest-benchmark", str(bench_json), "--threshold", threshold,
                                        "--json", str(gate_json)))
    gates["gate"] = _gate_record(code, gate_json)
    return gates


def _gate_record(code: int, path: Path) -> dict[str, Any]:
    """A gate's verdict (from its exit code) and its rows, read back from the JSON this run just wrote."""
    record: dict[str, Any] = {"verdict": _tool_verdict(code), "exit_code": code, "ratios": [], "criteria": []}
    if code in TOOL_VERDICTS and path.is_file():
        document = load_result(path)
        record.update(ratios=document.get("ratios") or [], criteria=document.get("criteria") or [],
                      duration_s=document.get("duration_s"))
    return record


def _warm(gate: Mapping[str, Any] | None, verdict: str) -> list[dict[str, Any]]:
    rows = (gate or {}).get("ratios") or []
    return [r for r in rows if r.get("cache", "warm") == "warm" and r.get("verdict") == verdict]


def gate_findings(gates: Mapping[str, Any], fatal: Sequence[str]) -> tuple[list[str], list[str]]:
    """(confirmed failures, doubts) of the harness gates; only gates in ``fatal`` can fail the job.

    validate's rows are paired and interleaved; the pytest-benchmark gate compares two separate
    runs, so its interval misses drift between them. A gate FAIL on a workload that validate's
    paired timing measured and did not FAIL (PASS, or WARN: its interval straddles the limit) is
    therefore a doubt, not a confirmed regression.
    """
    confirmed: list[str] = []
    doubts: list[str] = []
    validate, gate = gates.get("validate"), gates.get("gate")
    for name, record in (("validate", validate), ("gate", gate)):
        if record and record["verdict"] == "INCONCLUSIVE":
            doubts.append(f"{name}: INCONCLUSIVE")
        if record and record["verdict"] == "FAIL" and name not in fatal:
            doubts.append(f"{name}: FAIL (advisory in this mode)")
    if "validate" in fatal and validate and validate["verdict"] == "FAIL":
        failed = [f"{r['workload']}@{r.get('size')}" for r in _warm(validate, "FAIL")]
        confirmed.append(f"validate: FAIL {', '.join(failed) or '(a criterion)'}")
    if "gate" in fatal and gate and gate["verdict"] == "FAIL":
        paired = {r["workload"]: r["verdict"] for v in ("PASS", "WARN") for r in _warm(validate, v)}
        failing = _warm(gate, "FAIL")
        contradicted = [r for r in failing if str(r["workload"]).split("[")[0] in paired]
        standing = [r for r in failing if r not in contradicted]
        if standing or not failing:
            confirmed.append("gate: FAIL " + ", ".join(f"{r['workload']}@{r.get('size')} {r['ratio']:.2f}"
                                                       for r in standing))
        doubts += [f"gate: {r['workload']}@{r.get('size')} FAIL {r['ratio']:.2f}, but validate's paired "
                   f"timing {'PASSes' if paired[str(r['workload']).split('[')[0]] == 'PASS' else 'WARNs'} it"
                   for r in contradicted]
    return confirmed, doubts


def overall(asv_rows: Sequence[asv_compare.AsvRow], gates: Mapping[str, Any], steps: Sequence[Step],
            asv_ok: bool, fatal: Sequence[str] = ("validate", "gate")) -> tuple[str, list[str]]:
    """PASS / FAIL / INCONCLUSIVE / ERROR and why: FAIL only on a confirmed regression or a confirmed gate FAIL."""
    reasons = [f"asv: {r.benchmark}({r.params}) {r.verdict} x{r.ratio:.2f}" if r.ratio else
               f"asv: {r.benchmark}({r.params}) {r.verdict}" for r in asv_rows if r.gating]
    confirmed, doubts = gate_findings(gates, fatal)
    if reasons or confirmed:
        return "FAIL", reasons + confirmed
    broken = [f"{s.name}: exit {s.exit_code}" for s in steps if not _step_ok(s)]
    if broken or not asv_ok:
        return "ERROR", broken or ["asv: no results to compare"]
    noise = sum(r.verdict == asv_compare.NOISE for r in asv_rows)
    unsure = [f"asv: {noise} change(s) beyond the factor but not significant"] if noise else []
    unsure += [f"asv: {r.benchmark}({r.params}) x{r.ratio:.2f} in the first run, not reproduced "
               f"({r.rerun_verdict}{f' x{r.rerun_ratio:.2f}' if r.rerun_ratio else ''})"
               for r in asv_rows if r.verdict == asv_compare.NOT_REPRODUCED and r.ratio]
    unsure += doubts
    return ("INCONCLUSIVE", unsure) if unsure else ("PASS", [])


def _step_ok(step: Step) -> bool:
    if step.name in ("validate", "gate"):
        return step.exit_code in TOOL_VERDICTS
    if step.name in ("asv continuous", "asv confirm"):
        return step.exit_code in (0, 1)  # 1: asv saw a decrease (judged on the rows, not on this code)
    if step.name == "asv run":
        return step.exit_code in (0, 2)  # 2: some benchmark failed (a BROKE row says which)
    return step.exit_code == 0


def run_change(job: Job, out: Path) -> dict[str, Any]:
    """Base vs head: `asv continuous` in virtualenvs, judged per benchmark; the harness gates on this checkout."""
    args = job.args
    base, head = git_hash(args.base), git_hash(args.head)
    results_dir, _ = asv_dirs(args.asv_config)
    job.step("asv machine", job.asv("machine", "--yes", "--machine", args.machine))
    words = ["--factor", str(args.factor), "--interleave-rounds", "--show-stderr", "--machine", args.machine]
    since = time.time() * 1000 - 1000  # asv's started_at: ms since the epoch (this run's values only)
    job.step("asv continuous", job.asv("continuous", *words, *job.bench_args(CHANGE_BENCH), base, head))
    base_values = asv_compare.load_values(results_dir, args.machine, base, since)
    head_values = asv_compare.load_values(results_dir, args.machine, head, since)
    rows = asv_compare.compare(base_values, head_values, args.factor, args.instruction_factor)
    suspects = asv_compare.suspects(rows)
    if suspects and not args.no_confirm:
        # A second, independent base-vs-head run of just the suspects: a REGRESSION counts only if it recurs.
        since = time.time() * 1000 - 1000
        selection = [word for row in suspects for word in ("-b", asv_compare.selection_regex(row))]
        job.step("asv confirm", job.asv("continuous", *words, *selection, base, head))
        rerun = asv_compare.compare(asv_compare.load_values(results_dir, args.machine, base, since),
                                    asv_compare.load_values(results_dir, args.machine, head, since), args.factor,
                                    args.instruction_factor)
        rows = asv_compare.confirm(rows, rerun)
    gates = {} if args.no_harness else harness_gates(job, out, args.sizes or (1024,), args.max_time)
    verdict, reasons = overall(rows, gates, job.steps, bool(base_values and head_values))
    return {"base": {"ref": args.base, "commit": base}, "head": {"ref": args.head, "commit": head},
            "asv": [r.record() for r in rows], "gates": gates, "verdict": verdict, "reasons": reasons}


def run_quick(job: Job, out: Path) -> dict[str, Any]:
    """Every asv benchmark once in this environment, the quick harness gates, the summary (what .ci/run calls)."""
    args = job.args
    head = git_hash(args.head)
    results_dir, _ = asv_dirs(args.asv_config)
    job.step("asv machine", job.asv("machine", "--yes", "--machine", args.machine))
    since = time.time() * 1000 - 1000
    job.step("asv run", job.asv("run", "--python=same", "--quick", "--show-stderr", "--machine", args.machine,
                                "--set-commit-hash", head, *job.bench_args()))
    head_values = asv_compare.load_values(results_dir, args.machine, head, since)
    rows = asv_compare.compare([], head_values, args.factor, args.instruction_factor)
    gates = {} if args.no_harness else harness_gates(job, out, args.sizes or (256,), args.max_time)
    # At 256² the two pytest-benchmark runs are too short to judge drift: the gate is advisory here.
    verdict, reasons = overall(rows, gates, job.steps, bool(head_values), fatal=("validate",))
    return {"head": {"ref": args.head, "commit": head}, "asv": [r.record() for r in rows], "gates": gates,
            "verdict": verdict, "reasons": reasons}


def run_history(job: Job, out: Path) -> dict[str, Any]:
    """On main: `asv run` for the commits not benchmarked yet, then `asv publish` (the HTML history)."""
    args = job.args
    results_dir, html_dir = asv_dirs(args.asv_config)
    spec = args.range or ("NEW" if any((results_dir / args.machine).glob("*-*.json")) else "HEAD^!")
    job.step("asv machine", job.asv("machine", "--yes", "--machine", args.machine))
    job.step("asv run", job.asv("run", "--skip-existing-commits", "--show-stderr", "--machine", args.machine,
                                *job.bench_args(), spec))
    published = job.step("asv publish", job.asv("publish"))
    from harness.results.asv_history import detected_steps  # reads what this run's publish wrote

    # asv publish empties html_dir before it writes; after a failed publish nothing there is this run's.
    steps = detected_steps(html_dir) if published == 0 else []
    # The site covers every machine in the results; this job's summary reports its own machine's history.
    steps = [s for s in steps if (s["environment"] or {}).get("machine", args.machine) == args.machine]
    broken = [f"{s.name}: exit {s.exit_code}" for s in job.steps if not _step_ok(s)]
    return {"range": spec, "html_dir": str(html_dir), "history_steps": steps, "asv": [], "gates": {},
            "verdict": "ERROR" if broken else "PASS", "reasons": broken}


def run_find(job: Job, out: Path) -> dict[str, Any]:
    """`asv find RANGE BENCH`: bisect a range for the commit behind the largest step of one benchmark."""
    args = job.args
    if not args.range or not args.bench or len(args.bench) != 1:
        raise HarnessUsageError("find needs --range A..B and exactly one --bench NAME")
    job.step("asv machine", job.asv("machine", "--yes", "--machine", args.machine))
    job.step("asv find", job.asv("find", "--show-stderr", "--machine", args.machine, args.range, args.bench[0]))
    broken = [f"{s.name}: exit {s.exit_code}" for s in job.steps if s.exit_code != 0]
    return {"range": args.range, "asv": [], "gates": {}, "verdict": "ERROR" if broken else "PASS",
            "reasons": broken}


RUNNERS = {"change": run_change, "quick": run_quick, "history": run_history, "find": run_find}
EXIT_OF = {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCONCLUSIVE": EXIT_INCONCLUSIVE, "ERROR": EXIT_INTERNAL}


def render_summary(json_path: Path, out: Path) -> Path | None:
    """summary.md, summary.html and junit.xml through the `bench-summary` command of reports; None without it."""
    entry = plugin_entry_points().get(SUMMARY_COMMAND)
    command = load_plugin(entry) if entry is not None else None
    if command is None:
        print(f"summary skipped: no {SUMMARY_COMMAND!r} command is installed")
        return None
    code = run_with_arguments(command, f"{PROG} {SUMMARY_COMMAND}", ["--from", str(json_path), "--out", str(out)])
    return out / "summary.md" if code == 0 else None


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("mode", choices=MODES, help="change: base vs head; history: main's asv history; "
                        "quick: the smoke run of .ci/run; find: bisect a range for one benchmark")
    parser.add_argument("--base", default=os.environ.get("BENCH_BASE", "origin/main"),
                        help="change: the commit to compare against (default $BENCH_BASE, else origin/main)")
    parser.add_argument("--head", default="HEAD", help="the commit under test (default HEAD; the harness gates "
                        "always measure the installed checkout)")
    parser.add_argument("--factor", type=threshold_value, default=DEFAULT_FACTOR,
                        help=f"asv -f: smallest head/base ratio that counts as a change (default {DEFAULT_FACTOR})")
    parser.add_argument("--instruction-factor", type=threshold_value, default=asv_compare.DEFAULT_INSTRUCTION_FACTOR,
                        dest="instruction_factor", help="smallest head/base instruction count that is a REGRESSION "
                        f"(default {asv_compare.DEFAULT_INSTRUCTION_FACTOR}; the counts' A/A spread is 0)")
    add_threshold(parser, DEFAULT_THRESHOLD)
    parser.add_argument("--bench", "-b", action="append", metavar="REGEX",
                        help="asv -b: only these benchmarks (change default: time_)")
    parser.add_argument("--range", help="history/find: an asv range such as A..B (history default: NEW)")
    parser.add_argument("--sizes", type=grid_sides_in_memory(16), help="pytest-benchmark sizes (change 1024, quick 256)")
    parser.add_argument("--max-time", type=float, default=0.2, dest="max_time",
                        help="pytest-benchmark --benchmark-max-time per benchmark, s (default 0.2)")
    parser.add_argument("--validate", choices=("quick", "full"), default="quick", help="validate mode (default quick)")
    parser.add_argument("--no-confirm", action="store_true", dest="no_confirm",
                        help="change: judge on the first asv continuous alone (default: rerun the suspects)")
    parser.add_argument("--no-harness", action="store_true", dest="no_harness",
                        help="skip validate and the pytest-benchmark gate")
    parser.add_argument("--machine", default=os.environ.get("ASV_MACHINE") or platform.node() or "ci",
                        help="asv machine name (default $ASV_MACHINE, else the host name)")
    parser.add_argument("--asv-config", type=Path, default=Path("asv.conf.json"), dest="asv_config")
    parser.add_argument("--out", type=output_dir, default=DEFAULT_OUT,
                        help=f"summary, JUnit, gate JSON and the bench-ci JSON go here (default {DEFAULT_OUT})")


def run(args: argparse.Namespace, runner: Run = run_command) -> int:
    """Run one mode; 0 PASS, 1 a confirmed regression or gate FAIL, 3 only noise or INCONCLUSIVE, 4 a step broke."""
    if not args.asv_config.is_file():
        raise HarnessUsageError(f"{args.asv_config}: no asv config (run from the repository root)")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        (out / name).unlink(missing_ok=True)
    started, created = time.perf_counter(), dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    job = Job(args, runner)
    document = RUNNERS[args.mode](job, out)
    document.update(schema=SCHEMA, mode=args.mode, created=created, machine=args.machine, factor=args.factor,
                    instruction_factor=args.instruction_factor,
                    threshold=args.threshold, duration_s=round(time.perf_counter() - started, 1),
                    steps=[asdict(s) for s in job.steps])
    json_path = write_json_atomic(document, out / "bench-ci.json")
    summary = render_summary(json_path, out)
    if summary is not None:
        print("\n" + summary.read_text(encoding="utf-8"))
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(summary.read_text(encoding="utf-8"))
    print(f"bench-ci {args.mode}: {document['verdict']}" + (f" ({'; '.join(document['reasons'])})"
                                                              if document["reasons"] else ""))
    return EXIT_OF[document["verdict"]]
