"""Keeping a training job's nodes close: the Kueue ``Topology`` of each training pool's instance
type, whether the pool's flavor names it, and how large a job the pool runs.

EC2 publishes 3 network layers for most types and 4 for p6-b200/p6-b300
(``DescribeInstanceTopology``); the AWS cloud controller manager, which EKS runs in its control
plane, labels every node ``topology.k8s.aws/network-node-layer-1..N`` at registration, so gpufleet
renders nothing to label nodes. A ``Topology`` lists those layers from the top down, then
``kubernetes.io/hostname``.

A flavor that names a Topology makes Kueue place by topology, and Kueue counts for that only the
allocatable capacity of nodes that are Ready (TAS docs, "Capacity calculation"): a job stays
suspended until the nodes it needs exist, so the Cluster Autoscaler, which acts on pending pods,
never adds them. A pool's flavor therefore names its Topology only when the pool keeps the nodes
of its largest job (``nodes.min >= `` the job's nodes); otherwise the reason says why not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gpufleet.catalog import Catalog
from gpufleet.model.kubernetes import KubernetesPlan, TopologyPlan
from gpufleet.model.plan import LaunchedNodes, Pool

HOSTNAME = "kubernetes.io/hostname"


@dataclass(frozen=True)
class PoolTopology:
    """How close a pool's jobs can be kept, and how large they are."""

    pool: str
    job_nodes: int
    """The largest job's nodes: the stack's ``jobs.max_nodes``, else ``nodes.max``."""
    levels: tuple[str, ...]
    """The pool's node labels Kueue can place by, widest first (empty where EC2 publishes none)."""
    topology: TopologyPlan | None
    """The Topology its flavor names; None where placing by topology would strand its jobs."""
    within: str | None
    """The level a job must stay within (``jobs.within``); None: as close as Kueue can."""
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "job_nodes": self.job_nodes,
            "levels": list(self.levels),
            "topology": self.topology.name if self.topology else None,
            "within": self.within,
            "reason": self.reason,
        }


def topology_name(depth: int) -> str:
    return f"ec2-{depth}-network-layers"


def levels_of(pool: Pool, catalog: Catalog) -> tuple[str, ...]:
    """The network-layer labels EC2 gives the pool's instance type, then the node's own name."""
    if not isinstance(pool.source, LaunchedNodes):
        return ()
    layers = catalog.fabric.topology.levels(pool.source.instance.name)
    return (*layers, HOSTNAME) if layers else ()


def pool_topology(pool: Pool, catalog: Catalog) -> PoolTopology | None:
    """The placement decision of a training pool; None for other workload classes."""
    if pool.workload != "training":
        return None
    job_nodes = pool.jobs.max_nodes if pool.jobs else pool.nodes.max
    within = pool.jobs.within if pool.jobs else None
    levels = levels_of(pool, catalog)
    labelled_by = catalog.fabric.topology.labelled_by
    if not levels:
        why = f"{pool.node_kind}: no network layers EC2 publishes for it, so no Kueue Topology"
        return PoolTopology(pool.name, job_nodes, (), None, within, why)
    if pool.nodes.min < job_nodes:
        why = (
            f"its flavor names no Topology: the pool scales from {pool.nodes.min} node(s) and a job takes {job_nodes}, "
            "while Kueue places by topology only on nodes that are Ready, leaving the job suspended and the autoscaler "
            "without a pending pod; keep nodes.min at the job's size to place by topology"
        )
        return PoolTopology(pool.name, job_nodes, levels, None, within, why)
    topology = TopologyPlan(topology_name(len(levels) - 1), levels)
    why = (
        f"{len(levels) - 1} network layers on {pool.node_kind}, labelled by {labelled_by}; the pool keeps "
        f"{pool.nodes.min} node(s), enough for its largest job ({job_nodes})"
    )
    return PoolTopology(pool.name, job_nodes, levels, topology, within, why)


@dataclass(frozen=True)
class PlacementPlan:
    pools: dict[str, PoolTopology]

    @property
    def topologies(self) -> tuple[TopologyPlan, ...]:
        """Each Topology a flavor names, once."""
        found = {choice.topology.name: choice.topology for choice in self.pools.values() if choice.topology}
        return tuple(found[name] for name in sorted(found))

    def topology_of(self, pool: str) -> str | None:
        choice = self.pools.get(pool)
        return choice.topology.name if choice and choice.topology else None

    def summary(self) -> dict[str, Any]:
        return {
            "topologies": {topology.name: list(topology.levels) for topology in self.topologies},
            "pools": {name: choice.as_json() for name, choice in sorted(self.pools.items())},
        }


def placement_plan(pools: tuple[Pool, ...], catalog: Catalog) -> PlacementPlan:
    found = {}
    for pool in pools:
        choice = pool_topology(pool, catalog)
        if choice is not None:
            found[pool.name] = choice
    return PlacementPlan(found)


def with_topologies(kubernetes: KubernetesPlan, placement: PlacementPlan) -> KubernetesPlan:
    """The Kubernetes plan whose flavors name their pool's Topology, and whose queues carry the Topologies."""
    queues = kubernetes.queues
    if queues is None or not placement.topologies:
        return kubernetes
    flavors = tuple(replace(flavor, topology=placement.topology_of(flavor.pool)) for flavor in queues.flavors)
    return replace(kubernetes, queues=replace(queues, flavors=flavors, topologies=placement.topologies))
