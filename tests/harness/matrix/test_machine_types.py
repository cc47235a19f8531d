"""Two machine types (two `dask worker` processes naming different types on one host): every cell runs once
on each, and the report puts the cells whose verdict differs between them first."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
from distributed import Client, LocalCluster

from harness.cli import main
from harness.matrix.fingerprint import MACHINE_TYPE_ENV
from harness.matrix.journal import JOURNAL_NAME

from .conftest import ROOT, write_spec
from .device_backend import DEVICE_BACKEND, SLOW_MACHINE, register_device_backend
from .test_equivalence import STEADY_TIMING

FAST_MACHINE = "fast-disk"


def start_worker(scheduler: str, machine_type: str) -> subprocess.Popen[bytes]:
    path = os.pathsep.join([str(ROOT), str(ROOT / "tests" / "harness"), os.environ.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", scheduler, "--nthreads", "1", "--no-nanny",
         "--resources", "timing=1", "--no-dashboard", "--preload", "matrix.device_backend"],
        env={**os.environ, "PYTHONPATH": path, MACHINE_TYPE_ENV: machine_type},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_each_cell_runs_on_every_machine_type_and_differing_cells_come_first(tmp_path) -> None:
    register_device_backend(slow=False)  # the client checks the spec's backends against its own registry
    spec = write_spec(tmp_path / "spec.yaml", {"workload": ["resource_windows"], "size": [64],
                                               "backend": ["memmap", DEVICE_BACKEND]},
                      timing=STEADY_TIMING, threshold=4.0)
    out = tmp_path / "out"
    with LocalCluster(n_workers=0, dashboard_address=None, protocol="tcp") as cluster:
        workers = [start_worker(cluster.scheduler_address, kind) for kind in (FAST_MACHINE, SLOW_MACHINE)]
        try:
            with Client(cluster, set_as_default=False) as client:
                client.wait_for_workers(2, timeout=60)
            assert main(["matrix", str(spec), "--scheduler", cluster.scheduler_address, "--out", str(out)]) == 1
        finally:
            for worker in workers:
                worker.kill()
                worker.wait(timeout=30)

    rows = [json.loads(line) for line in (out / JOURNAL_NAME).read_text(encoding="utf-8").splitlines()[1:]]
    placed = sorted((row["cell"].split("backend=")[1].split(",")[0], row["machine"]["machine_type"], row["verdict"])
                    for row in rows)
    assert placed == [(DEVICE_BACKEND, FAST_MACHINE, "PASS"), (DEVICE_BACKEND, SLOW_MACHINE, "FAIL"),
                      ("memmap", FAST_MACHINE, "PASS"), ("memmap", SLOW_MACHINE, "PASS")]
    assert len({row["where"] for row in rows}) == 2  # each type's cells ran on its own worker
    by_machine = pd.read_csv(out / "matrix-by-machine.csv")
    assert by_machine["differs"].tolist() == [True, False]
    assert DEVICE_BACKEND in by_machine.loc[0, "cell"] and by_machine.loc[0, SLOW_MACHINE] == "FAIL"
    criteria = json.loads((out / "matrix-result.json").read_text(encoding="utf-8"))["criteria"]
    assert [(c["id"], c["verdict"]) for c in criteria] == [(FAST_MACHINE, "PASS"), (SLOW_MACHINE, "FAIL")]
