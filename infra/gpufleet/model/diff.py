"""What two resolved plans differ in, pool by pool and tier by tier, and on the Kubernetes side
flavor by flavor, queue by queue (quotas, preemption), release by release (Helm values).

Reviewers compare environments (what does prod have that staging lacks?) by what gpufleet
will build, not by how the files are written: two stacks that spell a pool differently but
resolve to the same GPUs, fabric, placement and capacity are equal here, and a change the
resolver derives (a placement group appearing because a pool went multi-node) shows up even
though no such line is in either file. Each side is first reduced to its facts (``model.facts``,
the projection ``validate --json`` and the tables print); the facts are then compared field by
field, so a fact added there is compared here without another edit.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Literal, get_args

from gpufleet.findings import Location
from gpufleet.model.cost import Bound
from gpufleet.model.facts import Facts, cents, data
from gpufleet.model.plan import FleetPlan

Scope = Literal[
    "cluster",
    "network",
    "fleet",
    "pool",
    "storage",
    "mig",
    "flavor",
    "queue",
    "release",
    "storage-class",
    "autoscaling",
    "kubernetes",
]
Kind = Literal["added", "removed", "changed"]


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
            "left": data(self.left),
            "right": data(self.right),
            "left_location": str(self.left_location) if self.left_location else None,
            "right_location": str(self.right_location) if self.right_location else None,
        }


def compare(left: FleetPlan, right: FleetPlan) -> list[Difference]:
    """Every fact in which ``right`` differs from ``left``, in a stable order."""
    differences: list[Difference] = []
    for scope, entries in zip(_SCOPES, zip(_entries(left), _entries(right), strict=True), strict=True):
        differences += _compare_named(scope, *entries)
    return differences


@dataclass(frozen=True)
class CostChange:
    """What the right stack costs per 30 days against the left, at the floor and the ceiling.

    Only what has a price on both sides adds up; ``unpriced`` names, per side, what the totals
    leave out, so a change that only moves a pool into or out of the price table says so."""

    left: dict[str, Decimal]
    right: dict[str, Decimal]
    unpriced_left: tuple[str, ...]
    unpriced_right: tuple[str, ...]
    as_of: str
    spot_snapshot: bool

    @property
    def change(self) -> dict[str, Decimal]:
        return {bound: self.right[bound] - self.left[bound] for bound in BOUNDS}

    @property
    def changed(self) -> bool:
        return any(self.change.values()) or self.unpriced_left != self.unpriced_right

    def as_json(self) -> dict[str, Any]:
        return {
            "usd_per_30_days": {
                bound: {"left": str(self.left[bound]), "right": str(self.right[bound]), "change": str(self.change[bound])}
                for bound in BOUNDS
            },
            "unpriced": {"left": list(self.unpriced_left), "right": list(self.unpriced_right)},
            "prices_as_of": self.as_of,
            "includes_spot_snapshot": self.spot_snapshot,
        }


BOUNDS: tuple[Bound, ...] = ("floor", "ceiling")


def cost_change(left: FleetPlan, right: FleetPlan) -> CostChange:
    """The change in cost between two plans, each priced when it was resolved."""
    return CostChange(
        left={bound: cents(left.cost.per_30_days(bound)) for bound in BOUNDS},
        right={bound: cents(right.cost.per_30_days(bound)) for bound in BOUNDS},
        unpriced_left=left.cost.excluded,
        unpriced_right=right.cost.excluded,
        as_of=right.cost.as_of.isoformat(),
        spot_snapshot=left.cost.snapshot or right.cost.snapshot,
    )


_SCOPES: tuple[Scope, ...] = get_args(Scope)
"""Each scope in the order ``diff`` reports it; ``_entries`` gives their facts in this order."""


def _entries(plan: FleetPlan) -> tuple[dict[str, Entry], ...]:
    """Each scope's facts by name, in ``_SCOPES`` order: the plan's own, then its Kubernetes side's."""
    network = plan.network_facts()
    kubernetes = plan.kubernetes
    return (
        {"": Entry(plan.cluster_facts(), plan.cluster.location)},
        {"": Entry(network)} if network else {},
        {"": Entry(plan.fleet_facts())},
        {facts.pool: Entry(facts, pool.location) for pool, facts in zip(plan.pools, plan.pool_facts(), strict=True)},
        {tier.name: Entry(facts, tier.location) for tier, facts in zip(plan.storage, plan.tier_facts(), strict=True)},
        {setup.name: Entry(setup.facts(), setup.location) for setup in plan.mig_plans},
        _named(kubernetes.flavor_facts()),
        _named(kubernetes.queue_facts()),
        _named(kubernetes.release_facts()),
        _named(kubernetes.storage_class_facts()),
        _named(kubernetes.autoscaled_group_facts()),
        {"": Entry(kubernetes.cluster_facts())},
    )


def _named(facts: dict[str, Any]) -> dict[str, Entry]:
    return {name: Entry(record) for name, record in facts.items()}


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
    """Field by field (``compare=False`` fields apart); a mapping's entries one by one, by key."""
    where = {"left_location": left.location, "right_location": right.location}
    before, after = left.facts.compared(), right.facts.compared()
    order = {f.name: index for index, f in enumerate(fields(left.facts))}
    paths = [*before, *(path for path in after if path not in before)]
    return [
        Difference("changed", scope, name, path, before.get(path), after.get(path), **where)
        for path in sorted(paths, key=lambda path: order[path.split(".", 1)[0]])
        if before.get(path) != after.get(path)
    ]
