"""`farm-harness clean` removes only scratch directories the harness made, proven by the marker it wrote in each."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .harness_cli import run_harness
from .helpers import python_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock and POSIX signals")


def _scratch_of_a_child(parent: Path) -> tuple[subprocess.Popen[str], Path]:
    """A harness child process sleeping inside a scratch directory it made under ``parent``."""
    script = textwrap.dedent(f"""
        import time
        from harness.probes.tempfiles import scratch_dir
        with scratch_dir(parent={str(parent)!r}) as path:
            (path / "grid.dat").write_bytes(b"x" * 1000)
            print(path, flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=python_env())
    assert child.stdout is not None
    return child, Path(child.stdout.readline().strip())


def _scratch_of_a_killed_child(parent: Path) -> Path:
    """A scratch directory whose maker got SIGKILL: no cleanup ran, the kernel dropped its lock."""
    child, made = _scratch_of_a_child(parent)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.stdout is not None
    child.stdout.close()
    assert made.is_dir()
    return made


def _user_dir(path: Path) -> Path:
    path.mkdir()
    (path / "results.csv").write_text("the user's work\n", encoding="utf-8")
    return path


def _clean(directory: Path | None, tmp_path: Path, *extra: str) -> str:
    argv = ("clean", *(() if directory is None else (str(directory),)), *extra)
    # TMPDIR makes the child's system temp dir (clean's default) a directory of this test.
    result = run_harness(*argv, cwd=tmp_path, env={"TMPDIR": str(tmp_path / "tmp")})
    assert result.returncode == 0, result.explain()
    return result.stdout


def test_a_user_directory_named_like_scratch_is_never_touched(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    named = [_user_dir(root / name) for name in (
        "farm-harness-2024-results", f"farm-harness-{dead.stdout.strip()}-abc", "farm-harness-1-x")]
    (named[1] / ".owner.lock").write_bytes(b"")  # even the old lock file is no proof: only our marker is
    stale = _scratch_of_a_killed_child(root)
    out = _clean(root, tmp_path)
    assert not stale.exists(), out
    for path in named:
        assert (path / "results.csv").read_text(encoding="utf-8") == "the user's work\n", out


def test_the_default_directory_is_the_system_temp_dir_and_is_safe_too(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    user = _user_dir(temp / "farm-harness-2024-results")
    stale = _scratch_of_a_killed_child(temp)
    out = _clean(None, tmp_path)
    assert not stale.exists() and user.is_dir(), out
    assert f"removed {stale}" in out and str(user) not in out


def test_a_live_scratch_directory_is_kept(tmp_path: Path) -> None:
    child, live = _scratch_of_a_child(tmp_path)
    try:
        _clean(tmp_path, tmp_path)
        assert (live / "grid.dat").is_file()
    finally:
        child.kill()
        child.wait(timeout=30)
        assert child.stdout is not None
        child.stdout.close()


def test_a_marker_copied_into_another_directory_proves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "t"
    root.mkdir()
    stale = _scratch_of_a_killed_child(root)
    markers = [p for p in stale.iterdir() if p.name not in ("grid.dat", ".owner.lock")]
    assert len(markers) == 1, "the harness writes one marker into each scratch directory"
    renamed = root / "my-results"  # the user kept a scratch directory under a name of their own
    copied = _user_dir(root / f"{stale.name}-copy")
    shutil.copy2(markers[0], copied / markers[0].name)
    os.rename(stale, renamed)
    _clean(root, tmp_path)
    assert renamed.is_dir() and (copied / "results.csv").is_file()


def test_a_marker_that_is_a_symlink_or_a_fifo_or_malformed_is_no_proof(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "t", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    template = _scratch_of_a_killed_child(elsewhere)
    marker = next(p for p in template.iterdir() if p.name not in ("grid.dat", ".owner.lock"))
    record = json.loads(marker.read_text(encoding="utf-8"))
    cases = {}
    for kind in ("valid", "symlink", "fifo", "no-pid", "huge"):
        directory = _user_dir(root / f"{template.name}-{kind}")
        (directory / ".owner.lock").write_bytes(b"")  # a lock nobody holds: only the marker differs
        target, fitting = directory / marker.name, record | {"name": directory.name}
        if kind == "valid":  # the control: a well-formed marker naming its directory, no live owner
            target.write_text(json.dumps(fitting), encoding="utf-8")
        elif kind == "symlink":
            (elsewhere / kind).write_text(json.dumps(fitting), encoding="utf-8")
            target.symlink_to(elsewhere / kind)
        elif kind == "fifo":
            os.mkfifo(target)  # reading it would block forever
        elif kind == "no-pid":
            target.write_text(json.dumps({k: v for k, v in fitting.items() if k != "pid"}), encoding="utf-8")
        else:
            target.write_text(json.dumps(fitting | {"pad": "x" * 100_000}), encoding="utf-8")
        cases[kind] = directory
    _clean(root, tmp_path)
    assert not cases.pop("valid").exists()
    assert all((d / "results.csv").is_file() for d in cases.values())


def test_a_symlink_to_a_stale_scratch_directory_is_not_followed(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "t", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    stale = _scratch_of_a_killed_child(elsewhere)
    (root / stale.name).symlink_to(stale, target_is_directory=True)
    _clean(root, tmp_path)
    assert (stale / "grid.dat").is_file() and (root / stale.name).is_symlink()


def test_dry_run_lists_the_stale_scratch_and_removes_nothing(tmp_path: Path) -> None:
    stale = _scratch_of_a_killed_child(tmp_path)
    out = _clean(tmp_path, tmp_path, "--dry-run")
    assert f"would remove {stale}" in out and stale.is_dir()
