"""The results journal: append-only JSON lines, one per finished cell, each fsynced as it arrives.

The first line is a header naming the spec it belongs to: it proves the file is ours before a
resume repairs it. A client killed mid-append leaves at most one torn last line; resuming cuts
it off (that cell was not counted, so it runs again). A row's id (its cell on one machine type)
is written at most once.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.results.jsonfiles import to_jsonable
from harness.matrix.errors import JournalError

KIND = "farm-harness/matrix-journal/v1"
JOURNAL_NAME = "matrix-journal.jsonl"


def _line(record: Mapping[str, Any]) -> bytes:
    # allow_nan=False: the journal is JSON for any reader; unmeasured numbers are null.
    return (json.dumps(to_jsonable(dict(record)), allow_nan=False, sort_keys=True) + "\n").encode("utf-8")


def _parse(path: Path, number: int, text: bytes) -> dict[str, Any]:
    try:
        record = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise JournalError(f"{path}: line {number} is not JSON; not a journal this command wrote") from None
    if not isinstance(record, dict):
        raise JournalError(f"{path}: line {number} is not a JSON object")
    return record


def read_journal(path: Path, digest: str) -> tuple[dict[str, dict[str, Any]], int]:
    """({row id: row}, byte length of the whole lines) of ``path``; JournalError if it is not ours or not ``digest``'s."""
    data = path.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]  # a torn last line (the client died mid-write) is not a row
    lines = whole.splitlines()
    if not lines:
        raise JournalError(f"{path}: empty; not a journal this command wrote")
    header = _parse(path, 1, lines[0])
    if header.get("kind") != KIND:
        raise JournalError(f"{path}: not a matrix journal (no {KIND} header); choose another --out")
    if header.get("spec") != digest:
        raise JournalError(f"{path}: written for another spec ({header.get('spec')}, this one is {digest}); "
                           "choose another --out")
    rows: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(lines[1:], start=2):
        row = _parse(path, number, line)
        key = row.get("id")
        if not isinstance(key, str) or key in rows:
            raise JournalError(f"{path}: line {number} has no id or repeats one")
        rows[key] = row
    return rows, len(whole)


class Journal:
    """An open journal: ``append`` writes a row unless its id is already in."""

    def __init__(self, path: Path, rows: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self.rows = rows

    @classmethod
    def check(cls, path: Path, digest: str, resume: bool) -> None:
        """Refuse before anything is written: an existing journal without ``resume``, or one not ours."""
        if path.exists() and not resume:
            raise JournalError(f"{path}: exists; pass --resume to finish that run, or choose another --out")
        if path.exists():
            read_journal(path, digest)

    @classmethod
    def open(cls, path: Path, digest: str, resume: bool) -> Journal:
        """Create the journal with its header, or (``resume``) read it and cut a torn last line off."""
        cls.check(path, digest, resume)
        if path.exists():
            rows, length = read_journal(path, digest)
            if path.stat().st_size != length:
                os.truncate(path, length)
            return cls(path, rows)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {"kind": KIND, "spec": digest, "created": dt.datetime.now(dt.timezone.utc).isoformat()}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)  # never over someone's file
        try:
            os.write(fd, _line(header))
            os.fsync(fd)
        finally:
            os.close(fd)
        return cls(path, {})

    def append(self, row: Mapping[str, Any]) -> bool:
        """Write ``row`` as one line (one write, then fsync); False when its id is already counted."""
        key = str(row["id"])
        if key in self.rows:
            return False
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, _line(row))
            os.fsync(fd)
        finally:
            os.close(fd)
        self.rows[key] = dict(row)
        return True
