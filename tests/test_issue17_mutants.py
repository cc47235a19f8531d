"""Issue 17's seven mutations still apply to the code: each one's original text is in its file exactly once.

The script that applies them (tests/mutation/issue17_mutants.py) runs on demand; this keeps it from
going stale silently when the code it mutates is rewritten.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("issue17_mutants", ROOT / "tests" / "mutation" / "issue17_mutants.py")
issue17 = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = issue17  # dataclasses look their module up there
_spec.loader.exec_module(issue17)


@pytest.mark.parametrize("mutant", issue17.MUTANTS, ids=lambda m: m.name)
def test_each_mutation_still_applies_and_names_test_files_that_exist(mutant) -> None:
    source = (ROOT / mutant.path).read_text()
    assert source.count(mutant.old) == 1, f"{mutant.name}: update tests/mutation/issue17_mutants.py"
    for test in mutant.tests:  # (a test may be inherited from a shared suite: only its file is checked)
        assert (ROOT / test.partition("::")[0]).exists(), test
