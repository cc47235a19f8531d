"""Bad input stops `farm-harness matrix` before anything runs: exit 2, one line on stderr, nothing written."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import distributed
import pytest
from distributed import LocalCluster

from harness.cli import main
from harness.matrix.cluster import check_workers, connect
from harness.matrix.errors import ClusterError, MatrixSpecError, WorkerMismatchError
from harness.matrix.spec import load_spec

from .conftest import eight_cells, write_spec


def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_refused(capsys, out: Path, arguments: list[str], needle: str) -> None:
    assert main(["matrix", *arguments, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    assert not out.exists()


@pytest.mark.parametrize("document, needle", [
    ({"axes": {"workload": ["resource_windows"], "colour": ["red"]}}, "unknown axis 'colour'"),
    ({"axes": {"workload": ["no_such_workload"]}}, "unknown workload 'no_such_workload'"),
    ({"axes": {"workload": ["resource_windows"], "layout": ["diagonal"]}}, "unknown layout 'diagonal'"),
    ({"axes": {"workload": ["resource_windows"], "backend": ["floppy"]}}, "unknown backend 'floppy'"),
    ({"axes": {"workload": ["resource_windows"], "size": [8]}}, "size must be integers >= 16"),
    ({"axes": {"workload": ["resource_windows"]}, "timing": {"pairs": 3}}, "unknown timing option 'pairs'"),
    ({"axes": {"workload": ["resource_windows"]}, "threshold": 0.9}, "threshold must be"),
    ({"axes": {"workload": ["resource_windows"]}, "heatmap": ["size", "size"]}, "heatmap must name two"),
    ({"axes": {"workload": ["resource_windows"]}, "workers": 3}, "unknown key 'workers'"),
    ({"workload": ["resource_windows"]}, "unknown key 'workload'"),
])
def test_a_bad_spec_exits_2_in_one_line_and_writes_nothing(tmp_path, capsys, document, needle) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(__import__("json").dumps(document), encoding="utf-8")
    with pytest.raises(MatrixSpecError, match=needle):
        load_spec(spec)
    assert_refused(capsys, tmp_path / "out", [str(spec), "--in-process"], needle)


def test_a_spec_that_is_not_yaml_exits_2(tmp_path, capsys) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("axes: [unclosed\n", encoding="utf-8")
    assert_refused(capsys, tmp_path / "out", [str(spec), "--in-process"], "not valid YAML or JSON")


def test_an_unreachable_scheduler_exits_2_and_writes_nothing(tmp_path, capsys) -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    spec = eight_cells(tmp_path / "spec.yaml")
    assert_refused(capsys, tmp_path / "out", [str(spec), "--scheduler", address, "--connect-timeout", "1"],
                   f"cannot reach the scheduler at {address}")
    with pytest.raises(ClusterError, match="cannot reach the scheduler"):  # typed, for callers of the module
        connect(address, timeout_s=0.5)


def test_a_worker_without_the_project_exits_2_and_writes_nothing(tmp_path, capsys) -> None:
    spec = write_spec(tmp_path / "spec.yaml", {"workload": ["resource_windows"], "size": [64]})
    # Dask alone: -S skips site, so the editable install of the project (a .pth hook) is not seen;
    # the venv's packages come in as a plain path, and the working directory holds nothing.
    packages = Path(distributed.__file__).resolve().parents[1]
    with LocalCluster(n_workers=0, dashboard_address=None, protocol="tcp") as scheduler:
        worker = subprocess.Popen(
            [sys.executable, "-S", "-m", "distributed.cli.dask_worker", scheduler.scheduler_address, "--nthreads", "1",
             "--no-nanny", "--resources", "timing=1", "--no-dashboard"],
            cwd=tmp_path, env={"PYTHONPATH": str(packages), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with distributed.Client(scheduler, set_as_default=False) as client:
                with pytest.raises(WorkerMismatchError, match="cannot run the project's code"):
                    check_workers(client, timeout_s=30)
            assert_refused(capsys, tmp_path / "out", [str(spec), "--scheduler", scheduler.scheduler_address],
                           "cannot run the project's code")
        finally:
            worker.kill()
            worker.wait(timeout=30)


def test_an_existing_journal_without_resume_exits_2_and_is_left_alone(tmp_path, capsys) -> None:
    spec = eight_cells(tmp_path / "spec.yaml")
    out = tmp_path / "out"
    out.mkdir()
    theirs = out / "matrix-journal.jsonl"
    theirs.write_text("not ours\n", encoding="utf-8")
    assert main(["matrix", str(spec), "--in-process", "--out", str(out)]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["matrix", str(spec), "--in-process", "--out", str(out), "--resume"]) == 2
    assert "not JSON" in capsys.readouterr().err
    assert theirs.read_text(encoding="utf-8") == "not ours\n" and sorted(p.name for p in out.iterdir()) == [theirs.name]


def test_an_install_without_distributed_is_exit_2_naming_the_extra(tmp_path: Path) -> None:
    """Without the `cluster` extra the command says what to install (exit 2), never a traceback (exit 4)."""
    block = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'distributed' or name.startswith('distributed.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from harness.cli import main\n"
        f"sys.exit(main(['matrix', {str(tmp_path / 'spec.yaml')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "farm-grids[cluster]" in done.stderr, done.stderr
