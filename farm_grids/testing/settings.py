"""Hypothesis settings of the store suite: many examples in CI, a few hundred locally, few in a mutation run."""

from __future__ import annotations

import os

from hypothesis import settings

__all__ = ["IN_CI", "IN_MUTATION_RUN", "PROPERTY_SETTINGS", "WINDOW_SETTINGS"]

IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

# The main window properties run >= 2,000 examples in CI; locally a few hundred keep the
# edit-test loop short. Deadlines are off: memmap examples touch the filesystem.
# A mutation run (FARM_MUTATION=1, see TESTING.md) runs the tests once per mutant: few examples each,
# the edge-exact @examples always.
IN_MUTATION_RUN = os.environ.get("FARM_MUTATION", "") == "1"
settings.register_profile("farm-grids-ci", max_examples=2000, deadline=None, print_blob=True)
settings.register_profile("farm-grids-dev", max_examples=200, deadline=None)
settings.register_profile("farm-grids-mutation", max_examples=20, deadline=None, database=None)
WINDOW_SETTINGS = settings.get_profile(
    "farm-grids-mutation" if IN_MUTATION_RUN else "farm-grids-ci" if IN_CI else "farm-grids-dev")
# Secondary properties (add_many and friends) need fewer examples to be convincing.
PROPERTY_SETTINGS = settings(max_examples=10 if IN_MUTATION_RUN else 300 if IN_CI else 100, deadline=None,
                             database=None if IN_MUTATION_RUN else settings.default.database)
