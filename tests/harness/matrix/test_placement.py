"""Where a machine type's cells may run: its hosts, or its workers on a host shared with another type."""

from __future__ import annotations

from harness.matrix.cluster import placement_targets


def test_cells_go_to_hosts_of_their_machine_type_and_to_workers_where_a_host_mixes_types() -> None:
    targets = placement_targets({"tcp://10.0.0.1:4001": "nvme", "tcp://10.0.0.1:4002": "nvme",
                                 "tcp://10.0.0.2:4001": "nfs", "tcp://10.0.0.3:4001": "nvme",
                                 "tcp://10.0.0.3:4002": "nfs"})
    assert targets == {"nvme": ("10.0.0.1", "tcp://10.0.0.3:4001"), "nfs": ("10.0.0.2", "tcp://10.0.0.3:4002")}
