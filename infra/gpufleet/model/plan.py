"""The resolved, validated plan: a stack joined with catalog facts and every decision made.

Renderers read only these objects. Anything a renderer needs that is not a plain copy of
the stack (EFA interface layout, subnets, placement, labels, taints, security groups, the
AMI parameter) is decided here once, with the reason kept beside it. Each named thing
keeps the ``Location`` it was written at, so a policy or a SARIF result can point there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import Literal

from gpufleet.catalog.models import Accelerator, InstanceType, InterfaceType
from gpufleet.catalog.storage import LustreDeployment
from gpufleet.findings import Finding, Location
from gpufleet.mig import DeviceLayout, ServiceDemand
from gpufleet.model.aws import AwsCluster, NodeUpdate
from gpufleet.stack.models import (
    RDMA_FABRICS,
    Capacity,
    FabricKind,
    NodeCount,
    PlacementStrategy,
    Provider,
    QueuesSpec,
    ServedModel,
    StorageKind,
    WorkloadClass,
)
from gpufleet.stack.record import SubnetRecord


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
class ClusterPlan:
    name: str
    provider: Provider
    region: str | None
    kubernetes_version: str
    admins: tuple[str, ...]
    location: Location
    aws: AwsCluster | None = None
    """The AWS pins and choices (AMI release, add-ons, service CIDR, endpoint, admins)."""
    monthly_budget_usd: float | None = None
    """What the stack may cost per 30 days (the budget policies' own figure for it)."""


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
        return f"fabric:{self.name}" if self.kind == "efa" else None


@dataclass(frozen=True)
class StorageTier:
    name: str
    kind: StorageKind
    protected: bool
    location: Location
    versioning: bool = False
    deployment: LustreDeployment | None = None
    fsx_capacity_gib: int | None = None
    throughput_per_tib: int | None = None
    throughput_mbs: float | None = None
    import_from: str | None = None
    subnet: Subnet | None = None
    client_ports: tuple[tuple[int, int], ...] = ()
    mount_path: str | None = None
    backup_retention_days: int | None = None
    """Daily automatic backups kept; None where the deployment has none (SCRATCH_2)."""
    namespaces: tuple[str, ...] = ()
    """Kubernetes namespaces that get a claim bound to this file system."""
    size_gb: int | None = None
    """An s3 tier's stated size (GB as S3 bills it), which prices it; None when unknown."""

    @property
    def persistent(self) -> bool:
        return self.deployment not in (None, "SCRATCH_2")


@dataclass(frozen=True)
class MigSetup:
    """A MIG plan as nodes get it: its mig-parted entry name and what each GPU group carries."""

    name: str
    accelerator: Accelerator
    label_value: str
    device_layouts: tuple[DeviceLayout, ...]
    location: Location
    demand: tuple[ServiceDemand, ...] = ()


@dataclass(frozen=True)
class PlacementDecision:
    strategy: PlacementStrategy
    reason: str
    partition_count: int | None = None
    existing_group: str | None = None
    """A placement group gpufleet does not own (the one a reservation was created in)."""


@dataclass(frozen=True)
class ExistingNodes:
    """Nodes of an existing cluster, as the stack describes them (gpufleet cannot look)."""

    node_selector: dict[str, str] = field(hash=False)
    gpus_per_node: int
    vcpus: int
    memory_gib: int


@dataclass(frozen=True)
class Pool:
    name: str
    workload: WorkloadClass
    instance: InstanceType | None
    """None for a pool of existing nodes (provider kubernetes), picked by ``existing.node_selector``."""
    accelerator: Accelerator | None
    nodes: NodeCount
    capacity: Capacity
    fabric: Fabric | None
    efa: EfaLayout | None
    placement: PlacementDecision
    zones: tuple[str, ...]
    subnets: tuple[Subnet, ...]
    storage: tuple[StorageTier, ...]
    mig: MigSetup | None
    models: tuple[ServedModel, ...]
    labels: dict[str, str] = field(hash=False)
    taints: tuple[Taint, ...]
    ami_family: str
    ami_parameter: str
    root_volume_gib: int
    security_groups: tuple[str, ...]
    """Roles of the groups every interface joins: ``nodes:<workload>``, ``fabric:<name>``."""
    efa_hugepages: int | None
    location: Location
    existing: ExistingNodes | None = None
    time_slicing_replicas: int | None = None
    update: NodeUpdate = field(default_factory=lambda: NodeUpdate("DEFAULT", "a surge node joins before an old one drains"))
    zone_reason: str = ""

    @property
    def fabric_name(self) -> str | None:
        return self.fabric.name if self.fabric else None

    @property
    def gpus_per_node(self) -> int:
        if self.instance is not None:
            return self.instance.accelerator_count
        return self.existing.gpus_per_node if self.existing else 0

    @property
    def vcpus_per_node(self) -> int:
        if self.instance is not None:
            return self.instance.vcpus
        return self.existing.vcpus if self.existing else 0

    @property
    def memory_mib_per_node(self) -> int:
        if self.instance is not None:
            return self.instance.memory_mib
        return self.existing.memory_gib * 1024 if self.existing else 0

    @property
    def node_kind(self) -> str:
        """What the nodes are: an instance type, or the selector of existing nodes."""
        if self.instance is not None:
            return self.instance.name
        return ",".join(f"{key}={value}" for key, value in sorted(self.existing.node_selector.items())) if self.existing else "-"

    @property
    def gpus_max(self) -> int:
        return self.gpus_per_node * self.nodes.max

    @property
    def single_zone(self) -> bool:
        return len(self.zones) == 1

    @property
    def local_nvme(self) -> StorageTier | None:
        return next((tier for tier in self.storage if tier.kind == "local-nvme"), None)


@dataclass(frozen=True)
class FleetPlan:
    stack: str
    source: str
    cluster: ClusterPlan
    network: NetworkLayout | None
    fabrics: dict[str, Fabric] = field(hash=False)
    storage: tuple[StorageTier, ...]
    mig_plans: tuple[MigSetup, ...]
    pools: tuple[Pool, ...]
    queues: QueuesSpec = field(default_factory=QueuesSpec)
    findings: tuple[Finding, ...] = ()
    """Warnings and notes about a valid stack; errors never reach a plan."""

    def storage_tier(self, name: str) -> StorageTier:
        return next(tier for tier in self.storage if tier.name == name)

    @property
    def node_classes(self) -> tuple[str, ...]:
        """Workload classes with pools: each gets its own node role and security group."""
        return tuple(sorted({pool.workload for pool in self.pools}))

    def client_classes(self, tier: StorageTier) -> tuple[str, ...]:
        """The node classes whose pools mount ``tier``: their security groups need its traffic."""
        return tuple(sorted({pool.workload for pool in self.pools if any(t.name == tier.name for t in pool.storage)}))
