"""Object storage of a matrix: the spec's per-backend storage section, the worker's own storage options, and redaction.

A spec names where a backend's cells keep their grids (``storage: {zarr: {directory:
s3://bucket/prefix, storage_options: {...}}}``). Each worker adds the JSON object in its own
``FARM_HARNESS_STORAGE_OPTIONS`` (read on the worker, when the cell runs), and s3fs itself
reads the standard ``AWS_*`` variables there. Options are secrets until shown otherwise: only
the values of known public keys (endpoint, region, time-outs) are ever written out.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import fsspec

from harness.matrix.errors import MatrixSpecError, StorageOptionsError

STORAGE_OPTIONS_ENV = "FARM_HARNESS_STORAGE_OPTIONS"  # a JSON object, merged over the spec's options on the worker
SECTION_KEYS = ("directory", "storage_options")
REDACTED = "***"
# Keys whose values are shown in rows and reports; every other value is a secret. Nested
# mappings under these keys are redacted by the same rule, key by key.
PUBLIC_OPTION_KEYS = frozenset({
    "endpoint_url", "region_name", "anon", "use_ssl", "verify", "client_kwargs", "config_kwargs",
    "requester_pays", "default_block_size", "default_fill_cache", "version_aware", "cache_regions",
    "skip_instance_cache", "use_listings_cache", "listings_expiry_time", "max_concurrency",
    "user_agent_extra", "connect_timeout", "read_timeout", "retries", "max_attempts", "mode",
    "signature_version", "s3", "addressing_style", "profile",
})
_URL = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<rest>.+)$")


@dataclass(frozen=True)
class StorageSection:
    """Where one backend's cells keep their grids: a URL each cell makes its own prefix under, and how to reach it."""

    directory: str
    storage_options: Mapping[str, Any] = field(default_factory=dict, repr=False)


def _check_url(source: str, backend: str, directory: object) -> str:
    if not isinstance(directory, str) or not (match := _URL.match(directory.strip())):
        raise MatrixSpecError(f"{source}: storage of {backend!r} needs a directory URL like s3://bucket/prefix, "
                              f"got {directory!r}")
    if match["scheme"] not in fsspec.available_protocols():
        raise MatrixSpecError(f"{source}: storage of {backend!r}: no fsspec file system knows {match['scheme']}://")
    return directory.strip().rstrip("/")


def _check_options(source: str, backend: str, options: object) -> dict[str, Any]:
    if not isinstance(options, Mapping) or not all(isinstance(key, str) for key in options):
        raise MatrixSpecError(f"{source}: storage_options of {backend!r} must be a mapping with text keys")
    try:
        json.dumps(options, allow_nan=False)
    except (TypeError, ValueError):
        raise MatrixSpecError(f"{source}: storage_options of {backend!r} must be plain JSON values") from None
    return dict(options)


def parse_storage(source: str, raw: object, backends: Iterable[str]) -> dict[str, StorageSection]:
    """{backend: its storage} from a spec's ``storage`` mapping; MatrixSpecError on anything else."""
    if not isinstance(raw, Mapping):
        raise MatrixSpecError(f"{source}: storage must map backends to {{directory, storage_options}}")
    on_axis = tuple(backends)
    sections: dict[str, StorageSection] = {}
    for backend, body in raw.items():
        if backend not in on_axis:
            raise MatrixSpecError(f"{source}: storage names backend {backend!r}, which is not on the backend axis "
                                  f"({', '.join(map(str, on_axis))})")
        if not isinstance(body, Mapping) or "directory" not in body:
            raise MatrixSpecError(f"{source}: storage of {backend!r} must be a mapping with a directory")
        unknown = sorted(set(body) - set(SECTION_KEYS))
        if unknown:
            raise MatrixSpecError(f"{source}: unknown storage option {unknown[0]!r} of {backend!r} "
                                  f"(known: {', '.join(SECTION_KEYS)})")
        sections[backend] = StorageSection(_check_url(source, backend, body["directory"]),
                                           _check_options(source, backend, body.get("storage_options", {})))
    return sections


def environment_options(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The storage options in this machine's FARM_HARNESS_STORAGE_OPTIONS ({} when unset); the value is never echoed."""
    text = (os.environ if environ is None else environ).get(STORAGE_OPTIONS_ENV, "").strip()
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StorageOptionsError(f"{STORAGE_OPTIONS_ENV} is not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(options, dict):
        raise StorageOptionsError(f"{STORAGE_OPTIONS_ENV} must be a JSON object, got a {type(options).__name__}")
    return options


def environment_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why this machine's FARM_HARNESS_STORAGE_OPTIONS cannot be used, or None (a worker's answer to the survey)."""
    try:
        environment_options(environ)
    except StorageOptionsError as exc:
        return str(exc)
    return None


def resolve_options(section: StorageSection, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The options a cell reaches its storage with: the spec's, then this machine's environment on top (it knows its network)."""
    return {**section.storage_options, **environment_options(environ)}


def _public_url(value: str) -> str:
    """``value`` with any user:password of a URL hidden."""
    parts = urllib.parse.urlsplit(value)
    if "@" not in parts.netloc:
        return value
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{REDACTED}@{parts.netloc.rsplit('@', 1)[1]}"))


def redact(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` as they may be written down: public keys keep their values, every other value is ***."""
    shown: dict[str, Any] = {}
    for key, value in options.items():
        if key not in PUBLIC_OPTION_KEYS:
            shown[key] = REDACTED
        elif isinstance(value, Mapping):
            shown[key] = redact(value)
        else:
            shown[key] = _public_url(value) if isinstance(value, str) else value
    return shown


def secret_texts(options: Mapping[str, Any]) -> list[str]:
    """Every text in ``options`` that ``redact`` hides (values of secret keys, URL passwords), longest first."""
    found: list[str] = []

    def leaves(value: object) -> Iterable[str]:
        if isinstance(value, Mapping):
            for inner in value.values():
                yield from leaves(inner)
        elif isinstance(value, (list, tuple)):
            for inner in value:
                yield from leaves(inner)
        elif value is not None and not isinstance(value, bool):
            yield str(value)

    for key, value in options.items():
        if key not in PUBLIC_OPTION_KEYS:
            found.extend(leaves(value))
        elif isinstance(value, Mapping):
            found.extend(secret_texts(value))
        elif isinstance(value, str) and (userinfo := urllib.parse.urlsplit(value).netloc.rpartition("@")[0]):
            found.extend(part for part in userinfo.split(":") if part)
    # Texts shorter than 4 characters (a port, "1") would blank out harmless words of a message.
    return sorted({text for text in found if len(text) >= 4}, key=len, reverse=True)


def scrub(text: str, options: Mapping[str, Any]) -> str:
    """``text`` (an error message) with every secret of ``options`` replaced by ***."""
    for secret in secret_texts(options):
        text = text.replace(secret, REDACTED)
    return text
