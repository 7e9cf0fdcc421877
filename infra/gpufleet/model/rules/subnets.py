"""Checks on the subnet allocation: pools that cannot get or keep a subnet, and control-plane zones."""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Network

from gpufleet.findings import Severity
from gpufleet.inputs import display_path
from gpufleet.model import subnets
from gpufleet.model.rules.registry import Problems, rule
from gpufleet.model.view import StackView
from gpufleet.stack.record import record_path

AllocationCheck = Callable[[StackView, subnets.Allocation], Problems]


def allocation_rule(rule_id: str, severity: Severity, summary: str, fix: str) -> Callable[[AllocationCheck], AllocationCheck]:
    """A rule over the subnet allocation of an AWS stack with a network; others have none."""

    def register(check: AllocationCheck) -> AllocationCheck:
        @rule(rule_id, severity, summary, fix)
        def on_allocation(view: StackView) -> Problems:
            if view.on_aws and view.spec.network is not None:
                yield from check(view, subnets.allocate(view))

        return check

    return register


def _preview(view: StackView, *options: str) -> str:
    return " ".join(["gpufleet preview", view.loaded.locator.file, *options])


@allocation_rule(
    "GF-SUBNET-002",
    "error",
    "The subnet record holds a pool subnet outside the VPC's pool space (over the zone or public subnets, or outside the VPC).",
    "Restore the record from version control; to give the pool a new subnet (replacing its nodes), "
    "run `gpufleet preview <stack> --replace-subnet <pool>`.",
)
def recorded_blocks_in_pool_space(view: StackView, allocation: subnets.Allocation) -> Problems:
    """gpufleet only ever records blocks of the pool space; any other block was written by hand,
    and taking it would move the pool to a new subnet (every node replaced) without saying so."""
    record, network = view.loaded.record, view.spec.network
    if record is None or network is None:
        return
    space = ", ".join(str(block) for block in allocation.pool_space)
    for name, block in record.record.pool_subnets.items():
        if name in view.regrow or any(block.subnet_of(region) for region in allocation.pool_space):
            continue
        where = "outside the VPC" if not block.overlaps(network.vpc_cidr) else "over the VPC's zone or public subnets"
        yield (
            ("pool_subnets", name),
            (
                f"{block} lies {where}; gpufleet places pool subnets only in the pool space ({space}). "
                f"Restore the record, or accept a new subnet for {name} (it replaces the pool's nodes) with "
                f"`{_preview(view, '--replace-subnet', name)}`"
            ),
            record.locator.location(("pool_subnets", name)),
        )


@allocation_rule(
    "GF-SUBNET-003",
    "error",
    "Two pool subnets in the subnet record overlap.",
    "Restore the record from version control: gpufleet never records two blocks that share addresses.",
)
def recorded_blocks_apart(view: StackView, allocation: subnets.Allocation) -> Problems:
    """Two subnets of one VPC never share addresses; a record that says they do was edited by hand."""
    record = view.loaded.record
    if record is None:
        return
    seen: list[tuple[str, IPv4Network]] = []
    for name, block in record.record.pool_subnets.items():
        clash = next(((other, taken) for other, taken in seen if taken.overlaps(block)), None)
        if clash is not None:
            yield (
                ("pool_subnets", name),
                f"{block} overlaps {clash[0]}'s {clash[1]}; two subnets of one VPC never share addresses",
                record.locator.location(("pool_subnets", name)),
            )
        seen.append((name, block))


@allocation_rule(
    "GF-NET-005",
    "error",
    "A training pool's subnet does not fit in what the VPC's pool space has left.",
    "Lower nodes.max, pick an instance type whose nodes take fewer addresses, or move a pool to another stack.",
)
def pool_subnet_fits(view: StackView, allocation: subnets.Allocation) -> Problems:
    largest = allocation.largest_block
    for pool in allocation.pools:
        if pool.block is not None:
            continue
        need = pool.need
        where = (
            f"the largest block of the pool space is {largest} ({subnets.usable_addresses(largest, view.catalog)} usable)"
            if need.prefix < largest.prefixlen
            else "no free block of that size is left beside the other pools' subnets"
        )
        yield (
            ("node_pools", need.name, "nodes", "max"),
            f"needs a /{need.prefix} for {need.sizing.ips_needed} addresses ({need.sizing.reason}); {where}",
        )


@allocation_rule(
    "GF-NET-006",
    "error",
    "A training pool outgrew the subnet its record keeps.",
    "Lower nodes.max back, or accept a new subnet (it replaces the pool's nodes) with `gpufleet preview <stack> --replace-subnet <pool>`.",
)
def pool_subnet_kept(view: StackView, allocation: subnets.Allocation) -> Problems:
    record = display_path(record_path(view.loaded.path))
    for pool in allocation.pools:
        if pool.outgrown is None:
            continue
        need = pool.need
        yield (
            ("node_pools", need.name, "nodes", "max"),
            (
                f"needs {need.sizing.ips_needed} addresses ({need.sizing.reason}) but its subnet {pool.outgrown} in {record} holds "
                f"{subnets.usable_addresses(pool.outgrown, view.catalog)}; a larger subnet replaces the subnet and every node of the pool. "
                f"To accept that, run `{_preview(view, '--replace-subnet', need.name)}` and commit {record}"
            ),
        )


@allocation_rule(
    "GF-NET-007",
    "info",
    "A zone the cluster was not created with gets node subnets, not control-plane ones.",
    "Nothing to do for nodes; a control plane in the new zone needs a new cluster (EKS keeps a cluster's zones).",
)
def zones_added_to_control_plane(view: StackView, allocation: subnets.Allocation) -> Problems:
    zones = view.spec.network.availability_zones if view.spec.network else ()
    for zone in allocation.added_zones:
        index = zones.index(zone)
        yield (
            ("network", "availability_zones", index),
            (
                f"{zone} gets node subnets, but the cluster's control plane keeps {', '.join(allocation.control_plane_zones)}: "
                "EKS takes new cluster subnets only in the zones the cluster was created with"
            ),
        )


@allocation_rule(
    "GF-NET-008",
    "error",
    "Fewer of the cluster's recorded control-plane zones remain than EKS needs.",
    "Keep the zones the cluster was created with in network.availability_zones.",
)
def control_plane_zones_remain(view: StackView, allocation: subnets.Allocation) -> Problems:
    if not allocation.control_plane_recorded:
        return  # a new cluster: GF-AWS-001 holds the network to EKS's minimum
    kept = [zone for zone in allocation.control_plane_zones if zone in view.zones]
    needed = view.catalog.eks.control_plane.min_zones
    if len(kept) < needed:
        record = display_path(record_path(view.loaded.path))
        yield (
            ("network", "availability_zones"),
            (
                f"the cluster was created in {', '.join(allocation.control_plane_zones)} ({record}); {len(kept)} of them remain "
                f"and EKS needs its subnets in at least {needed} of the zones it was created with"
            ),
        )
