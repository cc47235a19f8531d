"""Fixtures for the object-storage tests: one real S3-compatible server per session, a bucket per test."""

from __future__ import annotations

import itertools
import os
from typing import Iterator

import boto3
import pytest

from .s3server import CountingS3Server

_buckets = itertools.count()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[CountingS3Server]:
    """moto's S3 server on 127.0.0.1, started by the test suite itself (real HTTP, real client)."""
    # s3fs and botocore must never reach for a real AWS account or a proxy.
    for key in ("AWS_PROFILE", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(key, None)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    server = CountingS3Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bucket(s3_server: CountingS3Server) -> str:
    """A fresh, empty bucket created through the real S3 API."""
    name = f"farm-{os.getpid()}-{next(_buckets)}"
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, aws_access_key_id="farm",
                          aws_secret_access_key="farm-secret", region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return name
