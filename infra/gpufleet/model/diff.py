"""What two resolved plans differ in, pool by pool and tier by tier.

Reviewers compare environments (what does prod have that staging lacks?) by what gpufleet
will build, not by how the files are written: two stacks that spell a pool differently but
resolve to the same GPUs, fabric, placement and capacity are equal here, and a change the
resolver derives (a placement group appearing because a pool went multi-node) shows up even
though no such line is in either file. Each side is first reduced to typed facts; the facts
are then compared field by field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields
from typing import Any, Literal

from gpufleet.findings import Location
from gpufleet.model.plan import FleetPlan, MigSetup, Pool, StorageTier

Scope = Literal["cluster", "network", "fleet", "pool", "storage", "mig"]
Kind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class ClusterFacts:
    name: str
    provider: str
    region: str | None
    kubernetes_version: str
    admins: tuple[str, ...]


@dataclass(frozen=True)
class NetworkFacts:
    vpc_cidr: str
    zones: tuple[str, ...]


@dataclass(frozen=True)
class FleetFacts:
    pools: int
    accelerators_max: dict[str, int]
    nodes_max: int


@dataclass(frozen=True)
class PoolFacts:
    workload: str
    instance_type: str
    accelerator: str | None
    accelerators_per_node: int
    nodes_min: int
    nodes_desired: int
    nodes_max: int
    accelerators_max: int
    fabric: str | None
    efa_interfaces: int
    placement: str
    capacity: str
    reservation: str | None
    zones: tuple[str, ...]
    storage: tuple[str, ...]
    mig_config: str | None
    labels: dict[str, str]
    taints: tuple[str, ...]

    @property
    def summary(self) -> str:
        gpus = f", up to {self.accelerators_max} {self.accelerator}" if self.accelerator else ""
        return f"{self.workload}, {self.nodes_min}-{self.nodes_max} x {self.instance_type}{gpus}, {self.capacity}"


@dataclass(frozen=True)
class TierFacts:
    kind: str
    protected: bool
    deployment: str | None
    capacity_gib: int | None
    throughput_per_tib: int | None
    throughput_mbs: float | None
    import_from: str | None
    versioning: bool | None
    mount_path: str | None

    @property
    def summary(self) -> str:
        if self.kind == "fsx-lustre":
            return f"fsx-lustre {self.deployment}, {self.capacity_gib} GiB, {self.throughput_mbs or 0:g} MB/s"
        return self.kind


@dataclass(frozen=True)
class MigFacts:
    accelerator: str
    layouts: dict[str, str]
    demand: tuple[str, ...]

    @property
    def summary(self) -> str:
        return f"{self.accelerator}: " + "; ".join(f"GPUs {devices}: {layout}" for devices, layout in self.layouts.items())


Facts = ClusterFacts | NetworkFacts | FleetFacts | PoolFacts | TierFacts | MigFacts


@dataclass(frozen=True)
class Entry:
    """One side's facts about a pool, tier, MIG plan (or the cluster), and where it is written."""

    facts: Facts
    location: Location | None = None


@dataclass(frozen=True)
class Difference:
    """One fact that differs; ``added``/``removed`` name a whole pool, tier or MIG plan.

    The locations say where each side writes the pool or tier the fact belongs to (None for
    what no file writes, such as the fleet's totals, or for the side that lacks it).
    """

    kind: Kind
    scope: Scope
    name: str
    field: str
    left: Any
    right: Any
    left_location: Location | None = None
    right_location: Location | None = None

    @property
    def path(self) -> str:
        return ".".join(part for part in (self.scope, self.name, self.field) if part)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "scope": self.scope,
            "name": self.name,
            "field": self.field,
            "left": _data(self.left),
            "right": _data(self.right),
            "left_location": str(self.left_location) if self.left_location else None,
            "right_location": str(self.right_location) if self.right_location else None,
        }


def cluster_facts(plan: FleetPlan) -> ClusterFacts:
    cluster = plan.cluster
    return ClusterFacts(cluster.name, cluster.provider, cluster.region, cluster.kubernetes_version, tuple(cluster.admins))


def network_facts(plan: FleetPlan) -> NetworkFacts | None:
    return NetworkFacts(str(plan.network.vpc_cidr), plan.network.zones) if plan.network else None


def fleet_facts(plan: FleetPlan) -> FleetFacts:
    totals: Counter[str] = Counter()
    for pool in plan.pools:
        if pool.accelerator is not None:
            totals[pool.accelerator.name] += pool.gpus_max
    return FleetFacts(len(plan.pools), dict(sorted(totals.items())), sum(pool.nodes.max for pool in plan.pools))


