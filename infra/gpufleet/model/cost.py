"""What a resolved plan costs: per pool, per storage tier, per MIG service and for the whole stack.

Pure figures over the plan and the catalog's price table, exact to the cent: every figure is a
``Decimal`` and only what is shown is rounded (half up). Nothing is ever priced at $0 for want
of a figure: a pool or tier without one says why (``unpriced``) and the totals name what they
leave out.

How each pool pays:
- on-demand: the table's regional figure per running node;
- spot: the table's snapshot figure per running node, the highest among the zones the pool may
  use (its zone ids, or every zone of the region when it names zones, whose ids differ per
  account); a snapshot, labelled as such wherever it shows;
- capacity-block and reservation: the stack's ``capacity.price``, paid whether nodes run or not,
  for ``nodes.max`` instances (the reservation the pool is sized to): floor and ceiling are equal.
A 30-day period is 720 hours; storage's monthly figure is taken as its 30-day cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from gpufleet.catalog.mig import MigGeometry
from gpufleet.catalog.prices import ZONE_ID, PriceTable, S3Band
from gpufleet.findings import Finding, Location, declare
from gpufleet.mig.planner import choose_profile
from gpufleet.model.facts import cents as cents
from gpufleet.model.plan import (
    ExistingNodes,
    FleetPlan,
    LaunchedNodes,
    LocalNvmeTier,
    LustreTier,
    Pool,
    S3Tier,
    StorageTier,
)
from gpufleet.stack.models import Capacity, HourlyPrice, UpfrontPrice

HOURS_PER_30_DAYS = 720
STALE_AFTER_DAYS = 90
Bound = Literal["floor", "ceiling"]

STALE_PRICES = declare(
    "GF-COST-003",
    "warning",
    f"The catalog's price table is older than {STALE_AFTER_DAYS} days: spot moves by the hour, on-demand by the quarter.",
    "Refresh catalog/data/prices.yaml from a new snapshot (scripts/price_table.py).",
)


def money(value: Decimal | None) -> str | None:
    """A figure as JSON shows it: a string of dollars and cents, exact."""
    return None if value is None else str(cents(value))


def exact(value: float) -> Decimal:
    """A dollar figure as the stack wrote it (78.41, not the binary float nearest to it)."""
    return Decimal(repr(value))


@dataclass(frozen=True)
class NodeRate:
    """What one node costs per hour, and where that figure comes from."""

    usd_per_hour: Decimal
    basis: str
    snapshot: bool = False
    paid_regardless: bool = False


@dataclass(frozen=True)
class Unpriced:
    reason: str


def table_rate(prices: PriceTable, instance_type: str, region: str, capacity: str, zones: tuple[str, ...]) -> NodeRate | Unpriced:
    """An on-demand or spot node's figure from the table, or why the table has none."""
    regional = prices.region(instance_type, region)
    if capacity == "on-demand":
        if regional is None or regional.on_demand is None:
            return Unpriced(f"the price table has no on-demand figure for {instance_type} in {region}")
        return NodeRate(regional.on_demand, "on-demand")
    ids = tuple(zone for zone in zones if ZONE_ID.match(zone))
    named = len(ids) == len(zones) and bool(zones)
    figures = regional.spot_in(ids if named else ()) if regional else {}
    if not figures:
        where = ", ".join(ids) if named else region
        return Unpriced(f"the price table has no spot figure for {instance_type} in {where}")
    zone, figure = max(figures.items(), key=lambda item: (item[1], item[0]))
    scope = f"zone {zone}" if len(figures) == 1 else f"highest of {len(figures)} zones ({zone})"
    return NodeRate(figure, f"spot, snapshot {prices.as_of}, {scope}", snapshot=True)


def reserved_rate(capacity: Capacity, nodes_max: int) -> NodeRate | Unpriced:
    """A capacity block's or reservation's figure from the stack, per node of the reservation."""
    price = capacity.price
    if isinstance(price, HourlyPrice):
        return NodeRate(exact(price.hourly_usd), f"{capacity.type}, the stack's price", paid_regardless=True)
    if isinstance(price, UpfrontPrice):
        hourly = exact(price.upfront_usd) / price.hours / nodes_max
        basis = f"{capacity.type}, the stack's ${exact(price.upfront_usd):,} for {price.hours} h, {nodes_max} nodes"
        return NodeRate(hourly, basis, paid_regardless=True)
    return Unpriced(f"{capacity.type} has no price: no public table has one; set capacity.price")


@dataclass(frozen=True)
class SlicePrice:
    """One MIG slice of a pool's GPU: its share of the GPU's price by compute slices."""

    profile: str
    compute_slices: int
    of_slices: int
    usd_per_hour: Decimal


