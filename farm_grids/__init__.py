"""farm-grids: dense 2-D world state for agent simulations, in RAM or memory-mapped files."""

from farm_grids.errors import (
    ConfigError,
    ConfigFieldError,
    FarmGridsError,
    GridExistsError,
    GridFileMismatchError,
    GridFileMissingError,
    GridNotFoundError,
    InvalidGridSpecError,
    ReadOnlyGridError,
    StorageDirectoryError,
    StoreClosedError,
    UnknownAgentError,
    UnknownChannelError,
)
from farm_grids.stores import (
    CleanupReport,
    GridInfo,
    GridStore,
    MemmapManager,
    RamStore,
    cleanup_stale,
)
from farm_grids.windows import WindowPlan, plan_windows, read_planned_windows, read_window, read_windows

__version__ = "0.1.0"

__all__ = [
    "CleanupReport",
    "ConfigError",
    "ConfigFieldError",
    "FarmGridsError",
    "GridExistsError",
    "GridFileMismatchError",
    "GridFileMissingError",
    "GridInfo",
    "GridNotFoundError",
    "GridStore",
    "InvalidGridSpecError",
    "MemmapManager",
    "RamStore",
    "ReadOnlyGridError",
    "StorageDirectoryError",
    "StoreClosedError",
    "UnknownAgentError",
    "UnknownChannelError",
    "WindowPlan",
    "cleanup_stale",
    "plan_windows",
    "read_planned_windows",
    "read_window",
    "read_windows",
]
