"""The resolved, validated plan: a stack joined with catalog facts and every decision made.

Renderers read only these objects. Anything a renderer needs that is not a plain copy of
the stack (EFA interface layout, subnets, placement, labels, taints, security groups, IAM
policies, FSx options, the AMI parameter, the Kubernetes side) is decided here once, with the
reason kept beside it. Each named thing keeps the ``Location`` it was written at, so a policy
or a SARIF result can point there.

Variants are types, not optional fields: a pool's nodes are ``LaunchedNodes`` or
``ExistingNodes``, a storage tier is an ``S3Tier``, a ``LustreTier`` or a ``LocalNvmeTier``, and
the cluster's cloud side is ``AwsCloud`` or ``ExistingCluster``; code for one variant cannot
read a field only another has (mypy holds it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal
from ipaddress import IPv4Network
from typing import TYPE_CHECKING, ClassVar, Literal

from gpufleet.catalog.mig import MigGeometry
from gpufleet.catalog.models import Accelerator, InstanceType, InterfaceType
from gpufleet.catalog.storage import LustreDeployment
from gpufleet.findings import Finding, Location
from gpufleet.mig import DeviceLayout, MigPartedConfig, PlacedInstance, ServiceDemand
from gpufleet.model import security
from gpufleet.model.aws import AwsCluster, AwsRoles, ClusterService, NodeGroupTag, NodeUpdate
from gpufleet.model.facts import ClusterFacts, FleetFacts, MigFacts, NetworkFacts, PoolFacts, TierFacts, cents
from gpufleet.model.iam import PolicyDocument
from gpufleet.model.kubernetes import (
    LAUNCH_TEMPLATE_ONLY_LABELS,
    MIG_CONFIG_LABEL,
    MIG_LABEL_CHANNEL,
    KubernetesPlan,
    PoolScheduling,
)
from gpufleet.model.reasons import Decision, Reason
from gpufleet.model.security import SecurityPlan
from gpufleet.stack.models import (
    RDMA_FABRICS,
    Capacity,
    FabricKind,
    JobsSpec,
    NodeCount,
    PlacementStrategy,
    Provider,
    QueuesSpec,
    ServedModel,
    WorkloadClass,
)
from gpufleet.stack.record import SubnetRecord

if TYPE_CHECKING:  # these are decided from (or price) this module's types, so they import it
    from gpufleet.model.cost import FleetCost, PoolCost, TierCost
    from gpufleet.model.monitoring import MonitoringPlan
    from gpufleet.model.topology import PlacementPlan
    from gpufleet.model.validation import ValidationPlan


@dataclass(frozen=True)
class InterfaceSlot:
    card_index: int
    device_index: int
    interface_type: InterfaceType


@dataclass(frozen=True)
class EfaLayout:
    interfaces: tuple[InterfaceSlot, ...]

    @property
    def efa_count(self) -> int:
        return sum(1 for nic in self.interfaces if nic.interface_type != "interface")


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: Literal["NoSchedule", "NoExecute", "PreferNoSchedule"] = "NoSchedule"


@dataclass(frozen=True)
class SubnetSizing:
    """What a pool's own subnet must hold: every node it may have during an update, each with
    the addresses its interfaces and the VPC CNI take."""

    max_nodes: int
    surge_nodes: int
    ips_per_node: int
    usable: int
    """Addresses of the block AWS lets instances use (it keeps five of every subnet)."""
    reason: str

    @property
    def ips_needed(self) -> int:
        return (self.max_nodes + self.surge_nodes) * self.ips_per_node

    @property
    def headroom(self) -> int:
        return self.usable - self.ips_needed


@dataclass(frozen=True)
class Subnet:
    name: str
    zone: str
    """A zone name (us-east-1a) or a zone id (use1-az4)."""
    cidr: IPv4Network
    internal_load_balancers: bool = True
    """Tagged for internal load balancers; a training pool's own subnet is not."""
    sizing: SubnetSizing | None = None
    """Set on a pool's own subnet, sized to the pool."""
    placed: str = ""
    """Why the block is where it is (kept from the record, or the first free block)."""


