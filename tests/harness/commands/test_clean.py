"""clean: stale grid files and scratch dirs of dead processes go; live ones and other files stay."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from farm_grids import MemmapStore
from harness.commands import commandline
from harness import cli
from harness.commands.clean import clean

REPO = Path(__file__).resolve().parents[3]


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def scratch_of_a_killed_process(parent) -> Path:
    """A scratch dir made by harness.probes.tempfiles in a child that then got SIGKILL (no cleanup ran)."""
    script = (f"from harness.probes.tempfiles import scratch_dir\nimport time\nwith scratch_dir(parent={str(parent)!r}) as p:\n"
              "    print(p, flush=True)\n    time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    made = Path(child.stdout.readline().strip())
    child.kill()
    child.wait(timeout=30)
    child.stdout.close()
    return made


def make_leftovers(directory, pid: int, live) -> dict[str, object]:
    """A dead process's grid file and manifest, a live store's files, scratch and a bystander.

    Liveness is the store's lock, not the pid in a name: the live store is a real open one.
    """
    stale_grid = directory / f"env_OBSTACLES_p{pid}-abcd1234_8x8_float32.dat"
    stale_manifest = directory / f"manifest_p{pid}-abcd1234.json"
    live.create("OBSTACLES", (8, 8), fill=1.0)
    stale_scratch = scratch_of_a_killed_process(directory)
    named_alike = directory / f"farm-harness-{pid}-xyz"  # a user's directory: no marker of ours
    unrelated = directory / "notes.txt"
    for path in (stale_grid, stale_manifest, unrelated):
        path.write_bytes(b"\0" * 256)
    named_alike.mkdir()
    (named_alike / "grid.dat").write_bytes(b"x")
    live_files = {p for p in directory.iterdir() if live.token in p.name}
    return {"stale": {stale_grid, stale_manifest}, "scratch": stale_scratch, "kept": live_files | {unrelated, named_alike}}


def test_dry_run_lists_and_removes_nothing(tmp_path, capsys) -> None:
    with MemmapStore(tmp_path) as live:
        files = make_leftovers(tmp_path, dead_pid(), live)
        before = sorted(tmp_path.iterdir())
        assert cli.main(["clean", str(tmp_path), "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert sorted(tmp_path.iterdir()) == before
        assert all(str(p) in out for p in files["stale"]) and str(files["scratch"]) in out
        assert "would remove 2 stale grid files and 1 scratch dirs" in out


def test_clean_removes_only_what_dead_processes_left(tmp_path) -> None:
    with MemmapStore(tmp_path) as live:
        files = make_leftovers(tmp_path, dead_pid(), live)
        result = clean(tmp_path)
        assert set(result.grid_files) == files["stale"] and result.scratch_dirs == (files["scratch"],)
        assert set(tmp_path.iterdir()) == files["kept"]
        assert float(live.get("OBSTACLES").sum()) == 64.0


def test_clean_of_a_missing_directory_is_a_usage_error(tmp_path, capsys) -> None:
    assert cli.main(["clean", str(tmp_path / "nope")]) == commandline.EXIT_USAGE
    assert capsys.readouterr().err.count("\n") == 1
