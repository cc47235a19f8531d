"""Evidence for C7 (coverage of memmap structures) and C8 (portability of the storage core)."""

from __future__ import annotations

import ast
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path

import farm_grids.stores
import farm_grids.windows
from farm_grids.stores import MemmapStore
from harness.criteria import CoverageEvidence, PortabilityEvidence
from harness.workloads import WORKLOADS, WorkloadSpec

# Layer names a user might pick that are hostile to some file system (separators, reserved
# device names, non-ASCII, dots, very long): the engine must still produce portable file names.
ODD_GRID_NAMES: tuple[str, ...] = (
    "a/b\\c", "CON", "nul.txt", "ünï cødé", "..", " trailing. ", "x" * 300, "DAMAGE_HEAT", "tab\tname",
)


def coverage_evidence(ran: Iterable[str], registry: Mapping[str, WorkloadSpec] = WORKLOADS) -> CoverageEvidence:
    """Structures measured by the workloads that ran; those of registered workloads that did not
    run (deselected, failed, interrupted) count as skipped.

    A structure no registered workload touches is absent from both sets, so C7 FAILs on it.
    """
    ran = list(ran)
    measured = frozenset(s for name in ran for s in registry[name].structures)
    not_run = set(registry) - set(ran)
    skipped = frozenset(s for name in not_run for s in registry[name].structures) - measured
    return CoverageEvidence(measured=measured, skipped=skipped)


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
# must run on stdlib + numpy alone, an optional backend may need its own library.
OPTIONAL_BACKEND_MODULES: frozenset[str] = frozenset({"zarr/store.py"})


def storage_core_paths() -> list[Path]:
    """The engine's storage core: farm_grids/stores/**/*.py (optional backends aside) and farm_grids/windows.py."""
    stores = Path(farm_grids.stores.__file__).parent
    core = [path for path in sorted(stores.rglob("*.py")) if path.relative_to(stores).as_posix() not in OPTIONAL_BACKEND_MODULES]
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