@dataclass(frozen=True)
class NetworkLayout:
    vpc_cidr: IPv4Network
    zones: tuple[str, ...]
    public_subnets: tuple[Subnet, ...]
    shared_private_subnets: tuple[Subnet, ...]
    pool_subnets: tuple[Subnet, ...]
    control_plane_zones: tuple[str, ...]
    """The zones of the cluster's own subnets: those it was created with, as the record keeps them."""
    record: SubnetRecord
    """The subnet record this layout implies, written beside the stack by ``gpufleet preview``."""

    def shared_subnet(self, zone: str) -> Subnet:
        return next(s for s in self.shared_private_subnets if s.zone == zone)

    @property
    def control_plane_subnets(self) -> tuple[Subnet, ...]:
        return tuple(s for s in self.shared_private_subnets if s.zone in self.control_plane_zones)

    def summary(self) -> dict[str, object]:
        return {
            "control_plane_zones": list(self.control_plane_zones),
            "pool_subnets": [
                {
                    "subnet": subnet.name,
                    "zone": subnet.zone,
                    "cidr": str(subnet.cidr),
                    "usable": subnet.sizing.usable,
                    "ips_needed": subnet.sizing.ips_needed,
                    "headroom": subnet.sizing.headroom,
                    "max_nodes": subnet.sizing.max_nodes,
                    "surge_nodes": subnet.sizing.surge_nodes,
                    "ips_per_node": subnet.sizing.ips_per_node,
                    "sized": subnet.sizing.reason,
                    "placed": subnet.placed,
                }
                for subnet in self.pool_subnets
                if subnet.sizing is not None
            ],
        }


@dataclass(frozen=True)
class ExistingCluster:
    """An existing cluster (provider kubernetes), reached through stack config: nothing cloud-side."""

    provider: ClassVar[Literal["kubernetes"]] = "kubernetes"


@dataclass(frozen=True)
class AwsCloud:
    """The cluster's cloud side on AWS (provider aws): what gpufleet creates around EKS."""

    provider: ClassVar[Literal["aws"]] = "aws"
    region: str
    eks: AwsCluster
    """The pins and choices of the EKS cluster (AMI release, add-ons, service CIDR, endpoint, admins)."""
    network: NetworkLayout
    security: SecurityPlan
    roles: AwsRoles
    services: tuple[ClusterService, ...] = ()
    """What the Kubernetes side's components need of AWS (Pod Identity roles, managed add-ons)."""
    node_group_tags: tuple[NodeGroupTag, ...] = ()
    """Tags on the Auto Scaling groups behind the node groups (the Cluster Autoscaler's hints)."""

    def services_of(self, component: str) -> tuple[ClusterService, ...]:
        return tuple(service for service in self.services if service.serves == component)


Cloud = AwsCloud | ExistingCluster


@dataclass(frozen=True)
class ClusterPlan:
    name: str
    kubernetes_version: str
    admins: tuple[str, ...]
    location: Location
    cloud: Cloud

    @property
    def provider(self) -> Provider:
        return self.cloud.provider

    @property
    def region(self) -> str | None:
        """The AWS region; None for an existing cluster, which has none."""
        return self.cloud.region if isinstance(self.cloud, AwsCloud) else None

    monthly_budget_usd: float | None = None
    """What the stack may cost per 30 days (the budget policies' own figure for it)."""
    production: bool | None = None
    """Said by the stack (``cluster.production``); None: judged by the stack's name."""
    may_replace: tuple[str, ...] = ()
    """Pools and tiers an edit of this stack may replace (the replacement gate's acknowledgement)."""


@dataclass(frozen=True)
class Fabric:
    name: str
    kind: FabricKind
    location: Location

    @property
    def rdma(self) -> bool:
        return self.kind in RDMA_FABRICS

    @property
    def security_group(self) -> str | None:
        """EFA traffic only flows between members of one security group: each EFA fabric has its own."""
        return security.fabric(self.name) if self.kind == "efa" else None


