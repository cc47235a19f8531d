"""EnvironmentalGridManager: static world layers (obstacles, terrain cost, visibility), created lazily."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from farm_grids.config import MemmapConfig
from farm_grids.errors import GridNotFoundError, InvalidGridSpecError
from farm_grids.managers.base import GridManager, resolve_store, validate_dimension
from farm_grids.stores import GridStore
from farm_grids.values import checked_array, checked_scalar

__all__ = ["ENVIRONMENTAL_LAYERS", "EnvironmentalGridManager"]

ENVIRONMENTAL_LAYERS: tuple[str, ...] = ("OBSTACLES", "TERRAIN_COST", "VISIBILITY")


def _validate_layer_names(layer_names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(layer_names, str):
        raise InvalidGridSpecError(f"layer_names must be a sequence of names, got the string {layer_names!r}")
    names = tuple(layer_names)
    for name in names:
        if not isinstance(name, str) or not name:
            raise InvalidGridSpecError(f"layer names must be non-empty strings, got {name!r}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidGridSpecError(f"layer names must be unique; repeated: {', '.join(duplicates)}")
    return names


class EnvironmentalGridManager(GridManager):
    """Named static layers in the ``env`` namespace; a layer exists once ``set`` or ``fill`` made it.

    Unset layers cost nothing (no file, no array) and read as zero through the window calls.
    """

    kind = "layer"

    def __init__(
        self,
        height: int,
        width: int,
        *,
        memmap_config: MemmapConfig | None = None,
        simulation_id: str | None = None,
        layer_names: Sequence[str] = ENVIRONMENTAL_LAYERS,
        store: GridStore | None = None,
        storage_options: object = None,
    ) -> None:
        names = _validate_layer_names(layer_names)
        # Arguments are checked before make_store, so a bad call leaves no directory or file.
        validate_dimension(height, "height")
        validate_dimension(width, "width")
        store, owns_store = resolve_store(
            store, memmap_config, "use_for_environmental", namespace="env", simulation_id=simulation_id, storage_options=storage_options
        )
        super().__init__(height, width, store=store, owns_store=owns_store, known_names=names)
        self.layer_names: tuple[str, ...] = names
        # A reopened store may already hold layers: remember their files like new ones.
        for name in names:
            if name in store:
                self._create_grid(name)

    def is_set(self, name: str) -> bool:
        """Whether ``name`` (a known layer) has been given data yet."""
        return self._require_known(name) in self.store

    def set(self, name: str, data: object) -> None:
        """Replace the whole layer with ``data`` (shape ``(height, width)``, finite numbers)."""
        self._require_known(name)
        array = self._validated_layer(name, data)
        # Everything is checked before the grid (and on memmap its file) comes into being.
        if name not in self.store:
            self._create_grid(name)
        self.store.write(name, array)

    def fill(self, name: str, value: float) -> None:
        """Set every cell of the layer to ``value`` (a zero fill leaves a new memmap file sparse)."""
        self._require_known(name)
        fill_value = checked_scalar(value, self.store.default_dtype, f"fill value for layer {name!r}")
        if name in self.store:
            self.store.fill(name, fill_value)
        else:
            self._create_grid(name, fill=fill_value)

    def get(self, name: str) -> np.ndarray:
        """The layer as a plain ndarray sharing memory with the store."""
        self._require_known(name)
        if name not in self.store:
            raise GridNotFoundError(f"layer {name!r} has not been set (call set() or fill() first)")
        return self.store.get(name)

    def _validated_layer(self, name: str, data: object) -> np.ndarray:
        # The store's dtype decides what fits (1e300 is not a float32 layer).
        return checked_array(data, self.store.default_dtype, (self.height, self.width), f"data for layer {name!r}")
