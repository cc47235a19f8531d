"""ResourceConfig: initial placement and regrowth of resources."""

from __future__ import annotations

from dataclasses import dataclass

from farm_grids.config.fields import ConfigBlock, require, require_choice

__all__ = ["RESOURCE_DISTRIBUTIONS", "ResourceConfig"]

RESOURCE_DISTRIBUTIONS = ("uniform", "clustered")


@dataclass(frozen=True)
class ResourceConfig(ConfigBlock):
    """Initial placement and regrowth of resources."""

    count: int = 100
    max_amount: float = 10.0
    regen_rate: float = 0.1
    distribution: str = "uniform"
    clusters: int = 8
    cluster_spread: float = 8.0

    def _validate(self) -> None:
        require(self.count >= 0, "count", "a non-negative integer", self.count)
        require(self.max_amount > 0.0, "max_amount", "a positive number", self.max_amount)
        require(self.regen_rate >= 0.0, "regen_rate", "a non-negative number", self.regen_rate)
        require_choice("distribution", self.distribution, RESOURCE_DISTRIBUTIONS)
        require(self.clusters > 0, "clusters", "a positive integer", self.clusters)
        require(self.cluster_spread > 0.0, "cluster_spread", "a positive number", self.cluster_spread)