# -- storage tiers: one type per kind ---------------------------------------------------------


@dataclass(frozen=True)
class S3Tier:
    """A bucket for datasets and checkpoints."""

    kind: ClassVar[Literal["s3"]] = "s3"
    name: str
    location: Location
    protected: bool
    versioning: bool
    key_policy: PolicyDocument
    bucket_policy: PolicyDocument
    size_gb: int | None = None
    """The tier's stated size (GB as S3 bills it), which prices it; None when unknown."""

    def facts(self) -> TierFacts:
        return TierFacts(
            tier=self.name, kind=self.kind, protected=self.protected, versioning=self.versioning, size_gb=self.size_gb
        )


@dataclass(frozen=True)
class FsxOptions:
    """The FSx for Lustre settings gpufleet renders verbatim, decided from the deployment type."""

    deployment_type: LustreDeployment
    storage_capacity_gib: int
    per_unit_throughput: int | None
    """PerUnitStorageThroughput: persistent deployments only."""
    key_policy: PolicyDocument | None
    """The file system's own KMS key (persistent deployments); None: FSx's default encryption."""
    backup_retention_days: int | None
    """Daily automatic backups kept; None where the deployment has none (SCRATCH_2)."""
    copy_tags_to_backups: bool | None
    metadata_mode: str | None
    """Lustre metadata performance mode: ``AUTOMATIC`` on PERSISTENT_2, the only deployment that takes one."""
    file_system_type_version: str
    data_compression: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class LustreTier:
    """An FSx for Lustre file system in its clients' zone, optionally linked to an S3 tier."""

    kind: ClassVar[Literal["fsx-lustre"]] = "fsx-lustre"
    name: str
    location: Location
    protected: bool
    persistent: bool
    fsx: FsxOptions
    throughput_per_tib: int
    throughput_mbs: float
    """The baseline network throughput clients can draw (reads served from the file servers' cache)."""
    disk_throughput_mbs: float
    """What the disks sustain: the figure a training set larger than the cache is read at."""
    import_from: str | None
    subnet: Subnet
    client_ports: tuple[tuple[int, int], ...]
    namespaces: tuple[str, ...]
    """Kubernetes namespaces that get a claim bound to this file system."""

    def facts(self) -> TierFacts:
        return TierFacts(
            tier=self.name,
            kind=self.kind,
            protected=self.protected,
            deployment=self.fsx.deployment_type,
            persistent=self.persistent,
            capacity_gib=self.fsx.storage_capacity_gib,
            throughput_per_tib=self.throughput_per_tib,
            throughput_mbs=self.throughput_mbs,
            disk_throughput_mbs=self.disk_throughput_mbs,
            import_from=self.import_from,
            backup_retention_days=self.fsx.backup_retention_days,
            namespaces=self.namespaces,
            zone=self.subnet.zone,
        )


@dataclass(frozen=True)
class LocalNvmeTier:
    """The nodes' own NVMe disks, assembled and mounted by the node's user data: never protected."""

    kind: ClassVar[Literal["local-nvme"]] = "local-nvme"
    protected: ClassVar[bool] = False
    name: str
    location: Location
    mount_path: str

    def facts(self) -> TierFacts:
        return TierFacts(tier=self.name, kind=self.kind, protected=False, mount_path=self.mount_path)


StorageTier = S3Tier | LustreTier | LocalNvmeTier


