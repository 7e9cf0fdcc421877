"""What an edit does to each pool's nodes: how many are recycled, how, and for how long.

A node group rolls (a new launch-template version) or is replaced (a new group first, then the
old one drained and deleted); either way every node it runs is drained once. How EKS does it is
the pool's update strategy (decided in the plan): DEFAULT launches surge nodes first (the
larger of twice the group's zones and maxUnavailable) and then drains ``maxUnavailable`` at a
time; MINIMAL terminates before it launches, one wave per ``maxUnavailable`` nodes, the pool a
node short meanwhile. A capacity block or a reservation sized exactly to the pool cannot surge,
and EKS wants a capacity-block group at desired 0 before a version update: the job stops.

Node counts are the stack's: ``nodes.desired`` (or ``min``) is what runs when the edit lands
unless an autoscaler moved it, ``nodes.max`` the most it can be. GPU-hours disrupted are each
recycled node's GPUs for the drain bound EKS allows before it fails the update (15 minutes per
node): an upper bound on the work interrupted per node, not counting the replacement's boot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gpufleet.catalog import Catalog
from gpufleet.impact.classify import IMPACT_WORDS, ORDER, Impact, ResourceImpact
from gpufleet.model.plan import FleetPlan, LaunchedNodes, Pool
from gpufleet.model.subnets import surge_nodes

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


@dataclass(frozen=True)
class PoolDisruption:
    pool: str
    impact: Impact | None
    """The node group's: ``rolls_nodes``, ``replace``, ``blocked``...; None when the pool is created or deleted."""
    change: str
    """``changed``, ``renamed``, ``created`` or ``deleted``."""
    cause: str
    """What in the rendered resources makes it so (``launch template: imageId``, ``subnetIds``)."""
    strategy: str | None
    how: str
    """How EKS goes about it for this pool."""
    nodes: int
    """Nodes running when the edit lands, by the stack (``nodes.desired``, else ``min``)."""
    nodes_max: int
    gpus_per_node: int
    waves: int
    """Rounds of ``maxUnavailable`` nodes at ``nodes_max``."""
    surge_nodes: int
    gpu_hours: float
    """At ``nodes``: their GPUs for the 15-minute drain bound per node."""
    gpu_hours_max: float
    cannot_surge: str | None
    """Why the pool has no room for a surge node (a capacity block, an exact reservation)."""
    notes: tuple[str, ...]
    sources: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "impact": self.impact,
            "impact_words": IMPACT_WORDS[self.impact] if self.impact else self.change,
            "change": self.change,
            "cause": self.cause,
            "strategy": self.strategy,
            "how": self.how,
            "nodes": self.nodes,
            "nodes_max": self.nodes_max,
            "gpus_per_node": self.gpus_per_node,
            "waves": self.waves,
            "surge_nodes": self.surge_nodes,
            "gpu_hours": self.gpu_hours,
            "gpu_hours_max": self.gpu_hours_max,
            "cannot_surge": self.cannot_surge,
            "notes": list(self.notes),
            "sources": list(self.sources),
        }


def pool_disruptions(
    impacts: Iterable[ResourceImpact], old: FleetPlan, new: FleetPlan, catalog: Catalog
) -> tuple[PoolDisruption, ...]:
    """One line per pool whose nodes an edit touches, by pool name."""
    impacts = tuple(impacts)
    groups = {impact.owner_name: impact for impact in impacts if impact.type == NODE_GROUP and impact.owner_kind == "pool"}
    versions = {
        impact.owner_name: [change.path for change in impact.inputs if change.new_version]
        for impact in impacts
        if impact.type == LAUNCH_TEMPLATE and impact.owner_kind == "pool"
    }
    before = {pool.name: pool for pool in old.pools}
    after = {pool.name: pool for pool in new.pools}
    gone = sorted(set(before) - set(after))
    renamed = {name: gone[0] for name, group in groups.items() if group.change == "renamed" and len(gone) == 1}
    found = []
    for name in sorted((set(groups) | set(after) ^ set(before)) - set(renamed.values())):
        group = groups.get(name)
        pool = after.get(name) or before[name]
        if group is not None and group.change == "changed" and ORDER[group.impact] < ORDER["rolls_nodes"]:
            continue
        was = before.get(renamed.get(name, name), pool)
        found.append(_disruption(name, group, was, name in after, versions.get(name, []), catalog))
    return tuple(found)


