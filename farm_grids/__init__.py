"""farm-grids: dense 2-D world state for agent simulations, in RAM or memory-mapped files."""

from farm_grids.errors import (
    BackendCapabilityError,
    ConfigError,
    ConfigFieldError,
    DiskFullError,
    FarmGridsError,
    ForkedStoreError,
    GridExistsError,
    GridFileMismatchError,
    GridFileMissingError,
    GridNotDenseError,
    GridNotFoundError,
    InvalidGridSpecError,
    ObjectStoreError,
    ReadOnlyGridError,
    RequestTooLargeError,
    SnapshotError,
    StorageDirectoryError,
    StoreClosedError,
    StoreLockedError,
    UncleanShutdownWarning,
    UnknownAgentError,
    UnknownChannelError,
    UnsafeManifestError,
)
from farm_grids.config import MemmapConfig, SimulationConfig, StorageConfig
from farm_grids.stores import (
    CleanupReport,
    GridEntry,
    GridInfo,
    GridStore,
    MemmapStore,
    RamStore,
    SparseRamStore,
    StoreInfo,
    backend_names,
    cleanup_stale,
    register_backend,
)
from farm_grids.state import WorldState
from farm_grids.windows import WindowPlan, plan_windows, read_planned_windows, read_window, read_windows

__version__ = "0.1.0"

__all__ = [
    "BackendCapabilityError",
    "CleanupReport",
    "ConfigError",
    "ConfigFieldError",
    "DiskFullError",
    "Environment",
    "FarmGridsError",
    "ForkedStoreError",
    "GridExistsError",
    "GridFileMismatchError",
    "GridFileMissingError",
    "GridEntry",
    "GridInfo",
    "GridNotDenseError",
    "GridNotFoundError",
    "GridStore",
    "InvalidGridSpecError",
    "MemmapConfig",
    "MemmapStore",
    "ObjectStoreError",
    "RamStore",
    "ReadOnlyGridError",
    "RequestTooLargeError",
    "SimulationConfig",
    "SnapshotError",
    "SparseRamStore",
    "StorageConfig",
    "StorageDirectoryError",
    "StoreClosedError",
    "StoreInfo",
    "StoreLockedError",
    "UncleanShutdownWarning",
    "UnknownAgentError",
    "UnknownChannelError",
    "UnsafeManifestError",
    "WindowPlan",
    "WorldState",
    "backend_names",
    "cleanup_stale",
    "plan_windows",
    "read_planned_windows",
    "read_window",
    "read_windows",
    "register_backend",
]


def __getattr__(name: str) -> object:
    # Environment pulls in torch: import it only when asked for. MemmapManager is the
    # memmap backend's deprecated first name.
    if name == "Environment":
        from farm_grids.environment import Environment

        return Environment
    if name == "MemmapManager":
        from farm_grids import stores

        return stores.__getattr__("MemmapManager")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
