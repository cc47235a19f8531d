"""Simulation configuration: frozen, validated dataclasses loaded from YAML/JSON with dot-key overrides."""

from farm_grids.config.observation import OBSERVATION_DTYPES, ObservationConfig, device_problem
from farm_grids.config.resources import RESOURCE_DISTRIBUTIONS, ResourceConfig
from farm_grids.config.simulation import SimulationConfig
from farm_grids.config.storage import (
    ACCESS_MODES,
    FLUSH_POLICIES,
    LAYOUTS,
    MEMMAP_DTYPES,
    MEMMAP_MODES,
    MemmapConfig,
    StorageConfig,
)
from farm_grids.errors import ConfigFieldError

__all__ = [
    "ACCESS_MODES",
    "ConfigFieldError",
    "FLUSH_POLICIES",
    "LAYOUTS",
    "MEMMAP_DTYPES",
    "MEMMAP_MODES",
    "MemmapConfig",
    "OBSERVATION_DTYPES",
    "ObservationConfig",
    "RESOURCE_DISTRIBUTIONS",
    "ResourceConfig",
    "SimulationConfig",
    "StorageConfig",
    "device_problem",
]