def _disruption(
    name: str, group: ResourceImpact | None, was: Pool, exists: bool, new_version: list[str], catalog: Catalog
) -> PoolDisruption:
    facts = catalog.impact.node_update
    cited = catalog.impact.cited
    source = was.source if isinstance(was.source, LaunchedNodes) else None
    nodes, nodes_max, gpus = was.nodes.initial, was.nodes.max, was.gpus_per_node
    hours = facts.drain_minutes / 60
    if group is None:
        change = "created" if exists else "deleted"
        how = "a new node group launches its nodes" if exists else "its node group is deleted: its nodes drain and terminate"
        running = 0 if exists else nodes
        return PoolDisruption(
            name, None, change, change, None, how, running, nodes_max, gpus, 0, 0, running * gpus * hours, 0.0, None, (), ()
        )
    update = source.update if source else None
    strategy = update.strategy if update else None
    max_unavailable = update.max_unavailable if update else 1
    cannot_surge = _cannot_surge(was)
    surge = 0 if cannot_surge or not (update and source) else surge_nodes(update, len(source.zones), catalog)
    sources = [cited(facts.every_node.src), cited(facts.src)]
    notes: list[str] = []
    if group.impact in ("replace", "blocked"):
        worst = max(group.inputs, key=lambda change: ORDER[change.impact], default=None)
        cause = "renamed: a new node group" if group.change == "renamed" else f"node group {worst.path if worst else ''}"
        how = (
            f"a second node group is created first (Pulumi creates before it deletes), then this one's nodes drain "
            f"{max_unavailable} at a time and terminate"
        )
        if cannot_surge:
            notes.append(f"{cannot_surge}: the new group finds no capacity while the old one holds it")
        sources.append(cited(catalog.impact.replaced.src))
    else:
        cause = f"launch template: {', '.join(new_version)}" if new_version else "launch template version"
        if strategy == "DEFAULT":
            how = f"DEFAULT: {surge} surge node(s) launch first, then {max_unavailable} node(s) at a time drain and terminate"
            sources.append(cited(facts.default.src))
        else:
            how = f"MINIMAL: {max_unavailable} node(s) at a time terminate before their replacements launch; the pool runs short meanwhile"
            sources.append(cited(facts.minimal.src))
        if source is not None and source.capacity.type == "capacity-block":
            notes.append(f"{facts.capacity_block.quote} The running job stops.")
            sources.append(cited(facts.capacity_block.src))
    if cannot_surge:
        notes.insert(0, cannot_surge)
    return PoolDisruption(
        pool=name,
        impact=group.impact,
        change=group.change,
        cause=cause,
        strategy=strategy,
        how=how,
        nodes=nodes,
        nodes_max=nodes_max,
        gpus_per_node=gpus,
        waves=math.ceil(nodes_max / max_unavailable) if nodes_max else 0,
        surge_nodes=surge,
        gpu_hours=nodes * gpus * hours,
        gpu_hours_max=nodes_max * gpus * hours,
        cannot_surge=cannot_surge,
        notes=tuple(notes),
        sources=tuple(dict.fromkeys(sources)),
    )


def _cannot_surge(pool: Pool) -> str | None:
    source = pool.source
    if not isinstance(source, LaunchedNodes):
        return None
    capacity = source.capacity
    if capacity.type == "capacity-block":
        return f"capacity block {capacity.reservation_id} holds exactly its instances, so it cannot surge"
    if capacity.type == "reservation" and pool.nodes.min == pool.nodes.max:
        return f"reservation {capacity.reservation_id} is sized exactly to the pool, so it cannot surge"
    return None