@dataclass(frozen=True)
class MigSetup:
    """A MIG plan as nodes get it: its mig-parted entry name and what each GPU group carries."""

    name: str
    accelerator: Accelerator
    geometry: MigGeometry
    """The GPU's MIG profile table (compute and memory slices, placements), from the catalog."""
    label_value: str
    device_layouts: tuple[DeviceLayout, ...]
    placements: tuple[tuple[PlacedInstance, ...], ...]
    """Per device layout, where the MIG engine proved its instances fit (start and size in placement
    units); empty where a layout turns MIG off."""
    location: Location
    demand: tuple[ServiceDemand, ...] = ()

    def facts(self) -> MigFacts:
        layouts = {
            "all" if entry.devices == "all" else ",".join(map(str, entry.devices)): ", ".join(
                f"{profile}={count}" for profile, count in (entry.layout or {}).items()
            )
            or "MIG off"
            for entry in self.device_layouts
        }
        demand = tuple(f"{d.name}: {d.replicas} x {d.memory_gib:g} GiB" for d in self.demand)
        return MigFacts(self.accelerator.name, layouts, demand)


@dataclass(frozen=True)
class PlacementDecision:
    strategy: PlacementStrategy
    reason: str
    partition_count: int | None = None
    existing_group: str | None = None
    """A placement group gpufleet does not own (the one a reservation was created in)."""


# -- pools: where their nodes come from -------------------------------------------------------


@dataclass(frozen=True)
class AmiChoice:
    """The EKS-optimized AMI nodes run: its family (which says which drivers it ships) and the
    SSM parameter of one release."""

    family: str
    parameter: str


@dataclass(frozen=True)
class LaunchedNodes:
    """Nodes gpufleet launches (provider aws): one instance type in an EKS managed node group,
    as eksctl's managed node groups or a Karpenter NodePool describe them."""

    instance: InstanceType
    capacity: Capacity
    capacity_type: Decision
    """The node group's capacityType (``ON_DEMAND``, ``SPOT``, ``CAPACITY_BLOCK``)."""
    efa: EfaLayout | None
    placement: PlacementDecision
    zones: tuple[str, ...]
    zone_reason: str
    subnets: tuple[Subnet, ...]
    ami: AmiChoice
    root_volume_gib: int
    security_groups: tuple[str, ...]
    """Roles of the groups every interface joins: ``nodes:<workload>``, ``fabric:<name>``."""
    efa_hugepages: int | None
    update: NodeUpdate

    @property
    def gpus_per_node(self) -> int:
        return self.instance.accelerator_count

    @property
    def vcpus(self) -> int:
        return self.instance.vcpus

    @property
    def memory_mib(self) -> int:
        return self.instance.memory_mib

    @property
    def kind(self) -> str:
        return self.instance.name


@dataclass(frozen=True)
class ExistingNodes:
    """Nodes of an existing cluster (provider kubernetes), as the stack describes them: gpufleet
    neither creates nor relabels them, and cannot look."""

    node_selector: dict[str, str] = field(hash=False)
    gpus_per_node: int
    vcpus: int
    memory_gib: int

    @property
    def memory_mib(self) -> int:
        return self.memory_gib * 1024

    @property
    def kind(self) -> str:
        return ",".join(f"{key}={value}" for key, value in sorted(self.node_selector.items()))


NodeSource = LaunchedNodes | ExistingNodes


