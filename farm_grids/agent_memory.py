"""AgentMemories: the per-agent (N, S, S) memories of DYNAMIC channels that are not world-driven."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from farm_grids.errors import InvalidGridSpecError
from farm_grids.limits import check_request

__all__ = ["AgentMemories"]


class AgentMemories:
    """One float32 (N, S, S) array per channel, grown (zero-filled) as agents arrive."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._memory: dict[str, np.ndarray] = {}

    def get(self, channel: str, num_agents: int) -> np.ndarray:
        """The memory of ``channel``, with a row for each of ``num_agents`` agents at least."""
        memory = self._memory.get(channel)
        if memory is None or memory.shape[0] < num_agents:
            check_request(num_agents * self.size * self.size * 4, f"agent memory of channel {channel!r}")
            grown = np.zeros((num_agents, self.size, self.size), dtype=np.float32)
            if memory is not None:
                grown[: memory.shape[0]] = memory
            self._memory[channel] = memory = grown
        return memory

    def export(self) -> dict[str, np.ndarray]:
        """A copy of every memory, by channel."""
        return {name: memory.copy() for name, memory in self._memory.items()}

    def load(self, memories: Mapping[str, np.ndarray], check_channel: Callable[[str], object]) -> None:
        """Replace every memory by a copy of ``memories``, once all are checked (``check_channel`` raises on unknown names)."""
        size = self.size
        for name, memory in memories.items():
            check_channel(name)
            if memory.ndim != 3 or memory.shape[1:] != (size, size) or memory.dtype != np.float32:
                raise InvalidGridSpecError(f"memory of {name!r} must be float32 (N, {size}, {size}), got {memory.shape}")
        self._memory = {name: memory.copy() for name, memory in memories.items()}

    def clear(self) -> None:
        self._memory.clear()
