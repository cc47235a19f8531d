"""Trim a `pytest --benchmark-json` file to a few groups and rounds (how tests/harness/data fixtures were made)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path


def trim(document: dict, groups: set[str], max_rounds: int) -> dict:
    """Keep the benchmarks of ``groups``, each with its first ``max_rounds`` rounds and stats recomputed."""
    kept = []
    for bench in document["benchmarks"]:
        if bench.get("group") not in groups:
            continue
        stats = bench["stats"]
        data = stats["data"][:max_rounds]
        stats.update(data=data, rounds=len(data), min=min(data), max=max(data), mean=statistics.fmean(data),
                     median=statistics.median(data), stddev=statistics.stdev(data) if len(data) > 1 else 0.0,
                     total=sum(data), ops=1 / statistics.fmean(data))
        kept.append(bench)
    return {**document, "benchmarks": kept}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--groups", required=True, help="comma-separated benchmark groups to keep")
    parser.add_argument("--max-rounds", type=int, default=60)
    args = parser.parse_args(argv)
    document = json.loads(args.source.read_text(encoding="utf-8"))
    trimmed = trim(document, set(args.groups.split(",")), args.max_rounds)
    if not trimmed["benchmarks"]:
        print(f"no benchmark of groups {args.groups} in {args.source}", file=sys.stderr)
        return 2
    args.target.write_text(json.dumps(trimmed, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
