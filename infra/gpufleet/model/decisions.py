"""Every choice gpufleet makes for a stack, one function each, with its reason where it is a choice.

Decisions never report: they run on stacks the rules found valid (and stay total on invalid
ones, so rules may ask them what would happen).
"""

from __future__ import annotations

from collections import Counter

from gpufleet import mig
from gpufleet.catalog.mig import MigGeometry
from gpufleet.catalog.models import Accelerator, InstanceType
from gpufleet.catalog.storage import LustreFacts
from gpufleet.model import iam, security
from gpufleet.model.aws import ZoneChoice, choose_zones, zone_index
from gpufleet.model.kubernetes import MIG_CONFIG_LABEL
from gpufleet.model.plan import (
    AmiChoice,
    EfaLayout,
    Fabric,
    FsxOptions,
    InterfaceSlot,
    MigSetup,
    NetworkLayout,
    PlacementDecision,
    Subnet,
    Taint,
)
from gpufleet.model.reasons import Reason
from gpufleet.model.view import MAX_ZONES, StackView
from gpufleet.stack.models import RDMA_FABRICS, FabricSpec, FsxLustreTierSpec, NodePoolSpec

LABEL_DOMAIN = "gpufleet.io"
# The GPU Operator's device plugin picks its named config from this node label.
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
EFA_LABEL = f"{LABEL_DOMAIN}/efa"
# The Cluster Autoscaler's AWS provider treats nodes with this label as GPU nodes: until their
# device plugin advertises nvidia.com/gpu it counts them as unready (coming), instead of scaling
# up again. A node whose GPUs are all MIG-partitioned never advertises it, so it never gets the label.
AUTOSCALER_GPU_LABEL = "k8s.amazonaws.com/accelerator"
# Root volumes hold container images; CUDA and framework images run to tens of GiB each.
ACCELERATED_ROOT_GIB = 200
SYSTEM_ROOT_GIB = 80
DEFAULT_BACKUP_DAYS = 7
LUSTRE_VERSION = "2.15"
LUSTRE_COMPRESSION = "LZ4"


# -- pools ------------------------------------------------------------------------------------


def efa_layout(instance: InstanceType) -> EfaLayout:
    """Current AWS guidance: ENA primary on card 0, EFA-only interfaces for every EFA.

    Card 0 keeps its ENA primary at device 0 and, if it takes EFA, adds an EFA-only
    interface at device 1; every further EFA-capable card gets one EFA-only interface at
    device 0, until the type's EFA maximum is reached.
    """
    cards = instance.cards
    if cards[0].supports_efa and cards[0].max_interfaces < 2:
        interfaces = [InterfaceSlot(0, 0, "efa")]  # no room beside the primary: it carries EFA itself
    else:
        interfaces = [InterfaceSlot(0, 0, "interface")]
        if cards[0].supports_efa:
            interfaces.append(InterfaceSlot(0, 1, "efa-only"))
    efa_count = sum(nic.interface_type != "interface" for nic in interfaces)
    for card in cards[1:]:
        if efa_count >= instance.max_efa_interfaces:
            break
        if card.supports_efa:
            interfaces.append(InterfaceSlot(card.index, 0, "efa-only"))
            efa_count += 1
    return EfaLayout(tuple(interfaces))


def uses_efa(view: StackView, pool: NodePoolSpec) -> bool:
    fabric, instance = view.fabric(pool), view.instance(pool)
    return fabric is not None and fabric.kind == "efa" and instance is not None and instance.efa_supported


def pool_zone_choice(pool: NodePoolSpec) -> str | None:
    """A reservation's zone wins: the capacity exists only there."""
    return pool.capacity.availability_zone or pool.availability_zone


def single_zone(view: StackView, pool: NodePoolSpec) -> bool:
    """EFA, training, cluster-placement and pinned pools live in one zone; others spread over all."""
    return (
        uses_efa(view, pool) or pool.placement == "cluster" or pool.workload == "training" or pool_zone_choice(pool) is not None
    )


