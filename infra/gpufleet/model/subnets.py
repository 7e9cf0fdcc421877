"""The VPC's address plan: zone subnets at their zone's place, pool subnets sized to their pools
and allocated against the subnet record, so that no edit to one pool moves another's subnet.

A training pool's own subnet holds every node the pool may have during a node group update,
each with the addresses it takes: one per ENA-carrying interface of its launch template, and
the pod addresses the VPC CNI holds on the default network card. Its block is the smallest
that holds them. A pool the record names keeps its block while the block still holds the pool;
a new pool takes the first free block of its size, in name order; a removed pool's block is
free again from the next edit on (it stays taken in this one, while its subnet still exists).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from ipaddress import IPv4Network

from gpufleet.catalog import Catalog
from gpufleet.catalog.models import InstanceType
from gpufleet.model import decisions
from gpufleet.model.aws import NodeUpdate, decide_node_update
from gpufleet.model.plan import EfaLayout, NetworkLayout, Subnet, SubnetSizing
from gpufleet.model.view import StackView
from gpufleet.stack.record import SubnetRecord


@dataclass(frozen=True)
class NodeAddresses:
    """The private IPv4 addresses one node takes from its subnet."""

    interfaces: int
    """ENA-carrying interfaces of the launch template (``interface`` and ``efa``), a primary address each."""
    cni_interfaces: int
    """Interfaces the VPC CNI attaches on the default network card beyond those."""
    pod_ips: int
    """Secondary addresses the VPC CNI holds for pods."""
    max_pods: int

    @property
    def total(self) -> int:
        return self.interfaces + self.cni_interfaces + self.pod_ips


def node_addresses(instance: InstanceType, efa: EfaLayout | None, catalog: Catalog) -> NodeAddresses:
    """Worst case, a full node: nodeadm's default maxPods, each pod with an address.

    nodeadm sets maxPods to the default card's interfaces x (addresses per interface - 1),
    plus the host-network pods that claim none. The VPC CNI holds the larger of
    MINIMUM_IP_TARGET and the pods' addresses plus WARM_IP_TARGET, as far as the default
    card's interfaces reach: an EFA-only interface there takes a slot and carries no address.
    """
    facts, cni = catalog.eks.node_addresses, catalog.eks.vpc_cni
    per_interface = instance.ipv4_per_interface - 1
    slots = instance.cards[0].max_interfaces
    layout = efa.interfaces if efa is not None else ()
    carrying = sum(1 for nic in layout if nic.interface_type != "efa-only") or 1
    on_card0 = [nic for nic in layout if nic.card_index == 0]
    card0_carrying = sum(1 for nic in on_card0 if nic.interface_type != "efa-only") or 1
    usable_slots = slots - (len(on_card0) - card0_carrying if on_card0 else 0)
    max_pods = slots * per_interface + facts.host_network_pods
    wanted = max(cni.minimum_ip_target, max_pods - facts.host_network_pods + cni.warm_ip_target)
    pod_ips = min(wanted, usable_slots * per_interface)
    cni_interfaces = max(0, math.ceil(pod_ips / per_interface) - card0_carrying)
    return NodeAddresses(carrying, cni_interfaces, pod_ips, max_pods)


def surge_nodes(update: NodeUpdate, zone_count: int, catalog: Catalog) -> int:
    """EKS's scale-up phase adds the larger of twice the group's zones and maxUnavailable;
    an in-place (MINIMAL) update adds none."""
    if not update.surges:
        return 0
    return max(catalog.eks.node_addresses.surge_nodes_per_zone * zone_count, update.max_unavailable)


def usable_addresses(block: IPv4Network, catalog: Catalog) -> int:
    return block.num_addresses - catalog.eks.node_addresses.reserved_per_subnet


def smallest_prefix(ips: int, catalog: Catalog) -> int:
    """The longest prefix whose block holds ``ips`` besides the addresses AWS keeps (a pool of one
    small node still gets AWS's smallest subnet of its own)."""
    facts = catalog.eks.node_addresses
    return min(facts.smallest_subnet_prefix, 32 - math.ceil(math.log2(ips + facts.reserved_per_subnet)))


@dataclass(frozen=True)
class PoolNeed:
    name: str
    zone: str
    sizing: SubnetSizing
    prefix: int


@dataclass(frozen=True)
class PoolBlock:
    need: PoolNeed
    block: IPv4Network | None
    """None when no free block of the size is left (a rule reports it)."""
    placed: str
    outgrown: IPv4Network | None = None
    """The recorded block the pool no longer fits in, unless the edit accepts its replacement."""


@dataclass(frozen=True)
class Allocation:
    pools: tuple[PoolBlock, ...]
    pool_space: tuple[IPv4Network, ...]
    control_plane_zones: tuple[str, ...]
    added_zones: tuple[str, ...]
    """Network zones the cluster was not created with: they get node subnets only."""
    control_plane_recorded: bool
    """False for a stack whose cluster does not exist yet: its control plane takes every zone."""

    def record(self) -> SubnetRecord:
        blocks = {pool.need.name: str(pool.block) for pool in self.pools if pool.block is not None}
        # The record takes CIDRs as text only, as a file writes them.
        return SubnetRecord.model_validate({"control_plane_zones": self.control_plane_zones, "pool_subnets": blocks})

    @property
    def largest_block(self) -> IPv4Network:
        return max(self.pool_space, key=lambda block: block.num_addresses)


def pool_space(vpc: IPv4Network) -> tuple[IPv4Network, ...]:
    """The upper half of the VPC but its last sixteenth (public subnets), as aligned blocks."""
    upper = list(vpc.subnets(new_prefix=vpc.prefixlen + 1))[1]
    public = public_region(vpc)
    return tuple(IPv4Network(block) for block in upper.address_exclude(public)) if upper.overlaps(public) else (upper,)


def public_region(vpc: IPv4Network) -> IPv4Network:
    return list(vpc.subnets(new_prefix=vpc.prefixlen + 4))[-1]


def pool_needs(view: StackView) -> list[PoolNeed]:
    """Each training pool's own subnet: its zone, what it must hold and the block size that does."""
    needs = []
    for name, pool in view.pools():
        instance = view.instance(pool)
        if pool.workload != "training" or instance is None:
            continue
        zones = decisions.pool_zones(view, pool)
        efa = decisions.efa_layout(instance) if decisions.uses_efa(view, pool) else None
        node = node_addresses(instance, efa, view.catalog)
        update = decide_node_update(pool, accelerated=view.accelerator(pool) is not None)
        surge = surge_nodes(update, len(zones), view.catalog)
        reason = (
            f"({pool.nodes.max} nodes + {surge} surge of a {update.strategy} update) x {node.total} addresses per node: "
            f"{node.interfaces} on its ENA interfaces, {node.cni_interfaces} on interfaces the VPC CNI adds, "
            f"{node.pod_ips} for pods (maxPods {node.max_pods} on {instance.name})"
        )
        prefix = smallest_prefix((pool.nodes.max + surge) * node.total, view.catalog)
        sizing = SubnetSizing(
            pool.nodes.max, surge, node.total, usable_addresses(IPv4Network(f"0.0.0.0/{prefix}"), view.catalog), reason
        )
        needs.append(PoolNeed(name, zones[0] if zones else "", sizing, prefix))
    return needs


def allocate(view: StackView) -> Allocation:
    """Shared by the rules (what cannot be placed) and the layout (where each pool goes)."""
    if "subnet-allocation" not in view.memo:
        view.memo["subnet-allocation"] = _allocate(view)
    return view.memo["subnet-allocation"]  # type: ignore[return-value]


def _allocate(view: StackView) -> Allocation:
    network = view.spec.network
    assert network is not None, "allocate runs for stacks with a network only"
    vpc = network.vpc_cidr
    space = pool_space(vpc)
    recorded = view.loaded.record.record if view.loaded.record else SubnetRecord()
    inside = {name: block for name, block in recorded.pool_subnets.items() if any(block.subnet_of(region) for region in space)}
    needs = pool_needs(view)
    # Every recorded block stays taken in this edit, the blocks of removed pools too: their
    # subnets exist until this edit is deployed, and a new subnet cannot overlap them.
    taken = list(inside.values())
    placed: dict[str, PoolBlock] = {}
    waiting: list[tuple[PoolNeed, IPv4Network | None]] = []
    for need in needs:
        block = inside.get(need.name)
        if block is not None and usable_addresses(block, view.catalog) >= need.sizing.ips_needed:
            placed[need.name] = PoolBlock(need, block, f"kept from the subnet record ({block})")
        elif block is not None and need.name not in view.regrow:
            placed[need.name] = PoolBlock(need, block, "the recorded block, which the pool outgrew", outgrown=block)
        else:
            waiting.append((need, block))
    for need, old in waiting:  # name order: the same stack and record always give the same blocks
        block = _first_free(space, need.prefix, taken)
        if block is not None:
            taken.append(block)
        why = (
            f"replaces the outgrown {old}"
            if old is not None
            else "a new pool"
            if need.name not in recorded.pool_subnets
            else "its recorded block lies outside the VPC's pool space"
        )
        placed[need.name] = PoolBlock(need, block, f"first free /{need.prefix} of the pool space: {why}")
    zones = tuple(decisions.zone_slots(view))
    control_plane = recorded.control_plane_zones or zones
    return Allocation(
        pools=tuple(placed[need.name] for need in needs),
        pool_space=space,
        control_plane_zones=control_plane,
        added_zones=tuple(zone for zone in zones if zone not in control_plane),
        control_plane_recorded=bool(recorded.control_plane_zones),
    )


def _first_free(space: tuple[IPv4Network, ...], prefix: int, taken: list[IPv4Network]) -> IPv4Network | None:
    """The lowest aligned block of the size that overlaps nothing taken; past a taken block the
    search jumps to the next aligned start after it, so a fleet of pools stays cheap to place."""
    size = 1 << (32 - prefix)
    spans = [(int(block.network_address), int(block.broadcast_address)) for block in taken]
    for region in space:
        if region.prefixlen > prefix:
            continue
        start, end = int(region.network_address), int(region.broadcast_address)
        while start + size - 1 <= end:
            clash = next((last for first, last in spans if first <= start + size - 1 and start <= last), None)
            if clash is None:
                return IPv4Network((start, prefix))
            start = (clash // size + 1) * size
    return None


def network_layout(view: StackView) -> NetworkLayout | None:
    """Lower half of the VPC: per-zone shared subnets; upper half: the pools' own subnets and,
    in its last sixteenth, the public subnets that hold only NAT gateways."""
    network = view.spec.network
    if network is None or not view.on_aws:
        return None
    vpc = network.vpc_cidr
    halves = list(vpc.subnets(new_prefix=vpc.prefixlen + 1))
    shared_blocks = list(halves[0].subnets(new_prefix=vpc.prefixlen + 4))
    public_blocks = list(public_region(vpc).subnets(new_prefix=vpc.prefixlen + 7))
    slots = decisions.zone_slots(view)
    allocation = allocate(view)
    return NetworkLayout(
        vpc_cidr=vpc,
        zones=view.zones,
        public_subnets=tuple(Subnet(f"public-{zone}", zone, public_blocks[slot]) for zone, slot in slots.items()),
        shared_private_subnets=tuple(Subnet(f"private-{zone}", zone, shared_blocks[slot]) for zone, slot in slots.items()),
        pool_subnets=tuple(
            # A training pool's own subnet holds its nodes only: no load balancer lands there.
            Subnet(
                f"pool-{pool.need.name}",
                pool.need.zone,
                pool.block,
                internal_load_balancers=False,
                sizing=replace(pool.need.sizing, usable=usable_addresses(pool.block, view.catalog)),
                placed=pool.placed,
            )
            for pool in allocation.pools
            if pool.block is not None
        ),
        control_plane_zones=tuple(zone for zone in allocation.control_plane_zones if zone in slots),
        record=allocation.record(),
    )


def record_drift(recorded: SubnetRecord | None, planned: SubnetRecord) -> list[str]:
    """How a committed record differs from the one the stack implies; empty when it is current."""
    if recorded is None:
        return ["the stack has no subnet record yet"]
    drift = []
    if recorded.control_plane_zones != planned.control_plane_zones:
        drift.append(
            f"control-plane zones {', '.join(recorded.control_plane_zones) or 'none'} recorded, {', '.join(planned.control_plane_zones)} planned"
        )
    for name in sorted(recorded.pool_subnets.keys() | planned.pool_subnets.keys()):
        was, now = recorded.pool_subnets.get(name), planned.pool_subnets.get(name)
        if was != now:
            drift.append(f"pool {name}: {was or 'not recorded'} recorded, {now or 'no subnet'} planned")
    return drift
