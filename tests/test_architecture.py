"""The architecture holds: pyproject's import-linter contracts pass, and each one breaks on the import it forbids.

`lint-imports` sees every import statement, those under TYPE_CHECKING and inside functions too.
It cannot see a module named in a string (importlib, ``__import__``), so a scan here keeps the
package direction (reports -> harness -> farm_grids) for those as well.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("farm_grids", "harness", "reports", "benchmarks")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the packages under ``root``, with ``root``'s pyproject (never a cached graph)."""
    environment = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          env=environment, capture_output=True, text=True, timeout=300)


def test_every_contract_holds() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"Contracts: 8 kept, 0 broken", result.stdout), result.stdout[-2000:]


# what a newcomer might write: {file: text added to it}, and the contract it breaks
VIOLATIONS = {
    "the engine imports the harness": (
        {"farm_grids/windows.py": "import harness\n"}, "packages: reports and the asv suite"),
    "a part of the world reaches for the environment under TYPE_CHECKING": (
        {"farm_grids/agents.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import farm_grids.environment\n"},
        "inside farm_grids only the workload driver"),
    "the store contract imports the registry inside a function": (
        {"farm_grids/stores/contract.py": "def _late():\n    from farm_grids.stores import registry\n"},
        "farm_grids.stores rooms"),
    "a probe imports a command": (
        {"harness/probes/timing.py": "def _late():\n    from harness.commands import validate\n"}, "harness rooms"),
    "one command imports another": (
        {"harness/commands/gate.py": "from harness.commands import clean\n"}, "no command imports another command"),
    "the report renderer imports a command": (
        {"reports/writer.py": "from harness.commands import validate\n"}, "nothing imports a command"),
    "two report modules import each other": (
        {"reports/markdown.py": "import reports.html\n", "reports/html.py": "import reports.markdown\n"},
        "no two sibling modules"),
}


@pytest.fixture(scope="module")
def copied_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("architecture")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize("violation", sorted(VIOLATIONS))
def test_each_contract_breaks_on_what_it_forbids(copied_tree: Path, violation: str) -> None:
    edits, contract = VIOLATIONS[violation]
    originals = {relative: (copied_tree / relative).read_text(encoding="utf-8") for relative in edits}
    try:
        for relative, added in edits.items():
            (copied_tree / relative).write_text(originals[relative] + "\n" + added, encoding="utf-8")
        result = lint_imports(copied_tree)
    finally:
        for relative, text in originals.items():
            (copied_tree / relative).write_text(text, encoding="utf-8")
    assert result.returncode != 0, result.stdout[-2000:]
    broken_section = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken_section, result.stdout[-3000:]  # (a cycle also breaks the sibling contract)


# -- imports by name, which no import graph sees -----------------------------------------------

# package -> the packages it must never name in an importlib call or __import__
FORBIDDEN = {"farm_grids": {"harness", "reports", "benchmarks"}, "harness": {"reports", "benchmarks"},
             "reports": {"benchmarks"}, "benchmarks": {"reports"}}
BY_NAME = re.compile(r"""(?:import_module|__import__|find_spec)\(\s*(?:name\s*=\s*)?["']([A-Za-z_][\w.]*)""")


def named_packages(source: str) -> set[str]:
    """Top-level packages a source names through importlib.import_module, __import__ or find_spec."""
    return {match.split(".")[0] for match in BY_NAME.findall(source)}


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_names_a_package_against_the_direction(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    named = named_packages(path.read_text(encoding="utf-8"))
    assert not named & FORBIDDEN[package], f"{path.relative_to(ROOT)} names {sorted(named & FORBIDDEN[package])}"


@pytest.mark.parametrize("source", [
    "import importlib\nimportlib.import_module('reports')\n",
    "from importlib import import_module\nimport_module(name='reports.writer')\n",
    "m = __import__('reports')\n",
    "spec = 'importlib.util.find_spec(\"reports\")'\n",
])
def test_the_scan_sees_every_way_of_naming_a_package(source: str) -> None:
    assert named_packages(source) == {"reports"}
