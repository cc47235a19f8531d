"""`farm-harness selftest`: the real gate against faulty backends (harness.acceptance.gate_selftest), or with --synthetic the timing rule alone on a summing loop."""

from __future__ import annotations

import argparse

from harness.acceptance.gate_selftest import CRITERIA, format_gate_report, run_gate_selftest
from harness.acceptance.synthetic_selftest import (
    DEFAULT_SCENARIOS,
    MAX_FALSE_ALARM_RATE,
    MIN_POWER,
    SelftestReport,
    run_selftest,
)
from harness.commands.commandline import (
    EXIT_FAIL,
    EXIT_PASS,
    add_threshold,
    int_at_least,
    names_of,
    output_file,
    positive_int,
)
from harness.probes.background_load import busy_processes
from harness.progress import progress_display
from harness.results.jsonfiles import write_json_atomic
from harness.verdicts import DEFAULT_THRESHOLD
from harness.workloads.injected_backends import SCENARIO_NAMES


def format_report(report: SelftestReport) -> list[str]:
    """Plain-text lines: one per scenario, then the false-alarm rate and the power."""
    lines = [
        f"selftest: {report.runs} runs per scenario, threshold {report.threshold:g}, "
        f"{report.blocks} pairs of >= {report.min_block_s * 1e3:g} ms blocks, {report.duration_s:.1f} s",
        f"{'scenario':<9} {'work':>5} {'PASS':>5} {'WARN':>5} {'FAIL':>5} {'FAIL rate':>10} {'median ratio':>13}",
    ]
    for s in report.scenarios:
        lines.append(
            f"{s.name:<9} {s.work_factor:>5.2f} {s.passes:>5} {s.warns:>5} {s.fails:>5} "
            f"{s.fail_rate:>10.2f} {s.median_ratio:>13.3f}"
        )
    aa, slow = report.scenario("A/A"), report.scenario("1.5x")
    lines.append(f"false-alarm rate (A/A FAIL): {aa.fails}/{aa.runs} = {report.false_alarm_rate:.2f}")
    lines.append(f"power (1.5x FAIL): {slow.fails}/{slow.runs} = {report.power:.2f}")
    lines.append(f"gate {'OK' if report.acceptable else 'NOT OK'}: needs A/A FAIL rate <= {MAX_FALSE_ALARM_RATE:g} "
                 f"and power >= {MIN_POWER:g}")
    return lines


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=positive_int, default=20, help="runs per scenario (default 20)")
    parser.add_argument("--synthetic", action="store_true",
                        help="time a synthetic summing loop against itself and 1.1x / 1.5x of it, instead of the real gate")
    parser.add_argument("--load", type=int_at_least(0), default=0,
                        help="busy processes to run beside the self-test (stopped at its end)")
    parser.add_argument("--scenarios", type=names_of(SCENARIO_NAMES, "scenario"),
                        help=f"comma-separated, of {', '.join(SCENARIO_NAMES)} (default all)")
    parser.add_argument("--criteria", type=names_of(CRITERIA, "criterion", upper=True),
                        help=f"comma-separated, of {', '.join(CRITERIA)} (default both)")
    parser.add_argument("--every-criterion", action="store_true",
                        help="judge every criterion in every scenario (default: each the ones it is aimed at)")
    parser.add_argument("--blocks", type=int_at_least(2), default=12, help="block pairs per run (--synthetic; default 12)")
    add_threshold(parser, DEFAULT_THRESHOLD, "ratio of the gate under test (--synthetic)")
    parser.add_argument("--json", type=output_file, help="write the self-test report as JSON here")


def _write(document: object, target: object) -> None:
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)  # type: ignore[attr-defined]
        write_json_atomic(document, target)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    """0 when the false-alarm rate and the power meet their limits, else 1."""
    if not args.synthetic:
        scenarios = tuple(args.scenarios) if args.scenarios else None
        count = len(scenarios) if scenarios else len(SCENARIO_NAMES)
        with progress_display("selftest", args.runs * count, count) as progress:
            gate = run_gate_selftest(args.runs, scenarios=scenarios, load=args.load, progress=progress,
                                     every_criterion=args.every_criterion,
                                     criteria=tuple(args.criteria) if args.criteria else CRITERIA)
        for line in format_gate_report(gate):
            print(line)
        _write({"report": gate, "problems": gate.problems()}, args.json)
        return EXIT_PASS if gate.acceptable else EXIT_FAIL
    with busy_processes(args.load), progress_display("selftest", args.runs * len(DEFAULT_SCENARIOS),
                                                     len(DEFAULT_SCENARIOS)) as progress:
        report = run_selftest(args.runs, threshold=args.threshold, blocks=args.blocks, progress=progress)
    for line in format_report(report):
        print(line)
    _write({"report": report, "false_alarm_rate": report.false_alarm_rate, "power": report.power}, args.json)
    return EXIT_PASS if report.acceptable else EXIT_FAIL