def zone_choice(view: StackView, pool: NodePoolSpec) -> ZoneChoice:
    """The pinned or reserved zone, else the network's zones that offer the pool's type."""
    zones = view.zones
    if not zones:
        return ZoneChoice((), "no network")
    chosen = pool_zone_choice(pool)
    instance = view.instance(pool)
    if (chosen is not None and chosen not in zones) or instance is None:
        return ZoneChoice((chosen if chosen in zones else zones[0],), "the stack is invalid; a rule says why")
    return choose_zones(
        view.catalog,
        view.spec.cluster.region or "",
        zones,
        instance.name,
        pinned=chosen,
        reserved=pool.capacity.availability_zone is not None,
        single_zone=single_zone(view, pool),
    )


def pool_zones(view: StackView, pool: NodePoolSpec) -> tuple[str, ...]:
    return zone_choice(view, pool).zones


def placement(pool: NodePoolSpec, fabric: FabricSpec | None, zone_count: int, partitions_per_zone: int) -> PlacementDecision:
    group = pool.capacity.placement_group
    if group is not None:
        return PlacementDecision(
            "cluster",
            f"the reservation {pool.capacity.reservation_id} was created in cluster placement group {group}; "
            "instances launch into that group, which gpufleet does not own",
            existing_group=group,
        )
    if pool.placement is not None:
        count = min(partitions_per_zone, pool.nodes.max) if pool.placement == "partition" else None
        return PlacementDecision(pool.placement, "set in the spec", count)
    multi_node_training = pool.workload == "training" and pool.nodes.max > 1
    if multi_node_training and pool.capacity.type in ("capacity-block", "reservation"):
        return PlacementDecision(
            "none",
            f"{pool.capacity.type}: the reserved capacity decides where instances land; adding a "
            "placement group risks InsufficientInstanceCapacity",
        )
    if multi_node_training and fabric is not None and fabric.kind in RDMA_FABRICS:
        return PlacementDecision("cluster", "multi-node training on an RDMA fabric: one cluster placement group, one zone")
    return PlacementDecision("none", "single-node or non-training pool")


def whole_gpus(gpus_per_node: int, mig_setup: MigSetup | None) -> int:
    """GPUs of a node left whole (advertised as ``nvidia.com/gpu``): those no MIG layout partitions."""
    if mig_setup is None:
        return gpus_per_node
    partitioned = sum(
        gpus_per_node if layout.devices == "all" else len(layout.devices) for layout in mig_setup.device_layouts if layout.layout
    )
    return gpus_per_node - partitioned


def labels(
    name: str,
    pool: NodePoolSpec,
    accelerator: Accelerator | None,
    mig_setup: MigSetup | None,
    mig_capable: bool,
    efa: bool,
    gpus_per_node: int = 0,
) -> dict[str, str]:
    """Labels every node carries: pool, workload, accelerator, EFA, its device-plugin sharing
    config and, on MIG-capable GPUs, the MIG entry: the Kubernetes side selects nodes by them."""
    chosen = {f"{LABEL_DOMAIN}/pool": name, f"{LABEL_DOMAIN}/workload": pool.workload}
    if efa:
        chosen[EFA_LABEL] = "true"  # the EFA device plugin runs where this is set, and only there
    if accelerator is not None:
        chosen[f"{LABEL_DOMAIN}/accelerator"] = accelerator.name
    if accelerator is not None and accelerator.kind == "gpu" and whole_gpus(gpus_per_node, mig_setup):
        chosen[AUTOSCALER_GPU_LABEL] = accelerator.name
    if pool.sharing is not None:
        chosen[DEVICE_PLUGIN_CONFIG_LABEL] = name
    if mig_setup is not None:
        chosen[MIG_CONFIG_LABEL] = mig_setup.label_value
    elif mig_capable:
        chosen[MIG_CONFIG_LABEL] = mig.RESET_CONFIG
    return dict(sorted({**pool.labels, **chosen}.items()))


ROLL_ORDER = ("system", "lab", "inference", "training")


