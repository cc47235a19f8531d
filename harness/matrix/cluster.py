"""The Dask cluster a matrix runs on: a LocalCluster of single-threaded worker processes or an existing scheduler,
checked before any cell is submitted (a timing worker exists; every worker runs the client's engine)."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from typing import Any

import dask
from distributed import Client, LocalCluster
from distributed.comm import get_address_host

from harness.matrix.cells import TIMING_RESOURCE
from harness.matrix.errors import ClusterError, StorageOptionsError, WorkerMismatchError
from harness.matrix.fingerprint import EngineIdentity, engine_identity, fingerprint
from harness.matrix.storage import environment_problem

# A killed worker's timing slot is freed this long after its last lease refresh. Dask's 30 s
# default would idle the whole host that long; 10 s is still 50 refreshes' worth of slack.
LEASE_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0


def lease_config(lease_timeout_s: float) -> dict[str, str]:
    """Dask config of the timing slot's lease: the scheduler checks leases five times per timeout."""
    return {"distributed.scheduler.locks.lease-timeout": f"{lease_timeout_s}s",
            "distributed.scheduler.locks.lease-validation-interval": f"{lease_timeout_s / 5}s"}


def local_cluster(workers: int, lease_timeout_s: float = LEASE_TIMEOUT_S) -> LocalCluster:
    """``workers`` single-threaded worker processes on this machine, each offering one timing unit.

    They all share this host's one timing slot (cells.timing_cell), so cells run one at a time;
    the extra workers are where a cell reruns at once when its worker dies.
    """
    # Nannies hand their config to the worker processes they (re)start; the scheduler reads its
    # lease interval at start: both see the lease settings set here.
    with dask.config.set(lease_config(lease_timeout_s)):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                            resources={TIMING_RESOURCE: 1}, dashboard_address=None,
                            silence_logs=logging.ERROR)


def connect(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> Client:
    """A client of the scheduler at ``address``; ClusterError in one line when it cannot be reached."""
    try:
        return Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the scheduler at {address}: {type(exc).__name__}: {exc}") from None


@contextlib.contextmanager
def cluster_client(workers: int | None, scheduler: str | None, *, lease_timeout_s: float = LEASE_TIMEOUT_S,
                   timeout_s: float = CONNECT_TIMEOUT_S) -> Iterator[Client]:
    """A client of ``scheduler``, else of a LocalCluster of ``workers`` that closes with it."""
    if scheduler is not None:
        client = connect(scheduler, timeout_s)
        try:
            yield client
        finally:
            client.close()
        return
    with local_cluster(workers or 1, lease_timeout_s) as cluster, Client(cluster, set_as_default=False) as client:
        yield client


def worker_survey(scratch_parent: str | None) -> dict[str, Any]:
    """Run on every worker: the engine it imports, its machine, and whether its own storage options parse.
    Pickled by reference, so a worker without the project fails right here, before any cell."""
    identity = engine_identity()
    machine = fingerprint(scratch_parent or tempfile.gettempdir())
    return {"commit": identity.commit, "version": identity.version, "machine_type": machine.machine_type,
            "storage_problem": environment_problem()}


def mismatch(worker: str, theirs: EngineIdentity, ours: EngineIdentity) -> str | None:
    """Why ``worker`` cannot run this client's cells, or None when it runs the same engine."""
    if theirs == ours:
        return None
    return f"worker {worker} runs farm-grids {theirs.label()}, this client runs {ours.label()}"


def check_workers(client: Client, scratch_parent: str | None = None, timeout_s: float = CONNECT_TIMEOUT_S,
                  *, uses_storage: bool = False) -> dict[str, tuple[str, ...]]:
    """{machine type: where its cells may run}, once every worker is shown to run this client's engine
    (and, when cells ``uses_storage``, to hold storage options that parse).

    Cells are placed on hosts, not worker addresses: a worker its nanny restarts comes back on
    the same host under a new address and can still take the cells of its machine type. Only
    on a host whose workers name different machine types (FARM_HARNESS_MACHINE_TYPE) are the
    workers' own addresses used instead.
    """
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except (TimeoutError, OSError) as exc:
        raise ClusterError(f"no worker joined the scheduler within {timeout_s:g} s ({type(exc).__name__})") from None
    workers = client.scheduler_info(n_workers=-1)["workers"]
    timing = tuple(address for address, info in workers.items()
                   if (info.get("resources") or {}).get(TIMING_RESOURCE, 0) >= 1)
    if not timing:
        raise ClusterError(f"no worker offers the {TIMING_RESOURCE!r} resource: start workers with "
                           f"--nthreads 1 --resources {TIMING_RESOURCE}=1")
    ours = engine_identity()
    found: dict[str, str] = {}  # timing worker address -> machine type
    for address, answer in sorted(client.run(worker_survey, scratch_parent, on_error="return").items()):
        if isinstance(answer, BaseException):
            raise WorkerMismatchError(f"worker {address} cannot run the project's code "
                                      f"({type(answer).__name__}: {answer}); install this farm-grids there")
        reason = mismatch(address, EngineIdentity(answer.get("commit"), answer.get("version")), ours)
        if reason is not None:
            raise WorkerMismatchError(reason)
        if uses_storage and answer.get("storage_problem"):
            raise StorageOptionsError(f"worker {address}: {answer['storage_problem']}")
        if address in timing:
            found[address] = answer["machine_type"]
    return placement_targets(found)


def placement_targets(machine_types: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """{machine type: hosts (or, on a host of several types, worker addresses)} from {worker address: type}."""
    kinds_of_host: dict[str, set[str]] = {}
    for address, kind in machine_types.items():
        kinds_of_host.setdefault(get_address_host(address), set()).add(kind)
    targets: dict[str, set[str]] = {}
    for address, kind in machine_types.items():
        host = get_address_host(address)
        targets.setdefault(kind, set()).add(host if len(kinds_of_host[host]) == 1 else address)
    return {kind: tuple(sorted(where)) for kind, where in sorted(targets.items())}
