"""A real S3-compatible server on 127.0.0.1 (moto's), counting every request it serves per client."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import boto3
from moto.server import DomainDispatcherApplication, MotoRequestHandler, ThreadedMotoServer, create_backend_app
from werkzeug.serving import make_server

__all__ = ["CountingS3Server", "RequestLog"]


@dataclass
class RequestLog:
    """Requests the server answered: (client tag, method, path) -> count, and bytes sent per key."""

    counts: Counter = field(default_factory=Counter)
    bytes_sent: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, tag: str, method: str, path: str, sent: int) -> None:
        with self.lock:
            self.counts[(tag, method, path)] += 1
            self.bytes_sent[(tag, method, path)] += sent

    def clear(self) -> None:
        with self.lock:
            self.counts.clear()
            self.bytes_sent.clear()

    def gets(self, tag: str, prefix: str) -> dict[str, int]:
        """Object GETs of client ``tag`` under ``prefix`` (bucket-relative), path -> count."""
        with self.lock:
            return {path: n for (t, method, path), n in self.counts.items()
                    if t == tag and method == "GET" and path.startswith(prefix)}

    def get_bytes(self, tag: str, prefix: str) -> int:
        with self.lock:
            return sum(n for (t, method, path), n in self.bytes_sent.items()
                       if t == tag and method == "GET" and path.startswith(prefix))


class _Quiet(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # werkzeug logs every request otherwise
        return None


class CountingS3Server(ThreadedMotoServer):
    """moto's threaded server behind a WSGI layer that logs method, path, client and body bytes.

    Clients tag themselves with ``config_kwargs={"user_agent_extra": "client/<tag>"}``.
    """

    name = "moto"

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.log = RequestLog()

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)
        log = self.log

        def counting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            agent = environ.get("HTTP_USER_AGENT", "")
            tag = agent.split("client/", 1)[1].split()[0] if "client/" in agent else "-"
            body = list(app(environ, start_response))
            log.record(tag, environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""), sum(len(part) for part in body))
            return body

        self._server = make_server(self._ip_address, self._port, counting, True, request_handler=_Quiet)
        self._server_ready_event.set()
        self._server.serve_forever()

    @property
    def endpoint(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"

    def create_bucket(self, name: str) -> None:
        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="farm", aws_secret_access_key="farm-secret",
                     region_name="us-east-1").create_bucket(Bucket=name)

    def storage_options(self, tag: str | None = None) -> dict[str, Any]:
        """s3fs options for this server (any key works: moto does not check them by default)."""
        config: dict[str, Any] = {}
        if tag is not None:
            config["user_agent_extra"] = f"client/{tag}"
        return {"endpoint_url": self.endpoint, "key": "farm", "secret": "farm-secret",
                "client_kwargs": {"region_name": "us-east-1"}, "config_kwargs": config}


def s3_client(server: Any) -> Any:
    """A boto3 S3 client with the credentials of ``server`` (SeaweedFS's are its own; moto takes any)."""
    options = server.storage_options()
    return boto3.client("s3", endpoint_url=options["endpoint_url"], aws_access_key_id=options["key"],
                        aws_secret_access_key=options["secret"], region_name="us-east-1")
