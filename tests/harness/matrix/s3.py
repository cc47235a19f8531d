"""A real S3 server on 127.0.0.1 for the matrix's object-storage tests, and what they look for in it."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.objectstore.s3server import CountingS3Server

KEY = "AKIA-MATRIX-TEST-KEY"
SECRET = "matrix-test-secret-7f3a"
_buckets = itertools.count()


@dataclass(frozen=True)
class S3:
    """The running server and a fresh bucket on it."""

    server: CountingS3Server
    bucket: str

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.server.endpoint, aws_access_key_id=KEY,
                            aws_secret_access_key=SECRET, region_name="us-east-1")

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def options(self, tag: str) -> dict[str, Any]:
        """s3fs options that reach this server; requests carry ``tag`` so the server's log says who sent them."""
        return {"endpoint_url": self.server.endpoint, "key": KEY, "secret": SECRET,
                "client_kwargs": {"region_name": "us-east-1"}, "config_kwargs": {"user_agent_extra": f"client/{tag}"}}


@pytest.fixture(scope="module")
def matrix_s3_server() -> Iterator[CountingS3Server]:
    # s3fs and botocore must never reach for a real AWS account or a proxy.
    for key in ("AWS_PROFILE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(key, None)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    server = CountingS3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def s3(matrix_s3_server: CountingS3Server) -> S3:
    here = S3(matrix_s3_server, f"matrix-{os.getpid()}-{next(_buckets)}")
    here.client().create_bucket(Bucket=here.bucket)
    return here


def written_text(out: Path) -> str:
    """Everything a matrix run wrote under ``out``, as text (binary files decoded leniently)."""
    return "\n".join(path.read_bytes().decode("utf-8", "replace") for path in sorted(out.rglob("*")) if path.is_file())
