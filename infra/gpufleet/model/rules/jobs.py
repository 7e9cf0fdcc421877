"""Rules for the largest job a pool runs (``jobs``): its size against the pool and its capacity,
and the topology level it keeps to against what the instance type has. Kueue would find each only
at admission, leaving the job pending."""

from __future__ import annotations

from gpufleet.model.rules.registry import Problems, rule
from gpufleet.model.topology import HOSTNAME
from gpufleet.model.view import StackView


@rule(
    "GF-JOB-001",
    "error",
    "A pool's largest job asks more nodes than the pool or its reserved capacity holds.",
    "Lower jobs.max_nodes, or raise nodes.max (and buy the capacity block or reservation to match).",
)
def job_fits_the_pool(view: StackView) -> Problems:
    for name, pool in view.pools():
        if pool.jobs is None:
            continue
        path = ("node_pools", name, "jobs")
        if pool.workload != "training":
            yield path, f"jobs describes multi-node training jobs; this is a {pool.workload} pool"
            continue
        nodes = pool.jobs.max_nodes
        if nodes > pool.nodes.max:
            yield (*path, "max_nodes"), f"a job of {nodes} nodes never fits: the pool grows to {pool.nodes.max} (nodes.max)"
        held = pool.capacity.instances
        if held is not None and nodes > held:
            yield (
                (*path, "max_nodes"),
                f"a job of {nodes} nodes never fits: the {pool.capacity.type} holds {held} instances (capacity.instances)",
            )


@rule(
    "GF-JOB-002",
    "error",
    "A pool's jobs keep to a topology level its instance type does not have, or that cannot hold the job.",
    "Use a level of the type (`topology.k8s.aws/network-node-layer-N`, N up to its layer count), and keep "
    "nodes.min at the job's size so its flavor places by topology.",
)
def job_level_exists(view: StackView) -> Problems:
    for name, pool in view.pools():
        if pool.jobs is None or pool.jobs.within is None or pool.workload != "training":
            continue
        path = ("node_pools", name, "jobs", "within")
        level, nodes = pool.jobs.within, pool.jobs.max_nodes
        instance = view.instance(pool)
        layers = view.catalog.fabric.topology.levels(instance.name) if instance else ()
        what = instance.name if instance else "existing nodes"
        if level == HOSTNAME and nodes > 1:
            yield path, f"a job of {nodes} nodes cannot stay within one node ({HOSTNAME})"
        elif level != HOSTNAME and level not in layers:
            known = ", ".join(layers) if layers else "none: EC2 publishes no network layers for it"
            yield path, f"{what} has no topology level {level} (its levels: {known})"
        elif pool.nodes.min < nodes:
            yield (
                path,
                f"the pool scales from {pool.nodes.min} node(s) and its jobs take {nodes}: Kueue places by topology only "
                "on Ready nodes, so its flavor names no Topology and no job could keep to a level; set nodes.min to "
                f"{nodes} or leave within out",
            )
