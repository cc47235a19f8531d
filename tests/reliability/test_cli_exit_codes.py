"""farm-harness exit codes: bad input of every kind is exit 2 with one stderr line, refused before any work."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from .harness_cli import assert_usage_error, closed_port, run_harness

HUGE_SIDE = "1000000000"  # a 10**9-square float32 grid: 3.6 EiB


@pytest.mark.parametrize("argv", [
    ("objectstore", "--size", HUGE_SIDE),
    ("outofcore", "--size", HUGE_SIDE),
    ("profile", "--size", HUGE_SIDE),
    ("outofcore", "--size", "64", "--frontier-size", HUGE_SIDE),
], ids=["objectstore", "outofcore", "profile", "outofcore-frontier"])
def test_a_grid_side_too_large_for_the_machine_is_refused_while_parsing(tmp_path: Path, argv: tuple[str, ...]) -> None:
    result = run_harness(*argv, cwd=tmp_path, timeout=60)
    assert_usage_error(result, HUGE_SIDE)
    assert not list(tmp_path.iterdir()), "nothing is written (no traceback, no scratch) for a refused size"


def test_an_agent_count_too_large_for_memory_is_refused_while_parsing(tmp_path: Path) -> None:
    # 10**12 agents would ask numpy for 7 TiB of positions.
    result = run_harness("objectstore", "--agents", "1000000000000", "--size", "64", "--skip-s3", cwd=tmp_path,
                         timeout=60)
    assert_usage_error(result, "--agents")


@pytest.mark.parametrize("argv", [
    ("objectstore", "--size", "64", "--agents", "1", "--blocks", "2", "--skip-s3"),
    ("outofcore", "--size", "64", "--trials", "1", "--windows", "1"),
])
def test_a_malformed_request_limit_in_the_environment_is_a_usage_error(tmp_path: Path, argv: tuple[str, ...]) -> None:
    result = run_harness(*argv, cwd=tmp_path, env={"FARM_GRIDS_MAX_REQUEST_BYTES": "abc"}, timeout=60)
    assert_usage_error(result, "FARM_GRIDS_MAX_REQUEST_BYTES")


def test_an_endpoint_with_no_server_behind_it_is_a_usage_error(tmp_path: Path) -> None:
    with closed_port() as port:
        result = run_harness("objectstore", "--size", "64", "--agents", "1", "--blocks", "2", "--endpoint",
                             f"http://127.0.0.1:{port}", "--bucket", "nothing-here", cwd=tmp_path, timeout=120)
    assert_usage_error(result, f"127.0.0.1:{port}")


BENCH_CI = {
    "schema": "farm-harness/bench-ci/v1", "mode": "quick", "verdict": "PASS", "reasons": [],
    "created": "2026-01-01T00:00:00+00:00", "machine": "ci", "factor": 1.25, "threshold": 1.25, "duration_s": 1.0,
    "head": {"ref": "HEAD", "commit": "0" * 40},
    "asv": [{"benchmark": "bench.TimeX.time_x", "params": "1024", "kind": "time", "unit": "seconds",
             "workload": "x", "backend": "ram", "size": 1024, "base": None, "head": 0.5, "ratio": None,
             "ci_low": None, "ci_high": None, "significant": None, "verdict": "no base",
             "rerun_ratio": None, "rerun_verdict": None}],
    "gates": {"validate": {"verdict": "PASS", "exit_code": 0, "ratios": [], "criteria": []}},
    "steps": [{"name": "asv run", "command": ["asv", "run"], "exit_code": 0, "seconds": 1.0}],
}


def _without(document: dict, *path: object) -> dict:
    copy = json.loads(json.dumps(document))
    where = copy
    for key in path[:-1]:
        where = where[key]
    del where[path[-1]]
    return copy


def _with(document: dict, value: object, *path: object) -> dict:
    copy = json.loads(json.dumps(document))
    where = copy
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    return copy


def test_a_well_formed_bench_ci_document_renders(tmp_path: Path) -> None:
    source = tmp_path / "bench-ci.json"
    source.write_text(json.dumps(BENCH_CI), encoding="utf-8")
    result = run_harness("bench-summary", "--from", str(source), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 0, result.explain()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["junit.xml", "summary.html", "summary.md"]


@pytest.mark.parametrize(("document", "fragment"), [
    (_without(BENCH_CI, "asv", 0, "verdict"), "verdict"),
    (_with(BENCH_CI, 5, "gates", "validate"), "gates.validate"),
    (_without(BENCH_CI, "steps", 0, "exit_code"), "exit_code"),
    (_with(BENCH_CI, "1.0", "steps", 0, "seconds"), "seconds"),
    (_with(BENCH_CI, [1], "steps", 0, "command"), "command"),
    (_with(BENCH_CI, {"verdict": "PASS", "ratios": [{"workload": 3}]}, "gates", "gate"), "workload"),
    (_with(BENCH_CI, "MAYBE", "verdict"), "verdict"),
    (_with(BENCH_CI, [{"jumps": 3}], "history_steps"), "history_steps"),
], ids=["row-without-verdict", "gate-not-an-object", "step-without-exit-code", "seconds-as-text",
        "command-not-text", "ratio-workload-not-text", "unknown-verdict", "history-jumps-not-a-list"])
def test_a_bench_ci_document_off_its_schema_is_a_usage_error(tmp_path: Path, document: dict, fragment: str) -> None:
    source = tmp_path / "bench-ci.json"
    source.write_text(json.dumps(document), encoding="utf-8")
    out = tmp_path / "out"
    result = run_harness("bench-summary", "--from", str(source), "--out", str(out), cwd=tmp_path)
    assert_usage_error(result, fragment)
    assert not out.exists(), "nothing is written for a document that is refused"


def test_bench_summary_out_that_is_an_existing_file_is_a_usage_error(tmp_path: Path) -> None:
    source = tmp_path / "bench-ci.json"
    source.write_text(json.dumps(BENCH_CI), encoding="utf-8")
    taken = tmp_path / "taken"
    taken.write_text("mine\n", encoding="utf-8")
    result = run_harness("bench-summary", "--from", str(source), "--out", str(taken), cwd=tmp_path)
    assert_usage_error(result, str(taken))
    assert taken.read_text(encoding="utf-8") == "mine\n"


class _NotS3(http.server.BaseHTTPRequestHandler):
    """A web server that is no object store: every request is a 404 page."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_error(404)

    do_PUT = do_HEAD = do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_an_endpoint_that_is_no_object_store_is_a_usage_error(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotS3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_harness("objectstore", "--size", "64", "--agents", "1", "--blocks", "2", "--endpoint",
                             f"http://127.0.0.1:{server.server_address[1]}", "--bucket", "nothing-here",
                             cwd=tmp_path, env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
                             timeout=180)
    finally:
        server.shutdown()
        server.server_close()
    assert_usage_error(result, "nothing-here")  # the engine's ObjectStoreError, reported as bad input


@pytest.mark.parametrize("argv", [
    ("compare", "--size", HUGE_SIDE, "--list"),
    ("bench-ci", "quick", "--sizes", f"256,{HUGE_SIDE}"),
], ids=["compare", "bench-ci"])
def test_other_size_options_are_bounded_while_parsing_too(tmp_path: Path, argv: tuple[str, ...]) -> None:
    result = run_harness(*argv, cwd=tmp_path, timeout=60)
    assert_usage_error(result, HUGE_SIDE)