@dataclass(frozen=True)
class ServiceShare:
    """A MIG-served service: the slice each replica holds, and what they cost together."""

    service: str
    profile: str
    replicas: int
    compute_slices: int
    usd_per_replica_hour: Decimal

    @property
    def usd_per_hour(self) -> Decimal:
        return self.usd_per_replica_hour * self.replicas


@dataclass(frozen=True)
class PoolCost:
    name: str
    location: Location
    node_kind: str
    capacity: str | None
    """How the nodes are bought; None for existing nodes, which gpufleet does not buy."""
    nodes_min: int
    nodes_max: int
    nodes_desired: int | None
    gpus_per_node: int
    rate: NodeRate | None
    unpriced: str | None = None
    slices: tuple[SlicePrice, ...] = ()
    services: tuple[ServiceShare, ...] = ()
    time_slicing_replicas: int | None = None

    def per_hour(self, nodes: int) -> Decimal | None:
        """$/hour with ``nodes`` running; reserved capacity costs its whole reservation at any count."""
        if self.rate is None:
            return None
        return self.rate.usd_per_hour * (self.nodes_max if self.rate.paid_regardless else nodes)

    @property
    def floor_per_hour(self) -> Decimal | None:
        return self.per_hour(self.nodes_min)

    @property
    def ceiling_per_hour(self) -> Decimal | None:
        return self.per_hour(self.nodes_max)

    def bound_per_hour(self, bound: Bound) -> Decimal | None:
        return self.floor_per_hour if bound == "floor" else self.ceiling_per_hour

    def per_30_days(self, bound: Bound) -> Decimal | None:
        hourly = self.bound_per_hour(bound)
        return None if hourly is None else hourly * HOURS_PER_30_DAYS

    @property
    def floor_nodes(self) -> int:
        """Nodes paid for at the floor: the reservation's, or ``nodes.min``."""
        return self.nodes_max if self.rate is not None and self.rate.paid_regardless else self.nodes_min

    @property
    def gpu_hours_floor(self) -> int:
        return self.floor_nodes * self.gpus_per_node * HOURS_PER_30_DAYS

    @property
    def gpu_per_hour(self) -> Decimal | None:
        if self.rate is None or not self.gpus_per_node:
            return None
        return self.rate.usd_per_hour / self.gpus_per_node

    @property
    def time_sliced_replica_per_hour(self) -> Decimal | None:
        """A time-sliced lab GPU's price per pod sharing it."""
        gpu = self.gpu_per_hour
        if gpu is None or not self.time_slicing_replicas:
            return None
        return gpu / self.time_slicing_replicas

    def as_json(self) -> dict[str, Any]:
        per_30 = {
            bound: money(hourly * HOURS_PER_30_DAYS) if (hourly := self.bound_per_hour(bound)) is not None else None
            for bound in ("floor", "ceiling")
        }
        return {
            "pool": self.name,
            "instance_type": self.node_kind,
            "capacity": self.capacity,
            "priced": self.rate is not None,
            "unpriced": self.unpriced,
            "basis": self.rate.basis if self.rate else None,
            "snapshot": bool(self.rate and self.rate.snapshot),
            "paid_regardless": bool(self.rate and self.rate.paid_regardless),
            "usd_per_node_hour": str(self.rate.usd_per_hour) if self.rate else None,
            "usd_per_hour": {
                "min": money(self.per_hour(self.nodes_min)),
                "desired": money(self.per_hour(self.nodes_desired)) if self.nodes_desired is not None else None,
                "max": money(self.per_hour(self.nodes_max)),
            },
            "nodes": {"min": self.nodes_min, "desired": self.nodes_desired, "max": self.nodes_max},
            "usd_per_30_days": per_30,
            "gpu_hours_floor_30_days": self.gpu_hours_floor,
            "mig_slices": [
                {
                    "profile": s.profile,
                    "compute_slices": f"{s.compute_slices}/{s.of_slices}",
                    "usd_per_hour": money(s.usd_per_hour),
                }
                for s in self.slices
            ],
            "mig_services": [
                {
                    "service": s.service,
                    "profile": s.profile,
                    "replicas": s.replicas,
                    "usd_per_replica_hour": money(s.usd_per_replica_hour),
                    "usd_per_hour": money(s.usd_per_hour),
                }
                for s in self.services
            ],
            "time_sliced_replica_usd_per_hour": money(self.time_sliced_replica_per_hour),
        }


@dataclass(frozen=True)
class TierCost:
    name: str
    kind: str
    location: Location
    what: str
    per_30_days: Decimal | None
    unpriced: str | None = None

    @property
    def per_hour(self) -> Decimal | None:
        return None if self.per_30_days is None else self.per_30_days / HOURS_PER_30_DAYS

    def as_json(self) -> dict[str, Any]:
        return {
            "tier": self.name,
            "kind": self.kind,
            "what": self.what,
            "priced": self.per_30_days is not None,
            "unpriced": self.unpriced,
            "usd_per_30_days": money(self.per_30_days),
            "usd_per_hour": money(self.per_hour),
        }


