"""Where a machine type's cells may run, and which workers may run them at all (the client's engine)."""

from __future__ import annotations

from harness.matrix.cluster import mismatch, placement_targets
from harness.matrix.fingerprint import EngineIdentity


def test_cells_go_to_hosts_of_their_machine_type_and_to_workers_where_a_host_mixes_types() -> None:
    targets = placement_targets({"tcp://10.0.0.1:4001": "nvme", "tcp://10.0.0.1:4002": "nvme",
                                 "tcp://10.0.0.2:4001": "nfs", "tcp://10.0.0.3:4001": "nvme",
                                 "tcp://10.0.0.3:4002": "nfs"})
    assert targets == {"nvme": ("10.0.0.1", "tcp://10.0.0.3:4001"), "nfs": ("10.0.0.2", "tcp://10.0.0.3:4002")}


def test_a_worker_on_another_commit_or_version_is_named_with_both() -> None:
    ours = EngineIdentity(commit="a" * 40, version="0.1.0")
    assert mismatch("tcp://w:1", EngineIdentity(commit="a" * 40, version="0.1.0"), ours) is None
    other = mismatch("tcp://w:1", EngineIdentity(commit="b" * 40, version="0.1.0"), ours)
    assert other == f"worker tcp://w:1 runs farm-grids {'b' * 40}, this client runs {'a' * 40}"
    wheel = mismatch("tcp://w:1", EngineIdentity(commit=None, version="0.1.0"), ours)
    assert wheel is not None and "version 0.1.0" in wheel  # no commit to compare: not shown to be the same
