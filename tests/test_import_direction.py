"""Dependencies point one way, reports -> harness -> farm_grids: an AST and string scan of every module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("farm_grids", "harness", "reports")
# package -> the packages it must never import (directly, relatively or through importlib by name)
FORBIDDEN = {"farm_grids": {"harness", "reports"}, "harness": {"reports"}, "reports": set()}
# importlib.import_module("reports"), __import__("reports.cli"), find_spec('reports') ... as text
BY_NAME = re.compile(r"""(?:import_module|__import__|find_spec)\(\s*(?:name\s*=\s*)?["']([A-Za-z_][\w.]*)""")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_packages(source: str, module: str, is_package: bool = False) -> set[str]:
    """Top-level packages ``module``'s source imports: import statements (relative ones resolved),
    string-named imports through importlib or __import__ (as calls or as text)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                anchor = base[: len(base) - (node.level - 1)] or [module.split(".")[0]]
                found.add(anchor[0])
            elif node.module:
                found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("import_module", "__import__", "find_spec") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value.split(".")[0])
    found.update(match.split(".")[0] for match in BY_NAME.findall(source))
    return found


def all_modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def test_every_package_has_modules_to_scan() -> None:
    counts = {package: sum(1 for p in all_modules() if p.relative_to(ROOT).parts[0] == package) for package in PACKAGES}
    assert all(count >= 5 for count in counts.values()), counts


@pytest.mark.parametrize("path", all_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_against_the_direction(path: Path) -> None:
    package = path.relative_to(ROOT).parts[0]
    imported = imported_packages(path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py")
    assert not imported & FORBIDDEN[package], f"{path.relative_to(ROOT)} imports {sorted(imported & FORBIDDEN[package])}"


@pytest.mark.parametrize(("source", "expected"), [
    ("import reports\n", "reports"),
    ("from reports.cli import main\n", "reports"),
    ("import importlib\nimportlib.import_module('reports')\n", "reports"),
    ("from importlib import import_module\nimport_module(name='reports.writer')\n", "reports"),
    ("m = __import__('reports')\n", "reports"),
    ("spec = 'importlib.import_module(\"reports\")'\n", "reports"),
])
def test_the_scan_sees_every_way_of_importing(source: str, expected: str) -> None:
    assert expected in imported_packages(source, "harness.validate")


def test_relative_imports_resolve_to_their_package() -> None:
    assert imported_packages("from . import errors\n", "harness.validate") == {"harness"}
    assert imported_packages("from .. import cli\n", "reports.sub.x") == {"reports"}
