"""The hand-made mutations still apply to the code: each one's original text is in its file exactly once.

The script that applies them (tests/mutation/known_mutants.py) runs on demand; this keeps it from
going stale silently when the code it mutates is rewritten.
"""

from __future__ import annotations

import pytest

from .known_mutants import MUTANTS, ROOT, Mutant


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutation_still_applies_and_names_test_files_that_exist(mutant: Mutant) -> None:
    source = (ROOT / mutant.path).read_text()
    assert source.count(mutant.old) == 1, f"{mutant.name}: update SOURCES or the mutant in tests/mutation/known_mutants.py"
    for test in mutant.tests:  # (a test may be inherited from a shared suite: only its file is checked)
        assert (ROOT / test.partition("::")[0]).exists(), test

