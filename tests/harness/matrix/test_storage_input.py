"""The storage section and a machine's storage options: checked before anything runs (exit 2, one line,
nothing written), and secrets redacted wherever options are written down."""

from __future__ import annotations

import json
import logging

import pytest
from distributed import LocalCluster

from harness.errors import HarnessUsageError
from harness.matrix.errors import MatrixSpecError, StorageOptionsError
from harness.matrix.spec import load_spec
from harness.matrix.storage import (
    REDACTED,
    STORAGE_OPTIONS_ENV,
    StorageSection,
    environment_options,
    redact,
    resolve_options,
    scrub,
)
from harness.workloads.catalog import ObjectStorage, build_workload

from .conftest import write_spec
from .test_bad_input import assert_refused

ZARR_AXES = {"workload": ["resource_windows"], "size": [32], "backend": ["zarr"]}


@pytest.mark.parametrize("storage, needle", [
    ({"memmap": {"directory": "s3://b/p"}}, "storage names backend 'memmap', which is not on the backend axis"),
    ({"zarr": {"directory": "/local/path"}}, "needs a directory URL like s3://bucket/prefix"),
    ({"zarr": {"directory": "nosuchfs://b/p"}}, "no fsspec file system knows nosuchfs://"),
    ({"zarr": {"directory": "s3://b/p", "endpoint": "x"}}, "unknown storage option 'endpoint'"),
    ({"zarr": {"storage_options": {}}}, "must be a mapping with a directory"),
    ({"zarr": {"directory": "s3://b/p", "storage_options": ["key"]}}, "must be a mapping with text keys"),
    ({"zarr": {"directory": "s3://b/p", "storage_options": {"retries": float("nan")}}}, "plain JSON values"),
    (["zarr"], "storage must map backends"),
])
def test_a_bad_storage_section_exits_2_in_one_line_and_writes_nothing(tmp_path, capsys, storage, needle) -> None:
    spec = write_spec(tmp_path / "spec.yaml", ZARR_AXES, storage=storage)
    with pytest.raises(MatrixSpecError, match=needle):
        load_spec(spec)
    assert_refused(capsys, tmp_path / "out", [str(spec), "--in-process"], needle)


def test_bad_storage_options_in_the_environment_exit_2_without_echoing_them(tmp_path, capsys, monkeypatch) -> None:
    spec = write_spec(tmp_path / "spec.yaml", ZARR_AXES, storage={"zarr": {"directory": "s3://b/p"}})
    monkeypatch.setenv(STORAGE_OPTIONS_ENV, '{"secret": "hunter2-leaky", ')
    assert_refused(capsys, tmp_path / "out", [str(spec), "--in-process"], f"{STORAGE_OPTIONS_ENV} is not JSON")
    monkeypatch.setenv(STORAGE_OPTIONS_ENV, '["hunter2-leaky"]')
    assert_refused(capsys, tmp_path / "out", [str(spec), "--in-process"], "must be a JSON object, got a list")
    assert "hunter2" not in capsys.readouterr().err


def test_a_worker_whose_storage_options_do_not_parse_is_refused_before_any_cell(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv(STORAGE_OPTIONS_ENV, raising=False)  # the client's are fine: the worker's are not
    spec = write_spec(tmp_path / "spec.yaml", ZARR_AXES, storage={"zarr": {"directory": "s3://b/p"}})
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, resources={"timing": 1},
                      dashboard_address=None, silence_logs=logging.ERROR,
                      env={STORAGE_OPTIONS_ENV: "not json hunter2-leaky"}) as cluster:
        assert_refused(capsys, tmp_path / "out", [str(spec), "--scheduler", cluster.scheduler_address],
                       f"{STORAGE_OPTIONS_ENV} is not JSON")
    assert "hunter2" not in capsys.readouterr().err
    assert issubclass(StorageOptionsError, ValueError)


def test_the_environment_has_the_last_word_over_the_spec_key_by_key() -> None:
    section = StorageSection("s3://b/p", {"endpoint_url": "http://spec:9000", "key": "spec-key"})
    environ = {STORAGE_OPTIONS_ENV: json.dumps({"endpoint_url": "http://worker:9000", "secret": "worker-secret"})}
    assert resolve_options(section, environ) == {"endpoint_url": "http://worker:9000", "key": "spec-key",
                                                 "secret": "worker-secret"}
    assert environment_options({}) == {} and environment_options({STORAGE_OPTIONS_ENV: "  "}) == {}


def test_redaction_shows_only_public_keys_and_hides_url_passwords() -> None:
    options = {"endpoint_url": "http://user:pa55word@127.0.0.1:9000", "key": "AKIA123", "secret": "s3cr3t-value",
               "client_kwargs": {"region_name": "eu-west-1", "aws_session_token": "tok-abcdef"},
               "config_kwargs": {"retries": {"max_attempts": 2}}, "anon": False, "profile_secret": {"nested": "x"}}
    assert redact(options) == {
        "endpoint_url": f"http://{REDACTED}@127.0.0.1:9000", "key": REDACTED, "secret": REDACTED,
        "client_kwargs": {"region_name": "eu-west-1", "aws_session_token": REDACTED},
        "config_kwargs": {"retries": {"max_attempts": 2}}, "anon": False, "profile_secret": REDACTED}
    message = ("ObjectStoreError: opening http://user:pa55word@127.0.0.1:9000 with key AKIA123, "
               "secret s3cr3t-value, token tok-abcdef failed")
    scrubbed = scrub(message, options)
    for secret in ("pa55word", "AKIA123", "s3cr3t-value", "tok-abcdef"):
        assert secret not in scrubbed
    assert scrubbed == "ObjectStoreError: opening http://***:***@127.0.0.1:9000 with key ***, secret ***, token *** failed"


def test_the_spec_digest_covers_the_storage_directory_but_not_its_secrets(tmp_path) -> None:
    def digest(directory: str, secret: str) -> str:
        path = write_spec(tmp_path / "spec.yaml", ZARR_AXES, storage={
            "zarr": {"directory": directory, "storage_options": {"secret": secret}}})
        return load_spec(path).digest

    assert digest("s3://b/p", "one") == digest("s3://b/p", "two")
    assert digest("s3://b/p", "one") != digest("s3://b/q", "one")
    plain = write_spec(tmp_path / "plain.yaml", ZARR_AXES)
    assert load_spec(plain).storage == {} and load_spec(plain).digest != digest("s3://b/p", "one")


def test_a_backend_that_keeps_local_files_is_refused_a_storage_url(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # memmap takes the URL for a relative path: whatever it makes stays in here
    with pytest.raises(HarnessUsageError, match="backend 'memmap' keeps its grids in local files"):
        build_workload("resource_windows", "memmap", 32, storage=ObjectStorage("memory://matrix-local-refused"))
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []  # its files went with it
