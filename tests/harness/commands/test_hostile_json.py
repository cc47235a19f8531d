"""Every JSON the CLI reads is checked before use: hostile files give exit 2, one line on stderr, no traceback."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from harness import cli

GATE_FIXTURE = Path(__file__).parents[1] / "data" / "pytest_benchmark_run.json"
HARNESS_RESULT = Path(__file__).parents[2] / "reports" / "data" / "harness_result.json"


def pytest_benchmark_run() -> dict:
    return json.loads(GATE_FIXTURE.read_text(encoding="utf-8"))


def write(tmp_path: Path, content: bytes | str | dict) -> Path:
    path = tmp_path / "input.json"
    if isinstance(content, dict):
        content = json.dumps(content)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def assert_bad_input(capsys, argv: list[str], command: str, *fragments: str) -> None:
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(f"farm-harness {command}: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


def gate(capsys, path: Path, *fragments: str, extra: tuple[str, ...] = ()) -> None:
    assert_bad_input(capsys, ["gate", "--pytest-benchmark", str(path), *extra], "gate", str(path), *fragments)


def report(capsys, path: Path, out: Path, *fragments: str) -> None:
    assert_bad_input(capsys, ["report", "--from", str(path), "--out", str(out)], "report", str(path), *fragments)
    assert not out.exists()


def test_gate_non_utf8_file(capsys, tmp_path) -> None:
    gate(capsys, write(tmp_path, b'{"benchmarks": [], "machine_info": {"node": "\xff\xfe"}}'), "not UTF-8")


def test_gate_binary_file(capsys, tmp_path) -> None:
    gate(capsys, write(tmp_path, bytes(range(256)) * 4), "not UTF-8")


def test_gate_binary_file_that_is_valid_utf8(capsys, tmp_path) -> None:
    gate(capsys, write(tmp_path, b"\x00\x01\x02PK\x03\x04" * 100), "not valid JSON")


def test_gate_nested_200k_deep(capsys, tmp_path) -> None:
    gate(capsys, write(tmp_path, "[" * 200_000 + "]" * 200_000), "nested too deeply")


def test_gate_params_as_a_string(capsys, tmp_path) -> None:
    document = pytest_benchmark_run()
    document["benchmarks"][0]["params"] = "ram-64"
    gate(capsys, write(tmp_path, document), "benchmarks[0].params must be object or null")


def test_gate_rounds_as_text(capsys, tmp_path) -> None:
    document = pytest_benchmark_run()
    document["benchmarks"][0]["stats"]["rounds"] = "abc"
    gate(capsys, write(tmp_path, document), "benchmarks[0].stats.rounds must be integer")


def test_gate_5000_digit_size_number(capsys, tmp_path) -> None:
    text = json.dumps(pytest_benchmark_run()).replace('"size": 256', '"size": ' + "7" * 5000, 1)
    gate(capsys, write(tmp_path, text), "Exceeds the limit (4300 digits)")


def test_gate_5000_digit_size_text(capsys, tmp_path) -> None:
    document = pytest_benchmark_run()
    document["benchmarks"][0]["params"]["size"] = "7" * 5000
    gate(capsys, write(tmp_path, document), "benchmarks[0].params.size must be shorter than")


def test_gate_machine_info_as_a_string_with_json_output(capsys, tmp_path) -> None:
    document = pytest_benchmark_run()
    document["machine_info"] = "x"
    out = tmp_path / "gate.json"
    gate(capsys, write(tmp_path, document), "machine_info must be object", extra=("--json", str(out)))
    assert not out.exists()


def test_gate_5000_digit_parametrisation_id_is_no_size(capsys, tmp_path) -> None:
    document = pytest_benchmark_run()
    for entry in document["benchmarks"]:
        entry["params"] = None
    document["benchmarks"][0]["param"] = "ram-" + "7" * 900
    gate(capsys, write(tmp_path, document), "no ram/memmap pairs")


def test_report_from_a_deeply_nested_file(capsys, tmp_path) -> None:
    report(capsys, write(tmp_path, '{"schema": ' + "[" * 200_000 + "]" * 200_000 + "}"), tmp_path / "out",
           "nested too deeply")


def test_report_from_a_harness_result_holding_nan(capsys, tmp_path) -> None:
    document = json.loads(HARNESS_RESULT.read_text(encoding="utf-8"))
    document["threshold"] = float("nan")  # json.dumps writes NaN, which is not JSON
    report(capsys, write(tmp_path, json.dumps(document)), tmp_path / "out", "NaN is not a JSON number")


def test_report_from_a_harness_result_with_a_ratio_of_the_wrong_type(capsys, tmp_path) -> None:
    document = json.loads(HARNESS_RESULT.read_text(encoding="utf-8"))
    document["ratios"][0]["ratio"] = "fast"
    report(capsys, write(tmp_path, document), tmp_path / "out", "ratios[0].ratio must be number or null")


def test_report_from_a_pytest_benchmark_file_with_bad_params(capsys, tmp_path) -> None:
    document = copy.deepcopy(pytest_benchmark_run())
    document["benchmarks"][1]["params"] = ["ram", 64]
    report(capsys, write(tmp_path, document), tmp_path / "out", "benchmarks[1].params must be object or null")


def test_report_from_an_asv_result_file_without_columns(capsys, tmp_path) -> None:
    machine = tmp_path / "results" / "box"
    machine.mkdir(parents=True)
    (machine / "machine.json").write_text('{"machine": "box"}')
    bad = machine / "abc-py.json"
    bad.write_text('{"results": {}}')
    assert_bad_input(capsys, ["report", "--from", str(tmp_path / "results"), "--out", str(tmp_path / "out")],
                     "report", str(bad), "has no 'result_columns' key")


@pytest.mark.parametrize("kind", ["gate", "report"])
def test_a_directory_or_missing_file_is_bad_input_too(capsys, tmp_path, kind) -> None:
    missing = tmp_path / "absent.json"
    argv = (["gate", "--pytest-benchmark", str(missing)] if kind == "gate"
            else ["report", "--from", str(missing), "--out", str(tmp_path / "out")])
    assert_bad_input(capsys, argv, kind, str(missing), "no such file")
