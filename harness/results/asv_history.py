"""The steps `asv publish` detected in a history (regressions.json), with commit hashes instead of revision numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.results.asv_schemas import CHECK_HTML_INDEX, CHECK_REGRESSIONS
from harness.results.jsonfiles import load_json


def _revision_hashes(html_dir: Path) -> dict[int, str]:
    index = html_dir / "index.json"
    if not index.is_file():
        return {}
    data = load_json(index, CHECK_HTML_INDEX, "asv html index.json")
    return {int(rev): str(commit) for rev, commit in (data.get("revision_to_hash") or {}).items()}


def detected_steps(html_dir: Path) -> list[dict[str, Any]]:
    """One record per benchmark (and parameter combination) whose history steps up, largest ratio first.

    asv's step detection runs during `asv publish`; a jump is (revision before, revision after,
    value before, value after), the revision before being None when the two commits are adjacent.
    """
    path = html_dir / "regressions.json"
    if not path.is_file():
        return []
    hashes = _revision_hashes(html_dir)
    records = []
    for entry in load_json(path, CHECK_REGRESSIONS, "asv regressions.json").get("regressions") or []:
        name, _graph, graph_params, _index, last, best, jumps = entry[:7]
        steps = []
        for before_rev, after_rev, before, after in (jump[:4] for jump in jumps or []):
            steps.append({
                "after_commit": hashes.get(after_rev), "before_commit": hashes.get(before_rev)
                if before_rev is not None else None, "before": before, "after": after,
                "ratio": after / before if before else None,
            })
        records.append({"benchmark": name, "environment": graph_params, "last": last, "best": best,
                        "ratio": last / best if best else None, "jumps": steps})
    return sorted(records, key=lambda r: -(r["ratio"] or 0.0))
