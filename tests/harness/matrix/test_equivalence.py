"""A 1-worker LocalCluster and the in-process path judge the same small matrix alike.

Timing verdicts are only reproducible where the ratio lies far from the threshold, so the matrix
is built that way on purpose: plain memmap window reads (about 1x RAM) against a threshold of 4,
and a backend that reads every window twelve times (about 12x). Both verdicts occur, so a path
that judged everything alike, or swapped its sides, would not match.
"""

from __future__ import annotations

import json
from pathlib import Path

from distributed import Client

from harness.cli import main
from harness.matrix.cluster import local_cluster
from harness.matrix.journal import JOURNAL_NAME

from .conftest import TEST_LEASE_TIMEOUT_S, write_spec
from .slow_store import RegisterSlowBackend, register_slow_backend


# Ten pairs, not the fault tests' four: one stalled block on a loaded machine must not be able
# to stretch an interval across the threshold.
STEADY_TIMING = {"blocks": 10, "min_block_s": 0.005, "warmup_blocks": 1, "time_budget_s": None}


def journal(out: Path) -> dict[str, dict[str, object]]:
    lines = (out / JOURNAL_NAME).read_text(encoding="utf-8").splitlines()[1:]
    return {row["cell"]: row for row in map(json.loads, lines)}


def verdicts(rows: dict[str, dict[str, object]]) -> dict[str, object]:
    return {cell: row["verdict"] for cell, row in rows.items()}


def test_one_worker_cluster_and_in_process_give_the_same_verdicts(tmp_path) -> None:
    slow = register_slow_backend()  # the client checks the spec's backends against its own registry
    spec = write_spec(tmp_path / "spec.yaml", {"workload": ["resource_windows"], "size": [64, 96],
                                               "backend": ["memmap", slow]},
                      timing=STEADY_TIMING, threshold=4.0)
    here = tmp_path / "in-process"
    assert main(["matrix", str(spec), "--in-process", "--out", str(here)]) == 1  # the slow cells FAIL

    with local_cluster(1, lease_timeout_s=TEST_LEASE_TIMEOUT_S) as cluster, \
            Client(cluster, set_as_default=False) as client:
        client.register_plugin(RegisterSlowBackend())
        there = tmp_path / "cluster"
        assert main(["matrix", str(spec), "--scheduler", cluster.scheduler_address, "--out", str(there)]) == 1

    expected = {f"workload=resource_windows,size={size},layout=rows,backend={backend},agents=1000": verdict
                for size in (64, 96) for backend, verdict in (("memmap", "PASS"), (slow, "FAIL"))}
    rows_here, rows_there = journal(here), journal(there)
    ratios = {cell: (rows_here[cell]["ci_low"], rows_here[cell]["ci_high"], rows_there[cell]["ci_low"],
                     rows_there[cell]["ci_high"]) for cell in rows_here}
    assert verdicts(rows_here) == verdicts(rows_there) == expected, ratios
