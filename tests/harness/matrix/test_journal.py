"""The journal: one line per row id, fsynced; a torn last line is cut on resume; a file not ours is refused."""

from __future__ import annotations

import json

import pytest

from harness.matrix.errors import JournalError
from harness.matrix.journal import Journal, read_journal


def test_rows_are_appended_once_per_id_and_read_back(tmp_path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal.open(path, "spec-a", resume=False)
    assert journal.append({"id": "c1@m", "cell": "c1", "ratio": float("nan")})
    assert not journal.append({"id": "c1@m", "cell": "c1", "ratio": 2.0})  # counted already: not written again
    assert journal.append({"id": "c2@m", "cell": "c2", "ratio": 1.0})
    rows, _ = read_journal(path, "spec-a")
    assert list(rows) == ["c1@m", "c2@m"] and rows["c1@m"]["ratio"] is None  # NaN is written as null
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3


def test_resume_cuts_a_torn_last_line_and_keeps_the_whole_ones(tmp_path) -> None:
    path = tmp_path / "journal.jsonl"
    Journal.open(path, "spec-a", resume=False).append({"id": "c1@m", "cell": "c1"})
    whole = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(b'{"id": "c2@m", "ce')  # the client died mid-write
    journal = Journal.open(path, "spec-a", resume=True)
    assert list(journal.rows) == ["c1@m"] and path.read_bytes() == whole
    assert journal.append({"id": "c2@m", "cell": "c2"})
    assert [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()[1:]] == ["c1@m", "c2@m"]


def test_a_journal_of_another_spec_or_not_ours_is_refused_and_left_alone(tmp_path) -> None:
    path = tmp_path / "journal.jsonl"
    Journal.open(path, "spec-a", resume=False)
    content = path.read_bytes()
    with pytest.raises(JournalError, match="another spec"):
        Journal.open(path, "spec-b", resume=True)
    with pytest.raises(JournalError, match="pass --resume"):
        Journal.open(path, "spec-a", resume=False)
    assert path.read_bytes() == content
    other = tmp_path / "other.jsonl"
    other.write_text('{"rows": []}\n', encoding="utf-8")
    with pytest.raises(JournalError, match="not a matrix journal"):
        Journal.open(other, "spec-a", resume=True)
    assert other.read_text(encoding="utf-8") == '{"rows": []}\n'


def test_a_repeated_id_in_the_file_is_refused(tmp_path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal.open(path, "spec-a", resume=False)
    journal.append({"id": "c1@m", "cell": "c1"})
    with path.open("ab") as handle:
        handle.write(b'{"id": "c1@m", "cell": "c1"}\n')
    with pytest.raises(JournalError, match="repeats"):
        read_journal(path, "spec-a")