@dataclass(frozen=True)
class Pool:
    name: str
    workload: WorkloadClass
    source: NodeSource
    """Where the nodes come from: launched by gpufleet, or existing ones picked by their labels."""
    accelerator: Accelerator | None
    nodes: NodeCount
    fabric: Fabric | None
    storage: tuple[StorageTier, ...]
    mig: MigSetup | None
    models: tuple[ServedModel, ...]
    read_mbs_per_gpu: int | None
    """Training pools: what each GPU reads from the hot tier, as the stack says (None: the policy's figure)."""
    labels: dict[str, str] = field(hash=False)
    """Labels the nodes carry: gpufleet's own on launched nodes, the selector on existing ones."""
    taints: tuple[Taint, ...]
    location: Location
    time_slicing_replicas: int | None = None
    jobs: JobsSpec | None = None
    """The largest job the stack says the pool runs (``jobs``); None: a job may span ``nodes.max``."""

    @property
    def fabric_name(self) -> str | None:
        return self.fabric.name if self.fabric else None

    @property
    def node_group_labels(self) -> dict[str, str]:
        """The labels the managed node group carries (EKS edits them in place on running nodes);
        the others reach nodes through the launch template only."""
        return {key: value for key, value in self.labels.items() if key not in LAUNCH_TEMPLATE_ONLY_LABELS}

    @property
    def gpus_per_node(self) -> int:
        return self.source.gpus_per_node

    @property
    def vcpus_per_node(self) -> int:
        return self.source.vcpus

    @property
    def memory_mib_per_node(self) -> int:
        return self.source.memory_mib

    @property
    def node_kind(self) -> str:
        """What the nodes are: an instance type, or the selector of existing nodes."""
        return self.source.kind

    @property
    def gpus_max(self) -> int:
        return self.gpus_per_node * self.nodes.max

    @property
    def local_nvme(self) -> LocalNvmeTier | None:
        return next((tier for tier in self.storage if isinstance(tier, LocalNvmeTier)), None)

    def facts(self, scheduling: PoolScheduling, cost: PoolCost) -> PoolFacts:
        """The pool's one projection; ``scheduling``: how pods reach it (the Kubernetes plan's),
        ``cost``: what it costs (the plan's price of it)."""
        accelerator = self.accelerator.name if self.accelerator else None
        rate = cost.rate
        allocatable = scheduling.allocatable
        facts = PoolFacts(
            pool=self.name,
            workload=self.workload,
            instance_type=self.node_kind,
            accelerator=accelerator,
            accelerators_per_node=self.gpus_per_node,
            accelerators=f"{self.gpus_per_node} x {accelerator}" if accelerator else "-",
            nodes={"min": self.nodes.min, "desired": self.nodes.initial, "max": self.nodes.max},
            accelerators_max=self.gpus_max,
            fabric=self.fabric.kind if self.fabric else None,
            storage=tuple(tier.name for tier in self.storage),
            read_mbs_per_gpu=self.read_mbs_per_gpu,
            mig_config=self.mig.label_value if self.mig else None,
            labels=dict(self.labels),
            taints=tuple(f"{taint.key}={taint.value}:{taint.effect}" for taint in self.taints),
            flavor=scheduling.flavor,
            queues=scheduling.queues,
            pod_resources=dict(scheduling.pod_resources),
            pod_allocatable={"cpu": allocatable.pod_cpu, "memory": f"{allocatable.pod_memory_mib}Mi"},
            pod_allocatable_reason=allocatable.reason,
            usd_per_hour={"min": _cents(cost.floor_per_hour), "max": _cents(cost.ceiling_per_hour)},
            usd_per_30_days={"floor": _cents(cost.per_30_days("floor")), "ceiling": _cents(cost.per_30_days("ceiling"))},
            usd_per_node_hour=rate.usd_per_hour if rate else None,
            priced_as=(rate.basis + (", paid whether nodes run or not" if rate.paid_regardless else ""))
            if rate
            else f"not priced: {cost.unpriced}",
        )
        source = self.source
        if isinstance(source, ExistingNodes):
            return facts
        placement = source.placement
        return replace(
            facts,
            efa_interfaces=source.efa.efa_count if source.efa else 0,
            placement=placement.strategy,
            placement_reason=placement.reason,
            placement_group=placement.strategy if placement.strategy != "none" else None,
            capacity=source.capacity.type,
            capacity_type=source.capacity_type.value,
            reservation=source.capacity.reservation_id,
            zones=source.zones,
            zone_reason=source.zone_reason,
            subnets=tuple(str(subnet.cidr) for subnet in source.subnets),
            update_strategy=source.update.strategy,
            update_reason=source.update.reason,
            mig_config_label=self.labels.get(MIG_CONFIG_LABEL),
            mig_config_label_channel=MIG_LABEL_CHANNEL if MIG_CONFIG_LABEL in self.labels else None,
        )


