"""Rules about node pools: catalog names, references, fabrics, zones, placement, capacity, MIG."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from gpufleet import mig
from gpufleet.catalog.models import InstanceType
from gpufleet.findings import Severity
from gpufleet.model import decisions
from gpufleet.model.rules.mig import plan_usable
from gpufleet.model.rules.registry import Problems, duplicates, rule, sentence, unknown
from gpufleet.model.view import StackView
from gpufleet.stack.models import RDMA_FABRICS, NodePoolSpec

PoolPath = tuple[str, str]
PoolCheck = Callable[[StackView, PoolPath, str, NodePoolSpec, InstanceType], Problems]


def _known_pools(view: StackView) -> Iterator[tuple[PoolPath, str, NodePoolSpec, InstanceType]]:
    """AWS pools whose instance type the catalog knows: the only ones deeper rules can judge."""
    if not view.on_aws:
        return
    for name, pool in view.pools():
        instance = view.instance(pool)
        if instance is not None:
            yield ("node_pools", name), name, pool, instance


def pool_rule(rule_id: str, severity: Severity, summary: str, fix: str = "") -> Callable[[PoolCheck], PoolCheck]:
    """A rule asked once per AWS pool whose instance type the catalog knows (``_known_pools``)."""

    def register(check: PoolCheck) -> PoolCheck:
        @rule(rule_id, severity, summary, fix)
        def each_pool(view: StackView) -> Problems:
            for path, name, pool, instance in _known_pools(view):
                yield from check(view, path, name, pool, instance)

        return check

    return register


@rule("GF-POOL-001", "error", "An instance type the catalog does not know.", "Use a type from `gpufleet catalog`.")
def instance_type_known(view: StackView) -> Problems:
    for name, pool in view.pools():
        if pool.instance_type is not None and view.on_aws and view.instance(pool) is None:
            yield ("node_pools", name, "instance_type"), unknown("instance type", pool.instance_type, view.catalog.instance_types)


@pool_rule(
    "GF-POOL-002",
    "error",
    "A general-purpose instance type in a pool that needs accelerators.",
    "Use workload: system, or an accelerated type.",
)
def accelerator_unless_system(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    if view.catalog.accelerator_of(instance) is None and pool.workload != "system":
        yield (*path, "instance_type"), f"{instance.name} has no accelerator; only system pools may use it"


@rule("GF-REF-001", "error", "A pool names a fabric the stack does not define.", "Define it under fabrics, or fix the name.")
def fabric_defined(view: StackView) -> Problems:
    for name, pool in view.pools():
        if pool.fabric is not None and pool.fabric not in view.spec.fabrics:
            yield ("node_pools", name, "fabric"), unknown("fabric", pool.fabric, view.spec.fabrics)


@rule("GF-REF-002", "error", "A pool names a MIG plan the stack does not define.", "Define it under mig_plans, or fix the name.")
def mig_plan_defined(view: StackView) -> Problems:
    for name, pool in view.pools():
        if pool.mig is not None and pool.mig not in view.spec.mig_plans:
            yield ("node_pools", name, "mig"), unknown("MIG plan", pool.mig, view.spec.mig_plans)


@rule("GF-REF-003", "error", "A pool names a storage tier that is not defined, or one twice.", "Name each defined tier once.")
def storage_defined_once(view: StackView) -> Problems:
    for name, pool in view.pools():
        seen: set[str] = set()
        for index, tier_name in enumerate(pool.storage):
            if tier_name not in view.spec.storage:
                yield ("node_pools", name, "storage", index), unknown("storage tier", tier_name, view.spec.storage)
            elif tier_name in seen:
                yield ("node_pools", name, "storage", index), f"storage tier '{tier_name}' is listed twice"
            seen.add(tier_name)


@pool_rule(
    "GF-EFA-001", "error", "A pool on an EFA fabric whose instance type has no EFA.", "Use an EFA-capable size of the family."
)
def efa_supported(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    fabric = view.fabric(pool)
    if fabric is not None and fabric.kind == "efa" and not instance.efa_supported:
        sizes = sorted(view.catalog.instance_types.values(), key=lambda t: t.vcpus)
        capable = [t.name for t in sizes if t.family == instance.family and t.efa_supported]
        hint = f" (EFA-capable {instance.family} sizes: {', '.join(capable)})" if capable else ""
        yield (*path, "fabric"), f"{instance.name} does not support EFA{hint}"


@pool_rule(
    "GF-ZONE-001",
    "error",
    "A pool's zone differs from the zone of its reservation.",
    "Drop availability_zone: the reservation's zone is used.",
)
def zone_matches_reservation(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    reserved, chosen = pool.capacity.availability_zone, pool.availability_zone
    if view.zones and reserved is not None and chosen is not None and chosen != reserved:
        yield (
            (*path, "availability_zone"),
            f"zone '{chosen}' differs from the zone of {pool.capacity.reservation_id} ({reserved})",
        )


@pool_rule(
    "GF-ZONE-002", "error", "A pool's zone is not one of the network's zones.", "Add the zone to network.availability_zones."
)
def zone_in_network(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    chosen = decisions.pool_zone_choice(pool)
    if view.zones and chosen is not None and chosen not in view.zones:
        where = (*path, "capacity", "availability_zone") if pool.capacity.availability_zone else (*path, "availability_zone")
        yield where, f"zone '{chosen}' is not one of the network's zones: {', '.join(view.zones)}"


@pool_rule(
    "GF-PLACE-001",
    "error",
    "A cluster placement group on top of a capacity block.",
    "Drop placement: the capacity block is already co-located.",
)
def no_group_on_capacity_block(
    view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType
) -> Problems:
    if pool.placement == "cluster" and pool.capacity.type == "capacity-block":
        yield (
            (*path, "placement"),
            (
                "a capacity block is already co-located in an EC2 UltraCluster; a cluster placement "
                "group on top of it makes launches fail with InsufficientInstanceCapacity: drop placement"
            ),
        )


@pool_rule(
    "GF-PLACE-002",
    "error",
    "Cluster placement for a targeted reservation that names no placement group.",
    "Name the group the reservation was created in (capacity.placement_group), or drop placement.",
)
def no_new_group_for_reservation(
    view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType
) -> Problems:
    if pool.placement == "cluster" and pool.capacity.type == "reservation" and pool.capacity.placement_group is None:
        yield (
            (*path, "placement"),
            (
                "a targeted capacity reservation created in a cluster placement group only launches into that "
                "group: name it in capacity.placement_group (or drop placement)"
            ),
        )


@rule(
    "GF-PLACE-003", "error", "A spread placement group holding more instances than AWS allows.", "Lower nodes.max or add zones."
)
def spread_within_limit(view: StackView) -> Problems:
    limit = view.catalog.placement_groups.spread_instances_per_zone
    for path, _, pool, _ in _known_pools(view):
        zones = decisions.pool_zones(view, pool)
        if pool.placement == "spread" and pool.nodes.max > limit * max(len(zones), 1):
            yield (
                (*path, "placement"),
                (
                    f"a spread placement group holds at most {limit} running instances per zone; "
                    f"this pool may have {pool.nodes.max} in {len(zones)} zone(s)"
                ),
            )


@pool_rule(
    "GF-CAP-001",
    "error",
    "A capacity block for an instance type that cannot run in one.",
    "Use an eligible type, or another capacity type.",
)
def capacity_block_eligible(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    if pool.capacity.type == "capacity-block" and not instance.capacity_block:
        eligible = sorted(t.name for t in view.catalog.instance_types.values() if t.capacity_block)
        yield (*path, "capacity", "type"), f"{instance.name} cannot run in a capacity block (eligible: {', '.join(eligible)})"


@pool_rule(
    "GF-CAP-002", "error", "A capacity-block pool whose size can change.", "Set nodes.min to 0 (recommended) or to nodes.max."
)
def capacity_block_fixed_size(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    if pool.capacity.type == "capacity-block" and pool.nodes.min not in (0, pool.nodes.max):
        yield (*path, "nodes"), "a capacity block holds a fixed number of instances: set min to 0 (recommended) or to max"


@rule(
    "GF-TRAIN-001",
    "error",
    "Multi-node training without an RDMA fabric.",
    "Put the pool on an efa or infiniband fabric, or set allow_non_rdma: true (validate then accepts TCP; "
    "gpufleet check's training-on-rdma-fabric still fails it unless the policy config makes it advisory).",
)
def training_on_rdma(view: StackView) -> Problems:
    described = _known_pools(view) if view.on_aws else ((("node_pools", name), name, pool, None) for name, pool in view.pools())
    for path, _, pool, _ in described:
        if pool.workload != "training" or pool.nodes.max <= 1 or pool.allow_non_rdma:
            continue
        fabric = view.fabric(pool)
        if fabric is None or fabric.kind not in RDMA_FABRICS:
            what = "no fabric" if fabric is None else f"fabric '{pool.fabric}' ({fabric.kind})"
            yield (
                (*path, "fabric") if pool.fabric else path,
                (
                    f"multi-node training (up to {pool.nodes.max} nodes) has {what}; it needs an RDMA fabric "
                    "(efa or infiniband), or allow_non_rdma: true to accept TCP here; gpufleet check still fails it "
                    "(policy training-on-rdma-fabric, mandatory) unless its policy config makes that advisory"
                ),
            )


@pool_rule(
    "GF-TRAIN-002",
    "warning",
    "Multi-node training on spot capacity: one interruption stops the whole job.",
    "Use on-demand, a reservation or a capacity block, or checkpoint often.",
)
def training_not_on_spot(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    if pool.workload == "training" and pool.nodes.max > 1 and pool.capacity.type == "spot":
        yield (
            (*path, "capacity", "type"),
            (f"multi-node training on spot: reclaiming any of up to {pool.nodes.max} nodes stops the whole job"),
        )


@pool_rule(
    "GF-NVME-001", "error", "A local-NVMe tier on an instance type without NVMe disks.", "Use a type with instance storage."
)
def nvme_present(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    for index, tier_name in enumerate(pool.storage):
        tier = view.spec.storage.get(tier_name)
        if tier is not None and tier.kind == "local-nvme" and instance.local_nvme is None:
            yield (*path, "storage", index), f"{instance.name} has no local NVMe disks for tier '{tier_name}'"


@pool_rule("GF-MIG-007", "error", "A pool uses a MIG plan made for another GPU.", "Use a plan for the pool's GPU.")
def mig_plan_matches_gpu(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    if pool.mig is None or not plan_usable(view, pool.mig):
        return
    planned, carried = view.mig_accelerator(pool.mig), view.catalog.accelerator_of(instance)
    if planned is None:
        return
    if carried is None or carried.name != planned.name:
        what = carried.name if carried else "no GPU"
        yield (*path, "mig"), f"MIG plan '{pool.mig}' is for {planned.name}, but {instance.name} carries {what}"


def _applied_plan(view: StackView, pool: NodePoolSpec, instance: InstanceType) -> str | None:
    """The pool's MIG plan when it is usable and made for the GPU the pool's nodes carry."""
    carried = view.catalog.accelerator_of(instance)
    planned = view.mig_accelerator(pool.mig) if pool.mig is not None and plan_usable(view, pool.mig) else None
    return pool.mig if planned is not None and carried is not None and carried.name == planned.name else None


@pool_rule(
    "GF-MIG-008",
    "error",
    "A MIG plan configures GPU indexes the pool's nodes do not have.",
    "Use indexes below the node's GPU count.",
)
def mig_devices_exist(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    plan = _applied_plan(view, pool, instance)
    if plan is None or view.spec.mig_plans[plan].demand is not None:
        return
    gpus = instance.accelerator_count
    layouts = decisions.fixed_mig_layouts(view, plan)
    beyond = sorted({i for layout in layouts if layout.devices != "all" for i in layout.devices if i >= gpus})
    if beyond:
        yield (
            (*path, "mig"),
            f"MIG plan '{plan}' configures GPU {', '.join(map(str, beyond))}, but {instance.name} has GPUs 0-{gpus - 1}",
        )


@rule(
    "GF-MIG-009",
    "error",
    "A MIG demand that the pool's identical nodes cannot carry.",
    "Raise nodes.max, split the demand, or give each pool its own demand plan.",
)
def mig_demand_fits_pool(view: StackView) -> Problems:
    first_layouts: dict[str, tuple[mig.DeviceLayout, ...]] = {}
    for path, name, pool, instance in _known_pools(view):
        plan = _applied_plan(view, pool, instance)
        if plan is None or view.spec.mig_plans[plan].demand is None:
            continue
        packing, gpus = view.packing(plan, name), instance.accelerator_count
        if isinstance(packing, mig.DemandError):
            yield (*path, "mig"), f"MIG plan '{pool.mig}' does not fit {instance.name} nodes: {sentence(str(packing))}"
            continue
        if packing.nodes > pool.nodes.max:
            needed = sum(1 for layout in packing.per_node_layouts if layout) * packing.nodes
            yield (
                (*path, "mig"),
                (
                    f"MIG plan '{pool.mig}' needs {packing.nodes} nodes of {gpus} GPUs ({needed} GPUs in use) for its demand, "
                    f"but the pool has at most {pool.nodes.max}"
                ),
            )
            continue
        layouts = decisions.packed_mig_layouts(packing)
        if first_layouts.setdefault(plan, layouts) != layouts:
            yield (
                (*path, "mig"),
                f"MIG plan '{pool.mig}' is packed differently for another pool's nodes; give each pool its own demand plan",
            )


@pool_rule("GF-POOL-003", "error", "A model is listed twice in one pool.", "Give each model its own name.")
def models_unique(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    yield from duplicates((*path, "models"), [m.name for m in pool.models], "model")


@pool_rule("GF-LABEL-001", "error", "A pool label that gpufleet sets itself.", "Choose another key.")
def labels_not_reserved(view: StackView, path: PoolPath, name: str, pool: NodePoolSpec, instance: InstanceType) -> Problems:
    for key in pool.labels:
        if decisions.reserved_label(key):
            yield (*path, "labels", key), f"label '{key}' is set by gpufleet itself; choose another key"
