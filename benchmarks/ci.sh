#!/usr/bin/env bash
# The benchmark job, one script for CI and for people: bash benchmarks/ci.sh MODE [options]
#   install  pip install -c constraints.txt -e ".[dev]" into the active Python, and valgrind (CI runners)
#   change   base ($BENCH_BASE, else origin/main) vs HEAD: asv continuous, validate, the pytest-benchmark gate
#   history  on main: asv run NEW (results in .asv/results, which the caller keeps), then asv publish
#   quick    what .ci/run runs on every submission: asv run --python=same --quick and the quick gates
#   find     bisect one benchmark: bash benchmarks/ci.sh find --range A..B --bench NAME
#   comment  post OUT/summary.md on a pull request: bash benchmarks/ci.sh comment PR [FILE] (needs gh)
# Options after MODE go to `farm-harness bench-ci MODE` (--help lists them). Every mode writes
# OUT/summary.md (a PR comment), OUT/summary.html, OUT/junit.xml and OUT/bench-ci.json (OUT: --out,
# default bench-ci-out). Exit 0 on a pass or on noise, 1 on a confirmed regression or a gate FAIL,
# 2 on a usage error, 4 when a step broke.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  install)
    python -m pip install --quiet -c constraints.txt -e ".[dev]"
    # valgrind for the instruction lane (asv's track_instructions; skipped without it).
    if ! command -v valgrind >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
      sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
      ($sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null) \
        || echo "ci.sh: valgrind could not be installed; the instruction lane is skipped"
    fi
    exit 0
    ;;
  comment)
    body="${3:-bench-ci-out/summary.md}"
    gh pr comment "$2" --edit-last --body-file "$body" 2>/dev/null || gh pr comment "$2" --body-file "$body"
    exit 0
    ;;
esac

status=0
python -m harness bench-ci "$@" || status=$?
if [ "$status" -eq 3 ]; then
  # INCONCLUSIVE: a change beyond the factor that asv's test calls noise, or a ratio interval
  # that straddles the threshold. Reported in the summary, never a failure.
  echo "ci.sh: INCONCLUSIVE is reported, not failed"
  status=0
fi
exit "$status"