@dataclass(frozen=True)
class FleetPlan:
    stack: str
    source: str
    cluster: ClusterPlan
    fabrics: dict[str, Fabric] = field(hash=False)
    storage: tuple[StorageTier, ...]
    mig_plans: tuple[MigSetup, ...]
    pools: tuple[Pool, ...]
    kubernetes: KubernetesPlan
    """The cluster's Kubernetes side: every object's shape and why."""
    mig_config: MigPartedConfig
    """Every MIG plan of the stack as one mig-parted config, mounted by the MIG manager."""
    cost: FleetCost
    """What every pool and tier costs, priced from the catalog's table when the plan was resolved."""
    validation: ValidationPlan
    """Each GPU pool's checks (DCGM, NCCL): what the preview writes and ``gpufleet verify`` applies."""
    monitoring: MonitoringPlan | None
    """The metrics sink, counters, alerts and dashboards of the GPU pools; None without any."""
    placement: PlacementPlan
    """Per training pool: its largest job and the Kueue Topology its flavor names, with why."""
    queues: QueuesSpec = field(default_factory=QueuesSpec)
    findings: tuple[Finding, ...] = ()
    """Warnings and notes about a valid stack; errors never reach a plan."""

    @property
    def network(self) -> NetworkLayout | None:
        """The VPC layout of a cluster on AWS; an existing cluster has none."""
        cloud = self.cluster.cloud
        return cloud.network if isinstance(cloud, AwsCloud) else None

    def storage_tier(self, name: str) -> StorageTier:
        return next(tier for tier in self.storage if tier.name == name)

    @property
    def node_classes(self) -> tuple[str, ...]:
        """Workload classes with pools: each gets its own node role and security group."""
        return tuple(sorted({pool.workload for pool in self.pools}))

    def client_classes(self, tier: StorageTier) -> tuple[str, ...]:
        """The node classes whose pools mount ``tier``: their security groups need its traffic."""
        return tuple(sorted({pool.workload for pool in self.pools if any(t.name == tier.name for t in pool.storage)}))

    def pool_facts(self) -> tuple[PoolFacts, ...]:
        return tuple(pool.facts(self.kubernetes.scheduling[pool.name], self.cost.pool(pool.name)) for pool in self.pools)

    def tier_facts(self) -> tuple[TierFacts, ...]:
        """Each tier's facts with its price (local NVMe is paid for with the nodes it is on)."""
        return tuple(
            _priced_tier(tier.facts(), self.cost.tier(tier.name) if tier.kind != "local-nvme" else None) for tier in self.storage
        )

    def cluster_facts(self) -> ClusterFacts:
        cluster = self.cluster
        cloud = cluster.cloud
        release = cloud.eks.ami_release.value if isinstance(cloud, AwsCloud) else None
        return ClusterFacts(
            cluster.name, cluster.provider, cluster.region, cluster.kubernetes_version, tuple(cluster.admins), release
        )

    def network_facts(self) -> NetworkFacts | None:
        network = self.network
        return NetworkFacts(str(network.vpc_cidr), network.zones) if network else None

    def fleet_facts(self) -> FleetFacts:
        totals: Counter[str] = Counter()
        for pool in self.pools:
            if pool.accelerator is not None:
                totals[pool.accelerator.name] += pool.gpus_max
        return FleetFacts(
            len(self.pools),
            dict(sorted(totals.items())),
            sum(pool.nodes.max for pool in self.pools),
            {bound: cents(self.cost.per_30_days(bound)) for bound in ("floor", "ceiling")},
            self.cost.excluded,
        )


def _cents(usd: Decimal | None) -> Decimal | None:
    return None if usd is None else cents(usd)


def _priced_tier(facts: TierFacts, cost: TierCost | None) -> TierFacts:
    if cost is None:
        return replace(facts, priced_as="paid with the nodes it is on")
    what = cost.what if cost.unpriced is None else f"{cost.what}; not priced: {cost.unpriced}"
    return replace(facts, usd_per_30_days=_cents(cost.per_30_days), priced_as=what)