def update_chain(view: StackView) -> dict[str, str]:
    """Pool -> the pool whose node group it waits for. Accelerated pools roll one at a time (lab,
    then inference, then training), so an AMI or Kubernetes edit never replaces every GPU pool's
    nodes at once; untainted system pools roll freely."""
    accelerated = sorted(
        (ROLL_ORDER.index(pool.workload), name)
        for name, pool in view.pools()
        if pool.instance_type is not None and view.accelerator(pool) is not None
    )
    names = [name for _, name in accelerated]
    return dict(zip(names[1:], names[:-1], strict=True))


def reserved_label(key: str) -> bool:
    return key.startswith(f"{LABEL_DOMAIN}/") or key in (MIG_CONFIG_LABEL, DEVICE_PLUGIN_CONFIG_LABEL, AUTOSCALER_GPU_LABEL)


def taints(pool: NodePoolSpec, accelerator: Accelerator | None) -> tuple[Taint, ...]:
    """Accelerator nodes and training/lab nodes only take pods that ask for them; system pools none."""
    chosen = []
    if accelerator is not None and accelerator.kind == "gpu":
        chosen.append(Taint("nvidia.com/gpu", "true"))
    elif accelerator is not None:
        chosen.append(Taint("aws.amazon.com/neuron", "true"))
    if pool.workload in ("training", "lab"):
        chosen.append(Taint(f"{LABEL_DOMAIN}/workload", pool.workload))
    return tuple(chosen)


def ami(instance: InstanceType, accelerator: Accelerator | None, kubernetes_version: str, release: str) -> AmiChoice:
    """The EKS-optimized AL2023 AMI variant whose drivers match the accelerator, read from the SSM
    parameter of one release: its value never changes, unlike ``recommended``'s."""
    variant = {None: "standard", "gpu": "nvidia", "neuron": "neuron"}[accelerator.kind if accelerator else None]
    family = f"amazon-linux-2023/{instance.architecture}/{variant}"
    image = f"amazon-eks-node-al2023-{instance.architecture}-{variant}-{kubernetes_version}-{release}"
    return AmiChoice(family, f"/aws/service/eks/optimized-ami/{kubernetes_version}/{family}/{image}/image_id")


def root_volume_gib(accelerator: Accelerator | None) -> int:
    return ACCELERATED_ROOT_GIB if accelerator else SYSTEM_ROOT_GIB


def security_groups(workload: str, fabric: Fabric | None, efa: EfaLayout | None) -> tuple[str, ...]:
    """Every node joins its workload class's group (not the cluster's, which lets every member reach
    every other); EFA nodes also their fabric's."""
    groups = [security.nodes(workload)]
    if efa is not None and fabric is not None and fabric.security_group:
        groups.append(fabric.security_group)
    return tuple(groups)


# -- network ----------------------------------------------------------------------------------


def zone_slots(view: StackView) -> dict[str, int]:
    """Each zone's subnets sit at its own letter's (or id's) place, never at its list position,
    so adding, removing or reordering zones moves no other zone's subnets."""
    region = view.spec.cluster.region or ""
    return {zone: zone_index(zone, region) for zone in view.zones if 0 <= zone_index(zone, region) < MAX_ZONES}


def pool_subnets(network: NetworkLayout | None, name: str, zones: tuple[str, ...]) -> tuple[Subnet, ...]:
    """A training pool's own subnet, else the shared subnet of each of its zones."""
    if network is None:
        return ()
    own = tuple(s for s in network.pool_subnets if s.name == f"pool-{name}")
    return own or tuple(network.shared_subnet(zone) for zone in zones)


def file_system_subnet(tier_name: str, client_zones: list[str], network: NetworkLayout) -> Subnet:
    """A Lustre file system lives in one subnet: the zone where most of its clients run."""
    zones = Counter(client_zones)
    zone = min(zones, key=lambda z: (-zones[z], z)) if zones else network.zones[0]
    return network.shared_subnet(zone)


