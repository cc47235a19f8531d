"""ObservationConfig: the agents' observation window, field of view, temporal decay and tensor output."""

from __future__ import annotations

import re
from dataclasses import dataclass

from farm_grids.config.fields import ConfigBlock, require, require_choice
from farm_grids.errors import ConfigFieldError, InvalidGridSpecError
from farm_grids.values import validate_gamma

__all__ = ["OBSERVATION_DTYPES", "ObservationConfig", "device_problem"]

OBSERVATION_DTYPES = ("float16", "float32", "float64", "bfloat16")

_DEVICE = re.compile(r"cpu|cuda(?::(\d{1,3}))?")


def device_problem(device: str) -> str | None:
    """Why observations cannot be made on ``device`` here, or None.

    Only devices torch can allocate on in this process: "cpu", and "cuda" / "cuda:N" when
    CUDA is available with more than N devices. "meta" holds no data; "mps", "xla", "hpu"
    and the rest need a build and hardware farm-grids neither has nor tests.
    """
    match = _DEVICE.fullmatch(device)
    if match is None:
        return f"must be 'cpu', 'cuda' or 'cuda:N' (a device observations can be made on), got {device!r}"
    if device == "cpu":
        return None
    # torch is imported only for a CUDA device: a CPU configuration never pays its import.
    import torch

    if not torch.cuda.is_available():
        return f"{device!r} was asked for, but CUDA is not available here"
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        return f"{device!r} was asked for, but there are {torch.cuda.device_count()} CUDA devices"
    return None


@dataclass(frozen=True)
class ObservationConfig(ConfigBlock):
    """Agent observation window, field of view, temporal decay and tensor output settings."""

    radius: int = 6
    fov_radius: int = 6
    gamma_dmg: float = 0.85
    gamma_trail: float = 0.90
    gamma_sig: float = 0.92
    decay_floor: float = 0.0
    # The side of the tiles decay tracks as active; None: the storage tile of a tiled
    # temporal store (its tiles are contiguous), else 64.
    tile_size: int | None = None
    dtype: str = "float32"
    device: str = "cpu"

    def _validate(self) -> None:
        require(self.radius >= 0, "radius", "a non-negative integer", self.radius)
        require(self.fov_radius >= 0, "fov_radius", "a non-negative integer", self.fov_radius)
        for name in ("gamma_dmg", "gamma_trail", "gamma_sig"):
            try:
                validate_gamma(getattr(self, name), name)
            except InvalidGridSpecError:
                raise ConfigFieldError(name, f"must be in (0, 1], got {getattr(self, name)!r}") from None
        require(self.decay_floor >= 0.0, "decay_floor", "a non-negative number", self.decay_floor)
        require(self.tile_size is None or self.tile_size > 0, "tile_size", "a positive integer", self.tile_size)
        require_choice("dtype", self.dtype, OBSERVATION_DTYPES)
        problem = device_problem(self.device)
        if problem is not None:
            raise ConfigFieldError("device", problem)

    @property
    def size(self) -> int:
        """Side S of the square observation window (2R + 1)."""
        return 2 * self.radius + 1
