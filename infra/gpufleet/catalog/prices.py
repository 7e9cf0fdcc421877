"""Typed prices: EC2 $/hour per instance type, region and zone, storage $/GB-month per region.

Figures are ``Decimal`` so a sum of them is exact to the cent. A missing figure is ``None`` or
an absent key, never zero: the cost model reports each gap by name.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from pydantic import Field

from gpufleet.catalog.models import Fact
from gpufleet.catalog.storage import LustreDeployment

Usd = Decimal
ZONE_ID = re.compile(r"[a-z]+[0-9]+-az[0-9]+\Z")


class RegionPrices(Fact):
    """One instance type in one region: on-demand per region, spot per zone id (a snapshot)."""

    on_demand: Usd | None = Field(default=None, gt=0)
    spot: Usd | dict[str, Usd] | None = Field(
        default=None, description="One figure when every zone listed had it, else zone id -> figure."
    )

    def spot_in(self, zone_ids: tuple[str, ...]) -> dict[str, Usd]:
        """Spot figures for these zone ids, or for every zone listed when none are given."""
        if self.spot is None:
            return {}
        if isinstance(self.spot, Decimal):
            return dict.fromkeys(zone_ids or ("every zone",), self.spot)
        return {zone: price for zone, price in self.spot.items() if not zone_ids or zone in zone_ids}


class S3Band(Fact):
    """S3 Standard's price for the stored volume up to ``up_to_gb`` (None: everything above)."""

    up_to_gb: int | None = Field(default=None, gt=0)
    usd_per_gb_month: Usd = Field(gt=0)


class StoragePrices(Fact):
    fsx_lustre: dict[str, dict[LustreDeployment, dict[int, Usd]]] = Field(
        default={}, description="region -> deployment -> per-unit throughput (MB/s/TiB) -> $/GB-month of capacity."
    )
    s3_standard: dict[str, tuple[S3Band, ...]] = Field(
        default={}, description="region -> volume bands in order, the last open-ended."
    )
    sources: tuple[str, ...] = ()


class PriceTable(Fact):
    as_of: date
    sources: dict[str, str]
    compute_sources: tuple[str, ...] = Field(min_length=1)
    instance_types: dict[str, dict[str, RegionPrices]]
    storage: StoragePrices = StoragePrices()

    def region(self, instance_type: str, region: str) -> RegionPrices | None:
        return self.instance_types.get(instance_type, {}).get(region)

    def cited(self) -> tuple[str, ...]:
        return tuple(self.sources[key] for key in (*self.compute_sources, *self.storage.sources))