# -- storage ----------------------------------------------------------------------------------


def backup_retention_days(persistent: bool, chosen: int | None) -> int | None:
    """A week of daily FSx backups unless the tier says otherwise: a bad job or a typo can be undone."""
    if not persistent:
        return None
    return DEFAULT_BACKUP_DAYS if chosen is None else chosen


def storage_protected(persistent: bool, allow_deletion: bool) -> bool:
    """Datasets, checkpoints and persistent file systems survive a typo; scratch does not need to."""
    return persistent and not allow_deletion


def fsx_options(tier: FsxLustreTierSpec, lustre: LustreFacts, region: str) -> FsxOptions:
    """Every FSx for Lustre setting, from the deployment type: persistent deployments take a
    per-unit throughput, their own KMS key, daily backups and tags copied to them; SCRATCH_2
    takes none of these (FSx encrypts it with a key of its own); only PERSISTENT_2 has a
    metadata configuration."""
    persistent = lustre.deployments[tier.deployment].persistent
    metadata = "AUTOMATIC" if tier.deployment == "PERSISTENT_2" else None
    kind = "persistent" if persistent else "scratch"
    reasons = [
        Reason("perUnitStorageThroughput", f"set on persistent deployments only; {tier.deployment} is {kind}"),
        Reason(
            "kmsKeyId",
            "the file system's own key, usable only through FSx"
            if persistent
            else "scratch file systems are encrypted with a key FSx manages; they take none of their own",
        ),
        Reason(
            "automaticBackupRetentionDays",
            "daily backups, 7 days unless the tier says" if persistent else "scratch has no backups",
        ),
        Reason("metadataConfiguration", "AUTOMATIC: FSx scales metadata IOPS with capacity" if metadata else "PERSISTENT_2 only"),
        Reason("dataCompressionType", "LZ4: less storage and network per byte read, at little CPU"),
    ]
    return FsxOptions(
        deployment_type=tier.deployment,
        storage_capacity_gib=lustre.capacity_gib(tier.capacity_tib),
        per_unit_throughput=tier.throughput_per_tib if persistent else None,
        key_policy=iam.key_policy("fsx", region) if persistent else None,
        backup_retention_days=backup_retention_days(persistent, tier.backup_retention_days),
        copy_tags_to_backups=True if persistent else None,
        metadata_mode=metadata,
        file_system_type_version=LUSTRE_VERSION,
        data_compression=LUSTRE_COMPRESSION,
        reasons=tuple(reasons),
    )


# -- MIG --------------------------------------------------------------------------------------


def fixed_mig_layouts(view: StackView, plan_name: str) -> tuple[mig.DeviceLayout, ...]:
    plan = view.spec.mig_plans[plan_name]
    if plan.layout is not None:
        return (mig.DeviceLayout(devices="all", layout=dict(sorted(plan.layout.items()))),)
    return tuple(
        mig.DeviceLayout(devices=entry.devices, layout=None if entry.layout is None else dict(sorted(entry.layout.items())))
        for entry in plan.devices or ()
    )


def mig_placements(geometry: MigGeometry, layouts: tuple[mig.DeviceLayout, ...]) -> tuple[tuple[mig.PlacedInstance, ...], ...]:
    """Where each layout's instances sit on the GPU, as the engine's placement search proved them
    (the rules already refused a layout that does not fit)."""
    placements: list[tuple[mig.PlacedInstance, ...]] = []
    for entry in layouts:
        if entry.layout is None:
            placements.append(())
            continue
        check = mig.check_geometry_layout(geometry, entry.layout)
        assert check.feasible, f"GF-MIG: {geometry.gpu} {entry.layout} was proved to fit"
        placements.append(check.placement)
    return tuple(placements)


def packed_mig_layouts(packing: mig.NodePacking) -> tuple[mig.DeviceLayout, ...]:
    return tuple(
        mig.DeviceLayout(devices=entry.devices, layout=None if entry.layout is None else dict(sorted(entry.layout.items())))
        for entry in packing.devices
    )
