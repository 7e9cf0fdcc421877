"""The replacement gate: what an edit of a production stack may not replace unless the stack says so.

A training pool's node group (its nodes, mid-run), the subnet it sits in (which takes the
group with it) and a retained storage tier (its data) are the replacements that cost a job or
a dataset. Each one found is a ``Replacement`` naming the pool or tier, what is replaced and
the provider fact that forces it; ``may_replace`` (the stack's field, or ``gpufleet check
--allow-replace``) lists what an edit is allowed to replace.

A capacity block's pool is apart: EKS wants its node group at desired size 0 before any update,
so an edit that rolls or replaces its nodes while the block runs is a ``BlockRoll``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gpufleet.catalog.impact import ImpactFacts
from gpufleet.impact.classify import ORDER, ResourceImpact
from gpufleet.model.plan import FleetPlan, LaunchedNodes

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SUBNET = "aws:ec2/subnet:Subnet"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
WORKLOAD_LABEL = "labels.gpufleet.io/workload"


@dataclass(frozen=True)
class Replacement:
    kind: str
    """``pool`` or ``storage tier``: what the stack names, and what ``may_replace`` lists."""
    name: str
    resource: ResourceImpact
    what: str

    @property
    def message(self) -> str:
        resource = self.resource
        worst = max(resource.inputs, key=lambda change: ORDER[change.impact], default=None)
        if resource.change == "changed" and worst is not None:
            why = f"{worst.path}: {worst.why.split('; ')[0]} [{worst.src or worst.source}]"
        else:
            why = resource.why.split("; ")[0]
        blocked = "; it is protected, so pulumi up fails there" if resource.impact == "blocked" else ""
        return (
            f"{self.kind} {self.name}: this edit {self.what} ({resource.type} {resource.name}, {why}){blocked}. "
            f"In production that must be meant: add `may_replace: [{self.name}]` to the stack (or run "
            f"`gpufleet check --allow-replace {self.name}`), or undo the edit."
        )


def _was_training(impact: ResourceImpact) -> bool:
    """A pool that trained before the edit (its node group's workload label said so)."""
    return any(change.path == WORKLOAD_LABEL and change.before == "training" for change in impact.inputs)


def replacements(
    impacts: Iterable[ResourceImpact],
    plan: FleetPlan,
    subnets_of: Mapping[str, tuple[str, ...]],
    allowed: Iterable[str] = (),
) -> list[Replacement]:
    """What ``impacts`` replace that the gate guards and ``allowed`` does not name.

    ``subnets_of``: each pool's node-group subnets by URN (the engine's property dependencies).
    """
    allowed = set(allowed)
    training = {pool.name for pool in plan.pools if pool.workload == "training"}
    training_subnets = {urn: pool for pool, urns in subnets_of.items() if pool in training for urn in urns}
    found = []
    for impact in impacts:
        destroyed = ORDER[impact.impact] >= ORDER["replace"] or impact.change == "deleted"
        if not destroyed:
            continue
        if impact.type == NODE_GROUP and impact.owner_kind == "pool" and (impact.owner_name in training or _was_training(impact)):
            found.append(Replacement("pool", impact.owner_name, impact, "replaces its node group: every node is drained"))
        elif impact.type == SUBNET and impact.urn in training_subnets and impact.change != "deleted":
            pool = training_subnets[impact.urn]
            found.append(Replacement("pool", pool, impact, "replaces the subnet its nodes sit in"))
        elif impact.owner_kind == "storage tier" and impact.retained:
            found.append(
                Replacement(
                    "storage tier", impact.owner_name, impact, "replaces (or deletes) a retained resource that holds its data"
                )
            )
    return [replacement for replacement in found if replacement.name not in allowed]


@dataclass(frozen=True)
class BlockRoll:
    """An edit that recycles the nodes of a pool running on a capacity block."""

    pool: str
    reservation: str
    resource: ResourceImpact
    cause: str
    """What changes: the launch template's inputs that make a new version, or the node group's own."""
    quote: str
    source: str

    @property
    def message(self) -> str:
        what = "replaces its node group" if ORDER[self.resource.impact] >= ORDER["replace"] else "rolls its nodes"
        return (
            f"pool {self.pool} runs on capacity block {self.reservation}: this edit {what} ({self.cause}). "
            f'EKS: "{self.quote}" [{self.source}] Scale the pool to 0 first (`aws eks update-nodegroup-config '
            f"--scaling-config desiredSize=0`; its running job stops), apply, then raise desired again; or apply "
            f"after the block ends."
        )


def capacity_block_rolls(impacts: Iterable[ResourceImpact], plan: FleetPlan, facts: ImpactFacts) -> list[BlockRoll]:
    """The capacity-block pools of ``plan`` whose node group ``impacts`` roll or replace."""
    blocks = {
        pool.name: pool.source.capacity.reservation_id
        for pool in plan.pools
        if isinstance(pool.source, LaunchedNodes) and pool.source.capacity.type == "capacity-block"
    }
    quoted = facts.node_update.capacity_block
    impacts = tuple(impacts)
    versions = {
        impact.owner_name: [change.path for change in impact.inputs if change.new_version]
        for impact in impacts
        if impact.type == LAUNCH_TEMPLATE and impact.owner_kind == "pool"
    }

    def cause(group: ResourceImpact) -> str:
        if versions.get(group.owner_name) and ORDER[group.impact] < ORDER["replace"]:
            return f"a new launch-template version: {', '.join(versions[group.owner_name][:3])}"
        return f"{group.name}: {', '.join(change.path for change in group.inputs[:3]) or group.why}"

    return [
        BlockRoll(
            impact.owner_name, blocks[impact.owner_name] or "", impact, cause(impact), quoted.quote, facts.cited(quoted.src)
        )
        for impact in impacts
        if impact.type == NODE_GROUP
        and impact.owner_kind == "pool"
        and impact.owner_name in blocks
        and impact.change != "deleted"
        and ORDER[impact.impact] >= ORDER["rolls_nodes"]
    ]
