"""C8, portability: the storage core imports only stdlib and numpy, and every file name the engine makes is portable."""

from __future__ import annotations

import ast
import platform
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import farm_grids.stores
import farm_grids.windows
from farm_grids.stores import MemmapStore
from harness.acceptance.criterion_rows import bool_row, not_measured
from harness.verdicts import Criterion

ID = "C8"
NAME = "cross-platform"
# Layer names a user might pick that are hostile to some file system (separators, reserved
# device names, non-ASCII, dots, very long): the engine must still produce portable file names.
ODD_GRID_NAMES: tuple[str, ...] = (
    "a/b\\c", "CON", "nul.txt", "ünï cødé", "..", " trailing. ", "x" * 300, "DAMAGE_HEAT", "tab\tname",
)
ALLOWED_STORAGE_IMPORTS: frozenset[str] = frozenset(sys.stdlib_module_names) | {"numpy", "farm_grids", "__future__"}
# Portable on Windows, macOS and Linux: no separators, no reserved characters, no device names.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def is_sanitised_file_name(name: str) -> bool:
    """True if ``name`` is a single portable file name component."""
    stem = name.split(".")[0].upper()
    return bool(_SAFE_NAME.match(name)) and not name.endswith(".") and stem not in _WINDOWS_DEVICES


@dataclass(frozen=True)
class PortabilityEvidence:
    """C8: what the storage core imports and which file names the engine produced."""
    storage_imports: frozenset[str]  # top-level modules imported by the engine's storage core
    file_names: tuple[str, ...]  # names of grid files the engine created (incl. odd layer names)
    platform: str


def judge(evidence: PortabilityEvidence | None) -> Criterion:
    """PASS when the storage core needs only stdlib + numpy and every file name is portable."""
    if evidence is None or not evidence.storage_imports or not evidence.file_names:
        return not_measured(ID, NAME)
    if not evidence.platform:
        return not_measured(ID, NAME, "platform unknown")
    foreign = sorted(evidence.storage_imports - ALLOWED_STORAGE_IMPORTS)
    unsafe = [name for name in evidence.file_names if not is_sanitised_file_name(name)]
    problems = [f"storage core imports {', '.join(foreign)}"] if foreign else []
    problems += [f"unsanitised file names: {', '.join(map(repr, unsafe[:3]))}"] if unsafe else []
    return bool_row(ID, NAME, [f"{p} on {evidence.platform}" for p in problems],
                     f"stdlib + numpy only, {len(evidence.file_names)} names sanitised on {evidence.platform}")


def top_level_imports(source: str) -> frozenset[str]:
    """Top-level module names imported by Python source (relative imports stay inside the package: skipped)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return frozenset(names)


# Backends that come with an extra (``farm-grids[zarr]``) are not the storage core: the core
# must run on stdlib + numpy alone, an optional backend's room may need its own libraries.
OPTIONAL_BACKEND_ROOMS: frozenset[str] = frozenset({"zarr"})


def storage_core_paths() -> list[Path]:
    """The engine's storage core: farm_grids/stores/**/*.py (optional backends' rooms aside) and farm_grids/windows.py."""
    stores = Path(farm_grids.stores.__file__).parent
    core = [path for path in sorted(stores.rglob("*.py")) if path.relative_to(stores).parts[0] not in OPTIONAL_BACKEND_ROOMS]
    return core + [Path(farm_grids.windows.__file__)]


def storage_core_sources(paths: Iterable[Path] | None = None) -> dict[str, str]:
    """{file name: source} of the storage core (or of ``paths``)."""
    chosen = storage_core_paths() if paths is None else list(paths)
    return {str(path): path.read_text(encoding="utf-8") for path in chosen}


def engine_file_names(directory: Path, names: Iterable[str] = ODD_GRID_NAMES) -> tuple[str, ...]:
    """File names the memmap store gives grids called ``names`` (created, recorded, deleted)."""
    store = MemmapStore(directory, simulation_id="c8-check", namespace="env/odd")
    try:
        for name in names:
            store.create(name, (4, 4))
        found = [store.info(name).path for name in store.names()]
        manifest = store.manifest_path
        return tuple(path.name for path in found if path is not None) + (manifest.name,)
    finally:
        store.close_all(delete_files=True)


def portability_evidence(
    sources: Mapping[str, str], file_names: Iterable[str], platform_name: str | None = None
) -> PortabilityEvidence:
    """C8 evidence from source texts (their top-level imports) and engine-made file names."""
    imports: set[str] = set()
    for text in sources.values():
        imports |= top_level_imports(text)
    return PortabilityEvidence(
        storage_imports=frozenset(imports),
        file_names=tuple(file_names),
        platform=platform.platform() if platform_name is None else platform_name,
    )


def collect_portability_evidence(directory: Path) -> PortabilityEvidence:
    """C8 from this installation: the storage core's imports and file names for odd grid names."""
    return portability_evidence(storage_core_sources(), engine_file_names(directory))