def pool_facts(pool: Pool) -> PoolFacts:
    return PoolFacts(
        workload=pool.workload,
        instance_type=pool.node_kind,
        accelerator=pool.accelerator.name if pool.accelerator else None,
        accelerators_per_node=pool.gpus_per_node,
        nodes_min=pool.nodes.min,
        nodes_desired=pool.nodes.initial,
        nodes_max=pool.nodes.max,
        accelerators_max=pool.gpus_max,
        fabric=pool.fabric.kind if pool.fabric else None,
        efa_interfaces=pool.efa.efa_count if pool.efa else 0,
        placement=pool.placement.strategy,
        capacity=pool.capacity.type,
        reservation=pool.capacity.reservation_id,
        zones=pool.zones,
        storage=tuple(tier.name for tier in pool.storage),
        mig_config=pool.mig.label_value if pool.mig else None,
        labels=dict(pool.labels),
        taints=tuple(f"{taint.key}={taint.value}:{taint.effect}" for taint in pool.taints),
    )


def tier_facts(tier: StorageTier) -> TierFacts:
    return TierFacts(
        kind=tier.kind,
        protected=tier.protected,
        deployment=tier.deployment,
        capacity_gib=tier.fsx_capacity_gib,
        throughput_per_tib=tier.throughput_per_tib,
        throughput_mbs=tier.throughput_mbs,
        import_from=tier.import_from,
        versioning=tier.versioning if tier.kind == "s3" else None,
        mount_path=tier.mount_path,
    )


def mig_facts(setup: MigSetup) -> MigFacts:
    layouts = {
        "all" if entry.devices == "all" else ",".join(map(str, entry.devices)): ", ".join(
            f"{profile}={count}" for profile, count in (entry.layout or {}).items()
        )
        or "MIG off"
        for entry in setup.device_layouts
    }
    demand = tuple(f"{d.name}: {d.replicas} x {d.memory_gib:g} GiB" for d in setup.demand)
    return MigFacts(setup.accelerator.name, layouts, demand)


def compare(left: FleetPlan, right: FleetPlan) -> list[Difference]:
    """Every fact in which ``right`` differs from ``left``, in a stable order."""
    sides = (left, right)
    differences = _compare_named("cluster", *({"": Entry(cluster_facts(plan), plan.cluster.location)} for plan in sides))
    differences += _compare_named("network", *({"": Entry(facts)} if (facts := network_facts(plan)) else {} for plan in sides))
    differences += _compare_named("fleet", *({"": Entry(fleet_facts(plan))} for plan in sides))
    differences += _compare_named("pool", *({p.name: Entry(pool_facts(p), p.location) for p in plan.pools} for plan in sides))
    differences += _compare_named(
        "storage", *({t.name: Entry(tier_facts(t), t.location) for t in plan.storage} for plan in sides)
    )
    differences += _compare_named("mig", *({m.name: Entry(mig_facts(m), m.location) for m in plan.mig_plans} for plan in sides))
    return differences


def _compare_named(scope: Scope, left: dict[str, Entry], right: dict[str, Entry]) -> list[Difference]:
    differences = []
    for name in sorted(set(left) | set(right)):
        before, after = left.get(name), right.get(name)
        if before is None and after is not None:
            differences.append(Difference("added", scope, name, "", None, after.facts, right_location=after.location))
        elif after is None and before is not None:
            differences.append(Difference("removed", scope, name, "", before.facts, None, left_location=before.location))
        elif before is not None and after is not None:
            differences += _compare_facts(scope, name, before, after)
    return differences


def _compare_facts(scope: Scope, name: str, left: Entry, right: Entry) -> list[Difference]:
    differences = []
    where = {"left_location": left.location, "right_location": right.location}
    for field in fields(left.facts):
        before, after = getattr(left.facts, field.name), getattr(right.facts, field.name)
        if isinstance(before, dict) and isinstance(after, dict):
            for key in sorted(set(before) | set(after)):
                if before.get(key) != after.get(key):
                    differences.append(
                        Difference("changed", scope, name, f"{field.name}.{key}", before.get(key), after.get(key), **where)
                    )
        elif before != after:
            differences.append(Difference("changed", scope, name, field.name, before, after, **where))
    return differences


def _data(value: Any) -> Any:
    """A fact as JSON: whole pools and tiers as their fields, tuples as lists."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {key: _data(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_data(item) for item in value]
    return {field.name: _data(getattr(value, field.name)) for field in fields(value)}