@dataclass(frozen=True)
class FleetCost:
    stack: str
    region: str | None
    as_of: date
    sources: tuple[str, ...]
    pools: tuple[PoolCost, ...]
    tiers: tuple[TierCost, ...]

    def pool(self, name: str) -> PoolCost:
        return next(pool for pool in self.pools if pool.name == name)

    def tier(self, name: str) -> TierCost:
        return next(tier for tier in self.tiers if tier.name == name)

    @property
    def storage_per_30_days(self) -> Decimal:
        return sum((tier.per_30_days for tier in self.tiers if tier.per_30_days is not None), Decimal(0))

    def compute_per_hour(self, bound: Bound) -> Decimal:
        return sum((hourly for pool in self.pools if (hourly := pool.bound_per_hour(bound)) is not None), Decimal(0))

    def per_hour(self, bound: Bound) -> Decimal:
        """The stack's $/hour at its floor (every pool at nodes.min) or ceiling (at nodes.max)."""
        return self.compute_per_hour(bound) + self.storage_per_30_days / HOURS_PER_30_DAYS

    def per_30_days(self, bound: Bound) -> Decimal:
        return self.compute_per_hour(bound) * HOURS_PER_30_DAYS + self.storage_per_30_days

    @property
    def gpu_hours_floor(self) -> int:
        return sum(pool.gpu_hours_floor for pool in self.pools)

    @property
    def excluded(self) -> tuple[str, ...]:
        """What the totals leave out for want of a figure, by name."""
        pools = [f"pool {pool.name}" for pool in self.pools if pool.rate is None]
        return (*pools, *(f"storage tier {tier.name}" for tier in self.tiers if tier.per_30_days is None))

    @property
    def snapshot(self) -> bool:
        return any(pool.rate is not None and pool.rate.snapshot for pool in self.pools)

    def costliest(self, bound: Bound) -> PoolCost | None:
        """The pool that costs most at the floor or the ceiling (the first by name on a tie)."""
        priced = sorted((pool for pool in self.pools if pool.bound_per_hour(bound)), key=lambda pool: pool.name)
        return max(priced, key=lambda pool: pool.bound_per_hour(bound) or Decimal(0), default=None)

    def as_json(self) -> dict[str, Any]:
        return {
            "prices": {
                "as_of": self.as_of.isoformat(),
                "sources": list(self.sources),
                "spot": f"snapshot of {self.as_of.isoformat()}: one moment's price, not an average",
            },
            "hours_per_30_days": HOURS_PER_30_DAYS,
            "pools": [pool.as_json() for pool in self.pools],
            "storage": [tier.as_json() for tier in self.tiers],
            "totals": {
                "floor": {"usd_per_hour": money(self.per_hour("floor")), "usd_per_30_days": money(self.per_30_days("floor"))},
                "ceiling": {
                    "usd_per_hour": money(self.per_hour("ceiling")),
                    "usd_per_30_days": money(self.per_30_days("ceiling")),
                },
                "storage_usd_per_30_days": money(self.storage_per_30_days),
                "gpu_hours_floor_30_days": self.gpu_hours_floor,
                "includes_spot_snapshot": self.snapshot,
                "excludes": list(self.excluded),
            },
        }


def fleet_cost(plan: FleetPlan, prices: PriceTable, mig: Mapping[str, MigGeometry]) -> FleetCost:
    """Every pool and storage tier of the plan priced from ``prices`` (and the stack's own figures).

    A resolved plan carries its price against the catalog's table (``plan.cost``); this prices
    it against another table."""
    return price_fleet(plan.stack, plan.cluster.region, plan.pools, plan.storage, prices, mig)


def price_fleet(
    stack: str,
    region: str | None,
    pools: tuple[Pool, ...],
    storage: tuple[StorageTier, ...],
    prices: PriceTable,
    mig: Mapping[str, MigGeometry],
) -> FleetCost:
    """The pools and tiers of a plan being built, priced (``resolve`` keeps it as ``plan.cost``)."""
    return FleetCost(
        stack=stack,
        region=region,
        as_of=prices.as_of,
        sources=prices.cited(),
        pools=tuple(_pool_cost(pool, prices, region, mig) for pool in pools),
        tiers=tuple(_tier_cost(tier, prices, region) for tier in storage if not isinstance(tier, LocalNvmeTier)),
    )


