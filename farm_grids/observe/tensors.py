"""Handing observations to torch: the device they are made on, and zero-copy tensors for float32 on the CPU."""

from __future__ import annotations

import numpy as np
import torch

from farm_grids.config import device_problem
from farm_grids.errors import ConfigFieldError, InvalidGridSpecError

__all__ = ["resolve_device", "to_tensor"]

_TORCH_DTYPES = {
    "float16": torch.float16,
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
}


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device observations are made on: the config's rule (``device_problem``), applied again."""
    name = str(device) if isinstance(device, torch.device) else device
    problem = device_problem(name) if isinstance(name, str) else f"must be a device name, got {device!r}"
    if problem is not None:
        # Never fall back to the CPU silently: the caller asked for something else.
        raise ConfigFieldError("observation.device", problem)
    return torch.device(name)


def to_tensor(array: np.ndarray, dtype: str, device: torch.device) -> torch.Tensor:
    """Zero-copy for float32 on the CPU; otherwise convert, via pinned memory for CUDA."""
    try:
        torch_dtype = _TORCH_DTYPES[dtype]
    except KeyError:
        raise InvalidGridSpecError(f"unsupported observation dtype {dtype!r}") from None
    tensor = torch.from_numpy(array)
    if device.type == "cpu":
        return tensor if torch_dtype == torch.float32 else tensor.to(torch_dtype)
    return tensor.pin_memory().to(device, dtype=torch_dtype, non_blocking=True)
