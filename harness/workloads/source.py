"""Source fingerprints of workloads: the definitions a workload builds on, never the engine it times."""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# The modules that define what a workload does. The engine (farm_grids) is deliberately not
# among them: an engine edit must keep a benchmark's series, a workload edit must start a new one.
WORKLOAD_MODULES: tuple[str, ...] = ("harness.workloads.catalog", "harness.workloads.micro", "harness.workloads.base")
# Top-level names that list every workload: following them would tie each workload to all others.
REGISTRY_NAMES = frozenset({"WORKLOADS", "GATED_WORKLOADS", "build_workload", "__all__"})

Sources = Mapping[str, str]  # module name -> its source text (tests pass edited copies)


@dataclass(frozen=True)
class Definition:
    """One top-level statement of a module that binds ``name``, and the identifiers it mentions."""

    module: str
    name: str
    source: str
    mentions: frozenset[str]


@dataclass(frozen=True)
class ModuleIndex:
    """The top-level definitions of one module and the names it imports from its sibling modules."""

    definitions: dict[str, Definition]
    imports: dict[str, tuple[str, str]]  # local name -> (module, name there)


def module_source(module: str, sources: Sources | None = None) -> str:
    """The text of ``module``: from ``sources`` when given there, else read afresh from its file."""
    if sources is not None and module in sources:
        return sources[module]
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None)
    if origin is None:
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec is not None else None
    if origin is None:
        raise LookupError(f"no source file for module {module}")
    return Path(origin).read_text(encoding="utf-8")


def _mentions(node: ast.AST) -> frozenset[str]:
    names: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.add(child.id)
        elif isinstance(child, ast.Attribute):
            names.add(child.attr)  # self.centres(...) reaches the base class's helper
    return frozenset(names)


def _bound_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return [t.id for t in targets if isinstance(t, ast.Name)]


def _segment(lines: list[str], node: ast.stmt) -> str:
    """The statement's source lines, decorators included (ast.get_source_segment re-splits per call)."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
    return "".join(lines[first - 1:node.end_lineno])


def index_module(module: str, text: str, siblings: Iterable[str]) -> ModuleIndex:
    """Definitions of ``text`` by name, and which of its names come from one of ``siblings``."""
    return _index(module, text, frozenset(siblings))


@functools.lru_cache(maxsize=64)  # every asv class of a suite indexes the same few module texts
def _index(module: str, text: str, known: frozenset[str]) -> ModuleIndex:
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    definitions: dict[str, Definition] = {}
    imports: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in known:
            for alias in node.names:
                imports[alias.asname or alias.name] = (node.module, alias.name)
            continue
        segment = _segment(lines, node)
        for name in _bound_names(node):
            definitions[name] = Definition(module, name, segment, _mentions(node))
    return ModuleIndex(definitions, imports)


def source_closure(start: tuple[str, str], modules: Iterable[str], sources: Sources | None = None,
                   skip: frozenset[str] = REGISTRY_NAMES) -> list[Definition]:
    """Every top-level definition of ``modules`` that ``start`` (module, name) reaches by name, sorted."""
    names = tuple(modules)
    index = {module: index_module(module, module_source(module, sources), names) for module in names}
    found: dict[tuple[str, str], Definition] = {}
    pending = [start]
    while pending:
        module, name = pending.pop()
        if (module, name) in found or name in skip or module not in index:
            continue
        where = index[module]
        if name in where.imports:
            pending.append(where.imports[name])
            continue
        definition = where.definitions.get(name)
        if definition is None:
            continue  # a builtin, a parameter, an attribute of something outside these modules
        found[(module, name)] = definition
        pending.extend((module, mentioned) for mentioned in definition.mentions)
    return [found[key] for key in sorted(found)]


def fingerprint(definitions: Iterable[Definition]) -> str:
    """SHA-256 of the definitions' sources, each headed by its qualified name."""
    digest = hashlib.sha256()
    for definition in definitions:
        digest.update(f"# {definition.module}.{definition.name}\n{definition.source}\n".encode())
    return digest.hexdigest()


def workload_definitions(name: str, sources: Sources | None = None) -> list[Definition]:
    """What workload ``name`` builds on in WORKLOAD_MODULES, starting from its factory class."""
    from harness.workloads.catalog import WORKLOADS  # the registry says which class builds the workload

    if name not in WORKLOADS:
        raise KeyError(f"unknown workload {name!r}")
    factory = WORKLOADS[name].factory
    return source_closure((factory.__module__, factory.__name__), WORKLOAD_MODULES, sources)


def workload_fingerprint(name: str, sources: Sources | None = None) -> str:
    """SHA-256 of the source workload ``name`` runs (its class and what it builds on; not the engine)."""
    return fingerprint(workload_definitions(name, sources))