def _pool_cost(pool: Pool, prices: PriceTable, region: str | None, mig: Mapping[str, MigGeometry]) -> PoolCost:
    rate: NodeRate | Unpriced
    source = pool.source
    if isinstance(source, ExistingNodes):
        rate = Unpriced("existing nodes: gpufleet does not launch them, so it has no price for them")
    elif source.capacity.reserved:
        rate = reserved_rate(source.capacity, pool.nodes.max)
    else:
        rate = table_rate(prices, source.instance.name, region or "", source.capacity.type, source.zones)
    priced = rate if isinstance(rate, NodeRate) else None
    slices: tuple[SlicePrice, ...] = ()
    services: tuple[ServiceShare, ...] = ()
    if priced is not None and pool.mig is not None and pool.gpus_per_node and pool.mig.accelerator.name in mig:
        slices, services = _mig_shares(pool, mig[pool.mig.accelerator.name], priced.usd_per_hour / pool.gpus_per_node)
    return PoolCost(
        name=pool.name,
        location=pool.location,
        node_kind=pool.node_kind,
        capacity=source.capacity.type if isinstance(source, LaunchedNodes) else None,
        nodes_min=pool.nodes.min,
        nodes_max=pool.nodes.max,
        nodes_desired=pool.nodes.desired,
        gpus_per_node=pool.gpus_per_node,
        rate=priced,
        unpriced=rate.reason if isinstance(rate, Unpriced) else None,
        slices=slices,
        services=services,
        time_slicing_replicas=pool.time_slicing_replicas,
    )


def _mig_shares(
    pool: Pool, geometry: MigGeometry, gpu_per_hour: Decimal
) -> tuple[tuple[SlicePrice, ...], tuple[ServiceShare, ...]]:
    """Each slice's price by the compute slices it holds of the GPU's; each service's by the
    slice the planner gives its replicas (a demand plan; a fixed layout names no services)."""
    assert pool.mig is not None

    def share(slices: int) -> Decimal:
        return gpu_per_hour * slices / geometry.compute_slices

    profiles = sorted(
        {name for layout in pool.mig.device_layouts for name in (layout.layout or {}) if geometry.profile(name)},
        key=lambda name: (geometry.profiles[name].compute_slices, name),
    )
    slices = tuple(
        SlicePrice(
            name, geometry.profiles[name].compute_slices, geometry.compute_slices, share(geometry.profiles[name].compute_slices)
        )
        for name in profiles
    )
    services = []
    for service in sorted(pool.mig.demand, key=lambda service: service.name):
        profile = choose_profile(geometry, service)
        services.append(
            ServiceShare(service.name, profile.name, service.replicas, profile.compute_slices, share(profile.compute_slices))
        )
    return slices, tuple(services)


def _tier_cost(tier: S3Tier | LustreTier, prices: PriceTable, region: str | None) -> TierCost:
    if isinstance(tier, LustreTier):
        fsx = tier.fsx
        what = f"FSx for Lustre {fsx.deployment_type}, {tier.throughput_per_tib} MB/s/TiB x {fsx.storage_capacity_gib:,} GiB"
        rate = prices.storage.fsx_lustre.get(region or "", {}).get(fsx.deployment_type, {}).get(tier.throughput_per_tib)
        if rate is None:
            return TierCost(tier.name, tier.kind, tier.location, what, None, f"no figure in the price table for {region}")
        return TierCost(tier.name, tier.kind, tier.location, what, rate * fsx.storage_capacity_gib)
    size = tier.size_gb
    what = f"S3 Standard, {size:,} GB" if size is not None else "S3 Standard, size unknown"
    if size is None:
        return TierCost(tier.name, tier.kind, tier.location, what, None, "set size_gb to price it")
    bands = prices.storage.s3_standard.get(region or "")
    if not bands:
        return TierCost(tier.name, tier.kind, tier.location, what, None, f"no figure in the price table for {region}")
    return TierCost(tier.name, tier.kind, tier.location, what, s3_monthly(bands, size))


def s3_monthly(bands: tuple[S3Band, ...], size_gb: int) -> Decimal:
    """S3 Standard's monthly charge for ``size_gb``: each band's GB at that band's rate."""
    total, below = Decimal(0), 0
    for band in bands:
        top = size_gb if band.up_to_gb is None else min(size_gb, band.up_to_gb)
        if top > below:
            total += (top - below) * band.usd_per_gb_month
            below = top
    return total


def stale_prices(prices: PriceTable, today: date) -> Finding | None:
    """A warning naming the table's date once it is more than 90 days before ``today``."""
    age = (today - prices.as_of).days
    if age <= STALE_AFTER_DAYS:
        return None
    return STALE_PRICES.finding(
        (),
        f"the price table is dated {prices.as_of.isoformat()}, {age} days before today ({today.isoformat()}); its figures may have moved",
    )
