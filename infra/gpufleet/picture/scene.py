"""What a picture of the fleet shows, read from the resolved plan and nothing else.

The SVG and the Mermaid diagram both draw this one scene, so they cannot disagree: pools with
their GPUs, node counts, capacity and cost at ``nodes.max``; the zones and VPC they sit in (none
for an existing cluster); the fabrics and placement groups that enclose them; the storage tiers
that feed them, each feed labelled with what one GPU gets against what it needs; and each MIG
layout as the engine placed it. Pool facts come from the pool projection (``PoolFacts``), cost from
``model.cost``, feeds from ``policy.sizing`` (the figures ``gpufleet check`` judges), MIG placements
from the plan: nothing is worked out here a second time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from gpufleet.catalog import Catalog
from gpufleet.model.cost import FleetCost, PoolCost, cents, fleet_cost
from gpufleet.model.facts import PoolFacts
from gpufleet.model.plan import FleetPlan, LaunchedNodes, LocalNvmeTier, LustreTier, MigSetup, Pool, S3Tier, StorageTier
from gpufleet.policy.sizing import PoolFeed, training_feeds

FABRIC_WORDS = {"efa": "EFA", "infiniband": "InfiniBand", "ethernet": "Ethernet"}
CAPACITY_WORDS = {
    "on-demand": "on-demand",
    "spot": "spot",
    "capacity-block": "capacity block",
    "reservation": "reservation",
}
EXISTING = "existing nodes"


def usd(value: Decimal) -> str:
    return f"${cents(value):,}"


@dataclass(frozen=True)
class MigBlock:
    """One GPU instance, in slices: where its memory starts and ends, and its compute share."""

    profile: str
    memory_start: float
    memory_size: float
    compute_start: int
    compute_size: int


@dataclass(frozen=True)
class MigBar:
    """One device layout of a MIG plan: the GPUs it applies to and its instances, to scale."""

    devices: str
    compute_slices: int
    memory_slices: int
    blocks: tuple[MigBlock, ...]
    """Empty: MIG off on these GPUs."""


@dataclass(frozen=True)
class MigCard:
    plan: str
    gpu: str
    bars: tuple[MigBar, ...]


@dataclass(frozen=True)
class PoolCard:
    name: str
    workload: str
    node_kind: str
    """The instance type, or the label selector of existing nodes."""
    launched: bool
    gpu: str | None
    gpus_per_node: int
    nodes_min: int
    nodes_max: int
    gpus_max: int
    capacity: str
    cost: str
    """Cost per hour at ``nodes.max``, or why there is no figure, in words."""
    cost_detail: str
    zones: tuple[str, ...]
    fabric: str | None
    placement: str | None
    """The placement group that encloses the pool, in words; None when it has none."""
    mig: MigCard | None
    time_slicing: int | None

    @property
    def hardware(self) -> str:
        gpus = f" · {self.gpus_per_node} × {self.gpu}" if self.gpu else " · no GPU"
        return f"{self.node_kind}{gpus}"

    @property
    def counts(self) -> str:
        gpus = f" · {self.gpus_max} GPU{'' if self.gpus_max == 1 else 's'} at max" if self.gpu else ""
        return f"nodes {self.nodes_min}-{self.nodes_max}{gpus}"

    @property
    def buying(self) -> str:
        return f"{self.capacity} · {self.cost}"


@dataclass(frozen=True)
class FabricGroup:
    name: str
    kind: str
    """EFA, InfiniBand or Ethernet."""
    pools: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"{self.kind} fabric {self.name}"


@dataclass(frozen=True)
class TierCard:
    name: str
    kind: str
    headline: str
    where: str


@dataclass(frozen=True)
class Feed:
    """A tier feeding a pool; ``label`` says what one GPU gets against what it needs, where known."""

    tier: str
    pool: str
    label: str
    short: bool = False
    """True when the pool gets less than it needs."""


@dataclass(frozen=True)
class Import:
    """A Lustre tier that loads its data from an S3 tier."""

    source: str
    into: str


@dataclass(frozen=True)
class Vpc:
    cidr: str
    region: str
    zones: tuple[str, ...]


@dataclass(frozen=True)
class Scene:
    cluster: str
    source: str
    provider: str
    vpc: Vpc | None
    """None for an existing cluster: gpufleet draws no cloud parts it does not create."""
    pools: tuple[PoolCard, ...]
    """Grouped by fabric (in the stack's fabric order), pools without one last."""
    fabrics: tuple[FabricGroup, ...]
    tiers: tuple[TierCard, ...]
    feeds: tuple[Feed, ...]
    imports: tuple[Import, ...]
    totals: str

    def pool(self, name: str) -> PoolCard:
        return next(card for card in self.pools if card.name == name)


def plan_scene(plan: FleetPlan, catalog: Catalog) -> Scene:
    """The scene of ``plan`` with its cost from the catalog's prices and its feeds at the policy's default read rate."""
    return fleet_scene(plan, fleet_cost(plan, catalog.prices, catalog.mig), training_feeds(plan))


def fleet_scene(plan: FleetPlan, cost: FleetCost, feeds: Sequence[PoolFeed]) -> Scene:
    """The scene of ``plan``; ``cost`` is ``fleet_cost`` of it, ``feeds`` its ``training_feeds``."""
    prices = {pool.name: pool for pool in cost.pools}
    cards = {
        pool.name: _pool_card(pool, facts, prices[pool.name]) for pool, facts in zip(plan.pools, plan.pool_facts(), strict=True)
    }
    groups = tuple(
        FabricGroup(name, FABRIC_WORDS[fabric.kind], tuple(pool.name for pool in plan.pools if pool.fabric_name == name))
        for name, fabric in plan.fabrics.items()
    )
    groups = tuple(group for group in groups if group.pools)
    ordered = [cards[name] for group in groups for name in group.pools]
    ordered += [cards[pool.name] for pool in plan.pools if pool.fabric is None]
    network = plan.network
    region = plan.cluster.region
    vpc = Vpc(str(network.vpc_cidr), region or "", network.zones) if network is not None else None
    return Scene(
        cluster=plan.cluster.name,
        source=plan.source,
        provider=plan.cluster.provider,
        vpc=vpc,
        pools=tuple(ordered),
        fabrics=groups,
        tiers=tuple(_tier_card(tier) for tier in plan.storage),
        feeds=_feeds(plan, feeds),
        imports=tuple(
            Import(tier.import_from, tier.name) for tier in plan.storage if isinstance(tier, LustreTier) and tier.import_from
        ),
        totals=_totals(plan, cost),
    )


def _pool_card(pool: Pool, facts: PoolFacts, price: PoolCost) -> PoolCard:
    source = pool.source
    placement = None
    if isinstance(source, LaunchedNodes):
        chosen = source.placement
        if chosen.existing_group:
            placement = f"placement group {chosen.existing_group} (the reservation's)"
        elif chosen.strategy != "none":
            placement = f"{chosen.strategy} placement group"
    return PoolCard(
        name=facts.pool,
        workload=facts.workload,
        node_kind=facts.instance_type,
        launched=isinstance(source, LaunchedNodes),
        gpu=facts.accelerator,
        gpus_per_node=facts.accelerators_per_node,
        nodes_min=facts.nodes["min"],
        nodes_max=facts.nodes["max"],
        gpus_max=facts.accelerators_max,
        capacity=CAPACITY_WORDS[facts.capacity] if facts.capacity else EXISTING,
        cost=_cost(price),
        cost_detail=price.rate.basis if price.rate else (price.unpriced or ""),
        zones=tuple(facts.zones or ()),
        fabric=pool.fabric_name,
        placement=placement,
        mig=_mig_card(pool.mig) if pool.mig else None,
        time_slicing=pool.time_slicing_replicas,
    )


def _cost(price: PoolCost) -> str:
    ceiling = price.ceiling_per_hour
    if price.rate is None or ceiling is None:
        return "owned, not priced" if price.capacity is None else "not priced"
    if price.rate.paid_regardless:
        return f"{usd(ceiling)}/h, paid at any size"
    return f"{usd(ceiling)}/h at max" + (" (spot snapshot)" if price.rate.snapshot else "")


def _mig_card(setup: MigSetup) -> MigCard:
    geometry = setup.geometry
    bars = []
    for layout, placed in zip(setup.device_layouts, setup.placements, strict=True):
        devices = "every GPU" if layout.devices == "all" else "GPUs " + ",".join(map(str, layout.devices))
        blocks = []
        compute = 0
        for instance in placed:
            profile = geometry.profiles[instance.profile]
            scale = geometry.memory_slices / geometry.placement_units
            blocks.append(
                MigBlock(instance.profile, instance.start * scale, instance.size * scale, compute, profile.compute_slices)
            )
            compute += profile.compute_slices
        bars.append(MigBar(devices, geometry.compute_slices, geometry.memory_slices, tuple(blocks)))
    return MigCard(setup.name, setup.accelerator.name, tuple(bars))


def _tier_card(tier: StorageTier) -> TierCard:
    if isinstance(tier, LustreTier):
        gib = tier.fsx.storage_capacity_gib
        size = f"{gib / 1024:g} TiB" if gib % 1024 == 0 else f"{gib:,} GiB"
        return TierCard(
            tier.name,
            tier.kind,
            f"FSx for Lustre {tier.fsx.deployment_type}, {size}, {tier.throughput_mbs:,.0f} MB/s",
            f"in {tier.subnet.zone}",
        )
    if isinstance(tier, S3Tier):
        size = f", {tier.size_gb:,} GB" if tier.size_gb else ""
        return TierCard(tier.name, tier.kind, f"S3 bucket{size}", "regional")
    assert isinstance(tier, LocalNvmeTier)
    return TierCard(tier.name, tier.kind, "local NVMe of each node", f"at {tier.mount_path}")


def _feeds(plan: FleetPlan, feeds: Sequence[PoolFeed]) -> tuple[Feed, ...]:
    measured = {(feed.tier, feed.pool): feed for feed in feeds}
    found = []
    for tier in plan.storage:
        for pool in plan.pools:
            if not any(mounted.name == tier.name for mounted in pool.storage):
                continue
            feed = measured.get((tier.name, pool.name))
            if feed is not None:
                label = f"{feed.supply_mbs_per_gpu:,.0f} MB/s per GPU, needs {feed.need_mbs_per_gpu:,.0f}"
                found.append(Feed(tier.name, pool.name, label, short=feed.ratio < 1))
            elif isinstance(tier, LocalNvmeTier):
                found.append(Feed(tier.name, pool.name, "node-local"))
            else:
                found.append(Feed(tier.name, pool.name, "mounted"))
    return tuple(found)


def _totals(plan: FleetPlan, cost: FleetCost) -> str:
    gpus = ", ".join(f"{count} {gpu}" for gpu, count in plan.fleet_facts().accelerators_max.items())
    if not any(pool.rate is not None for pool in cost.pools):
        return f"{gpus or 'no'} GPUs at max · not priced"
    priced = f"{usd(cost.per_hour('ceiling'))}/h at max"
    if cost.excluded:
        priced += f" (without {', '.join(cost.excluded)})"
    return f"{gpus or 'no'} GPUs at max · {priced}"
