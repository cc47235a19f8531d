"""A seeded random sample of mutmut's mutants (names for `mutmut run`), and its tally once run; see TESTING.md."""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
from pathlib import Path

from mutmut.stats import status_by_exit_code  # mutmut's verdict for each exit code

ROOT = Path(__file__).resolve().parents[2]
RECHECKED = ROOT / "mutants" / "recheck.json"


def all_results(mutants: Path) -> dict[str, int | None]:
    """Every mutant's name and last exit code (None before it has run), from mutmut's .meta files."""
    results: dict[str, int | None] = {}
    for meta in sorted(mutants.glob("**/*.py.meta")):
        results.update(json.loads(meta.read_text()).get("exit_code_by_key", {}))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--tally", action="store_true", help="count the sample's verdicts and list its survivors")
    parser.add_argument("--pending", action="store_true", help="only the sample's mutants not yet run (or timed out)")
    args = parser.parse_args()
    results = all_results(ROOT / "mutants")
    if not results:
        print("no mutants: run `mutmut run` once first (it writes mutants/)", file=sys.stderr)
        return 2
    names = sorted(results)
    # The first --size of one seeded shuffle: a larger size extends a smaller sample of the same seed.
    random.Random(args.seed).shuffle(names)
    sample = sorted(names[: args.size])
    if args.pending:
        sample = [name for name in sample if status_by_exit_code[results[name]] in ("not checked", "timeout")]
    if not args.tally:
        print("\n".join(sample))
        return 0
    # A survivor that tests outside mutmut's selection kill (tests/mutation/recheck.py) counts as killed there.
    rechecked = json.loads(RECHECKED.read_text()) if RECHECKED.exists() else {}

    def verdict(name: str) -> str:
        status = status_by_exit_code[results[name]]
        again = rechecked.get(name, {})
        if status in ("survived", "no tests") and again.get("verdict") == "killed":
            return "killed by a test added since" if again.get("added") else "killed outside the selection"
        return status

    verdicts = collections.Counter(verdict(name) for name in sample)
    tally = ", ".join(f"{n} {status}" for status, n in verdicts.most_common())
    print(f"{len(sample)} of {len(names)} mutants (seed {args.seed}): {tally}")
    for name in sample:
        status = verdict(name)
        if status not in ("killed", "caught by type check"):
            print(f"  {status}: {name} {rechecked.get(name, {}).get('by', '')}".rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
