"""Output files land at their own name: staged beside it and renamed in, never written through a symlink there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .harness_cli import run_harness
from .test_cli_exit_codes import BENCH_CI

PRECIOUS = "the user's own file\n"


def _victim(tmp_path: Path) -> Path:
    victim = tmp_path / "precious.txt"
    victim.write_text(PRECIOUS, encoding="utf-8")
    return victim


def _assert_replaced_not_followed(link: Path, victim: Path) -> None:
    assert victim.read_text(encoding="utf-8") == PRECIOUS, "the symlink's target was overwritten"
    assert link.is_file() and not link.is_symlink(), "the output replaces the link itself"


@pytest.mark.parametrize("name", ["summary.md", "summary.html", "junit.xml"])
def test_bench_summary_replaces_a_symlink_at_an_output_name(tmp_path: Path, name: str) -> None:
    source = tmp_path / "bench-ci.json"
    source.write_text(json.dumps(BENCH_CI), encoding="utf-8")
    out, victim = tmp_path / "out", _victim(tmp_path)
    out.mkdir()
    (out / name).symlink_to(victim)
    result = run_harness("bench-summary", "--from", str(source), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.explain()
    _assert_replaced_not_followed(out / name, victim)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging left behind"


def test_bench_summary_writes_nothing_when_the_document_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "bench-ci.json"
    source.write_text(json.dumps({**BENCH_CI, "steps": [{"name": "x"}]}), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.md").write_text("earlier summary\n", encoding="utf-8")
    result = run_harness("bench-summary", "--from", str(source), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 2, result.explain()
    assert (out / "summary.md").read_text(encoding="utf-8") == "earlier summary\n"
    assert sorted(p.name for p in out.iterdir()) == ["summary.md"]


def test_outofcore_json_replaces_a_symlink_at_its_name(tmp_path: Path) -> None:
    link, victim = tmp_path / "records.json", _victim(tmp_path)
    link.symlink_to(victim)
    result = run_harness("outofcore", "--size", "64", "--settings", "rows", "--trials", "1", "--windows", "4",
                         "--json", str(link), cwd=tmp_path)
    assert result.returncode == 0, result.explain()
    _assert_replaced_not_followed(link, victim)
    assert json.loads(link.read_text(encoding="utf-8"))[0]["layout"] == "rows"


def test_objectstore_json_replaces_a_symlink_at_its_name(tmp_path: Path) -> None:
    link, victim = tmp_path / "figures.json", _victim(tmp_path)
    link.symlink_to(victim)
    result = run_harness("objectstore", "--size", "64", "--agents", "2", "--blocks", "2", "--skip-s3",
                         "--json", str(link), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.explain()
    _assert_replaced_not_followed(link, victim)
    assert json.loads(link.read_text(encoding="utf-8"))["size"] == 64


def test_profile_replaces_a_symlink_at_its_flamegraph_name(tmp_path: Path) -> None:
    pytest.importorskip("memray")
    out, victim = tmp_path / "out", _victim(tmp_path)
    out.mkdir()
    link = out / "memray-observe_all-16.html"
    link.symlink_to(victim)
    result = run_harness("profile", "--size", "16", "--out", str(out), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.explain()
    _assert_replaced_not_followed(link, victim)
    assert sorted(p.name for p in out.iterdir()) == ["memray-observe_all-16.bin", "memray-observe_all-16.html"]
