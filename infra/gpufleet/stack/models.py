"""What a user writes in ``stacks/<env>.yaml``: one cluster, typed and immutable.

These models check shape and local ranges only. Anything that needs the hardware catalog or
another part of the stack (does the instance exist, does the fabric fit it) is checked when
the model is resolved, so a spec never depends on catalog contents to parse. Every number
and list is bounded (see ``gpufleet.values``), and whatever a later step would refuse (a
reserved MIG plan name, a VPC range AWS rejects) is refused here first.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from gpufleet.catalog.models import GroupStrategy
from gpufleet.catalog.storage import LustreDeployment
from gpufleet.documents import excerpt
from gpufleet.mig.demand import ServiceDemand, Services
from gpufleet.mig.feasibility import DeviceLayout, Layout
from gpufleet.mig.parted_config import RESET_CONFIG
from gpufleet.values import (
    MAX_ACCELERATORS_PER_NODE,
    MAX_ADMINS,
    MAX_CPUS_PER_NODE,
    MAX_ENTRIES,
    MAX_FSX_CAPACITY_TIB,
    MAX_NODE_MEMORY_GIB,
    MAX_NODES,
    MAX_PARAMETERS_B,
    MAX_PODS,
    MAX_POOLS,
    MAX_RESERVATION_HOURS,
    MAX_STORAGE_GB,
    MAX_USD,
    NAME_PATTERN,
    Bool,
    Float,
    Int,
    Name,
)

__all__ = ["NAME_PATTERN", "Float", "Int", "Name", "ServiceDemand", "StackSpec"]

# Free-text identifiers (instance types, zones, GPU names) are looked up in the catalog or
# the network; this only keeps a hostile value from being megabytes long.
Identifier = Annotated[str, Field(min_length=1, max_length=64)]

LabelKey = Annotated[
    str,
    Field(
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$",
        description="A Kubernetes label key: optional DNS prefix and '/', then up to 63 characters.",
    ),
]
LabelValue = Annotated[str, Field(pattern=r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")]

WorkloadClass = Literal["training", "inference", "lab", "system"]
Provider = Literal["aws", "kubernetes"]
FabricKind = Literal["efa", "infiniband", "ethernet"]
StorageKind = Literal["s3", "fsx-lustre", "local-nvme"]
PlacementStrategy = Literal[GroupStrategy, "none"]
RDMA_FABRICS: tuple[FabricKind, ...] = ("efa", "infiniband")
CapacityType = Literal["on-demand", "spot", "capacity-block", "reservation"]
Precision = Literal["fp32", "bf16", "fp16", "fp8", "int8", "int4", "fp4"]


class StackModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# An IAM role or user ARN with an optional path: IAM's name characters only, so no `*` or `?`
# (an access entry names one principal; a wildcard is refused by EKS and would mean everyone).
ADMIN_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}\Z")


def _one_principal(arn: str) -> str:
    if "*" in arn or "?" in arn:
        raise ValueError(
            f"{excerpt(arn)} has a wildcard; an access entry names one IAM role or user, and a wildcard would mean any of them"
        )
    if not ADMIN_ARN.match(arn):
        raise ValueError(f"{excerpt(arn)} is not an IAM role or user ARN (arn:aws:iam::<12-digit account>:role/<name>)")
    return arn


ControlPlaneLogType = Literal["api", "audit", "authenticator", "controllerManager", "scheduler"]


DeployFrom = Literal["public", "connected", "in-vpc"]
QueueStop = Literal["hold", "hold-and-drain"]


class EndpointAccessSpec(StackModel):
    """Who reaches the EKS API: always the VPC, connected networks and the internet only from the CIDRs listed."""

    public_cidrs: tuple[IPv4Network, ...] = Field(
        default=(),
        max_length=MAX_ENTRIES,
        description="CIDRs allowed to the public endpoint; empty keeps the endpoint private to the VPC.",
    )
    private_cidrs: tuple[IPv4Network, ...] = Field(
        default=(),
        max_length=MAX_ENTRIES,
        description="Connected networks (VPN, Direct Connect, peered or Transit Gateway VPCs) allowed to the "
        "private endpoint on 443; the connection itself is yours to make.",
    )
    deploy_from: DeployFrom | None = Field(
        default=None,
        description="Where `pulumi up` runs, so its Kubernetes provider reaches the API: public (an address in "
        "public_cidrs), connected (a network in private_cidrs) or in-vpc (inside the VPC). Unset: public when "
        "public_cidrs are listed, else connected when private_cidrs are.",
    )


class ClusterSpec(StackModel):
    name: Name
    provider: Provider = Field(
        description="aws: gpufleet creates the cloud side too; kubernetes: an existing cluster, "
        "only its Kubernetes configuration is rendered."
    )
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
    kubernetes_version: str = Field(pattern=r"^1\.[0-9]{2}$")
    admins: tuple[Annotated[str, Field(max_length=2048), AfterValidator(_one_principal)], ...] = Field(
        default=(),
        max_length=MAX_ADMINS,
        description="IAM role or user ARNs given cluster-admin through EKS access entries: one principal each, no wildcards.",
    )
    bootstrap_admin: bool | None = Field(
        default=None,
        description="Let EKS make whoever creates the cluster a cluster-admin outside the spec. Unset: "
        "only when no admins are listed (someone must administer it). EKS fixes this at creation.",
    )
    deployer: Annotated[str, Field(max_length=2048), AfterValidator(_one_principal)] | None = Field(
        default=None,
        description="The IAM role or user that runs `pulumi up`. With admins listed (bootstrap_admin off) EKS "
        "gives it no Kubernetes access of its own: it must be one of the admins.",
    )
    endpoint: EndpointAccessSpec = EndpointAccessSpec()
    log_types: tuple[ControlPlaneLogType, ...] = Field(
        default=("api", "audit", "authenticator"),
        max_length=5,
        description="EKS control-plane log types sent to CloudWatch Logs.",
    )
    ami_release: str | None = Field(
        default=None,
        pattern=r"^v[0-9]{8}$",
        description="EKS-optimized AMI release (v20250620) every node runs; unset, the catalog's pin "
        "for the Kubernetes version. Changing it rolls every node: an upgrade is this edit.",
    )
    monthly_budget_usd: Float | None = Field(
        default=None,
        gt=0,
        le=MAX_USD,
        description="What the stack may cost per 30 days, in US dollars: `gpufleet check` fails when its "
        "floor or ceiling goes over (policy monthly-budget) and warns near it (monthly-budget-headroom).",
    )
    production: Bool | None = Field(
        default=None,
        description="Whether this stack is production: its API endpoint must not be open to the internet, its "
        "GPU pools may keep nodes running, and an edit may not replace a training pool's nodes or a retained "
        "tier unless may_replace names it. Unset: production when the stack's name is one of the policy "
        "config's production_stacks (prod, production).",
    )

    @model_validator(mode="after")
    def _aws_needs_region(self) -> ClusterSpec:
        if self.provider == "aws" and self.region is None:
            raise ValueError("region is required when provider is aws")
        return self


class NetworkSpec(StackModel):
    vpc_cidr: IPv4Network
    availability_zones: tuple[Identifier, ...] = Field(min_length=1, max_length=MAX_ENTRIES)

    @field_validator("vpc_cidr", mode="before")
    @classmethod
    def _written_as_text(cls, vpc_cidr: object) -> object:
        # ipaddress takes an int (or YAML's true) as an address; a CIDR is only ever written out.
        if not isinstance(vpc_cidr, str):
            raise ValueError(f"must be a CIDR block written as text, e.g. 10.0.0.0/16, got {type(vpc_cidr).__name__}")
        return vpc_cidr

    @field_validator("vpc_cidr")
    @classmethod
    def _room_for_subnets(cls, vpc_cidr: IPv4Network) -> IPv4Network:
        if vpc_cidr.prefixlen != 16:
            raise ValueError(
                f"must be a /16 (the largest VPC AWS allows), not /{vpc_cidr.prefixlen}: gpufleet splits it into per-zone and per-pool subnets"
            )
        unusable = _unroutable(vpc_cidr)
        if unusable:
            raise ValueError(
                f"{vpc_cidr} is {unusable}, which AWS does not accept for a VPC; use a private range such as 10.0.0.0/16 (RFC 1918)"
            )
        return vpc_cidr


def _unroutable(network: IPv4Network) -> str | None:
    """Ranges no VPC can hold: they never leave a host or are not unicast at all."""
    if network.is_loopback:
        return "loopback (127.0.0.0/8)"
    if network.is_link_local:
        return "link-local (169.254.0.0/16, where instance metadata lives)"
    if network.is_multicast:
        return "multicast (224.0.0.0/4)"
    if network.is_reserved or network.subnet_of(IPv4Network("0.0.0.0/8")):
        return "reserved (0.0.0.0/8 or 240.0.0.0/4)"
    return None


class FabricSpec(StackModel):
    kind: FabricKind = Field(
        description="efa and infiniband are RDMA fabrics for multi-node training; ethernet is plain TCP networking."
    )


class S3TierSpec(StackModel):
    kind: Literal["s3"]
    versioning: Bool = True
    allow_deletion: Bool = Field(default=False, description="Stateful tiers are protected from deletion unless set.")
    size_gb: Int | None = Field(
        default=None,
        ge=1,
        le=MAX_STORAGE_GB,
        description="The data it holds, in GB as S3 bills it (GB-months): prices the tier. Unset, its size is unknown.",
    )


class FsxLustreTierSpec(StackModel):
    kind: Literal["fsx-lustre"]
    deployment: LustreDeployment = "PERSISTENT_2"
    capacity_tib: Float = Field(
        gt=0,
        le=MAX_FSX_CAPACITY_TIB,
        description="In FSx's own units, where 1.2 TiB is 1200 GiB of StorageCapacity.",
    )
    throughput_per_tib: Int = Field(gt=0, le=1_000_000, description="PerUnitStorageThroughput, MB/s per TiB.")
    import_from: Name | None = Field(default=None, description="An s3 tier linked by a data repository association.")
    allow_deletion: Bool = False
    backup_retention_days: Int | None = Field(
        default=None,
        ge=0,
        le=90,
        description="Daily automatic backups kept (persistent deployments only); unset, 7. 0 turns them off.",
    )
    namespaces: tuple[Name, ...] = Field(
        default=(),
        max_length=MAX_ENTRIES,
        description="Kubernetes namespaces that get a PersistentVolumeClaim bound to this file system.",
    )


class LocalNvmeTierSpec(StackModel):
    kind: Literal["local-nvme"]
    mount_path: str = Field(default="/mnt/nvme", pattern=r"^/[A-Za-z0-9/_.-]*$", max_length=255)

    @field_validator("mount_path")
    @classmethod
    def _a_directory_of_its_own(cls, mount_path: str) -> str:
        parts = mount_path.split("/")[1:]
        if mount_path.rstrip("/") == "":
            raise ValueError("mount_path '/' is the node's root file system; name a directory of its own (e.g. /mnt/nvme)")
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"mount_path '{mount_path}' has an empty, '.' or '..' part: write the directory itself")
        if mount_path in _SYSTEM_DIRECTORIES:
            raise ValueError(
                f"mount_path '{mount_path}' is a system directory; mounting the disks there hides the node's own files (use e.g. /mnt/nvme)"
            )
        return mount_path


# Mounting over one of these makes the node unbootable or hides what the kubelet needs.
_SYSTEM_DIRECTORIES = frozenset(
    f"/{name}"
    for name in (
        "bin",
        "boot",
        "dev",
        "etc",
        "home",
        "lib",
        "lib64",
        "opt",
        "proc",
        "root",
        "run",
        "sbin",
        "srv",
        "sys",
        "tmp",
        "usr",
        "var",
    )
) | {"/var/lib", "/var/lib/kubelet", "/var/lib/containerd", "/var/log"}


StorageTierSpec = Annotated[S3TierSpec | FsxLustreTierSpec | LocalNvmeTierSpec, Field(discriminator="kind")]


def _creates_instances(entry: DeviceLayout) -> DeviceLayout:
    """A stack's per-device layout always names instances.

    The engine's ``DeviceLayout`` also has MIG off (``layout: null``) and MIG on without
    instances (``{}``); neither is a stack form, and each is refused at the ``layout`` key
    with the message the loader gives any missing mapping or empty one.
    """
    if entry.layout:
        return entry
    if entry.layout is None:
        problem = InitErrorDetails(type="dict_type", loc=("layout",), input=None)
    else:
        context = {"field_type": "Dictionary", "min_length": 1, "actual_length": 0}
        problem = InitErrorDetails(type="too_short", loc=("layout",), input=entry.layout, ctx=context)
    raise ValidationError.from_exception_data(DeviceLayout.__name__, [problem])


class MigPlanSpec(StackModel):
    gpu: Identifier
    layout: Layout | None = Field(default=None, description="Profile -> count, the same on every GPU of the node.")
    devices: tuple[Annotated[DeviceLayout, AfterValidator(_creates_instances)], ...] | None = Field(
        default=None, max_length=MAX_ACCELERATORS_PER_NODE, description="Different layouts for different GPU indexes."
    )
    demand: Services | None = Field(default=None, description="Services to pack; gpufleet chooses the layout.")

    @model_validator(mode="after")
    def _exactly_one_form(self) -> MigPlanSpec:
        given = [f for f in ("layout", "devices", "demand") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of layout, devices or demand")
        return self


def _not_reserved(name: str) -> str:
    if name == RESET_CONFIG:
        raise ValueError(f"'{RESET_CONFIG}' is reserved: it is the mig-parted config gpufleet writes to turn MIG off")
    return name


MigPlanName = Annotated[Name, AfterValidator(_not_reserved)]


class NodeCount(StackModel):
    min: Int = Field(ge=0, le=MAX_NODES)
    max: Int = Field(ge=1, le=MAX_NODES, description=f"At most {MAX_NODES}, the most nodes Kubernetes supports in a cluster.")
    desired: Int | None = Field(default=None, ge=0, le=MAX_NODES)

    @model_validator(mode="after")
    def _ordered(self) -> NodeCount:
        desired = self.min if self.desired is None else self.desired
        if not self.min <= desired <= self.max:
            raise ValueError(f"need min <= desired <= max, got {self.min} <= {desired} <= {self.max}")
        return self

    @property
    def initial(self) -> int:
        return self.min if self.desired is None else self.desired


class HourlyPrice(StackModel):
    hourly_usd: Float = Field(
        gt=0,
        le=MAX_USD,
        description="What one reserved instance costs per hour: a capacity block's effective instance hourly "
        "rate, a reservation's on-demand (or discounted) rate.",
    )


class UpfrontPrice(StackModel):
    upfront_usd: Float = Field(gt=0, le=MAX_USD, description="What the whole reservation cost, paid up front.")
    hours: Int = Field(ge=1, le=MAX_RESERVATION_HOURS, description="The hours that figure buys: the reservation's length.")


def _price_form(value: object) -> str:
    """Which form a reserved price is written in (one of ``UNION_TAGS``)."""
    return "upfront" if isinstance(value, dict) and "upfront_usd" in value else "hourly"


CapacityPrice = Annotated[
    Annotated[HourlyPrice, Tag("hourly")] | Annotated[UpfrontPrice, Tag("upfront")], Discriminator(_price_form)
]


class Capacity(StackModel):
    type: CapacityType = "on-demand"
    reservation_id: str | None = Field(default=None, pattern=r"^cr-[0-9a-f]{8,17}$")
    availability_zone: Identifier | None = Field(
        default=None, description="The zone the reservation or capacity block was bought in."
    )
    placement_group: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]{1,255}$",
        description="reservation only: the existing cluster placement group the reservation was "
        "created in; instances must launch into it.",
    )
    price: CapacityPrice | None = Field(
        default=None,
        description="capacity-block or reservation: what it costs, {hourly_usd} per instance or {upfront_usd, hours} "
        "for the whole reservation; no public table has it. On-demand and spot are priced from the catalog.",
    )
    instances: Int | None = Field(
        default=None,
        ge=1,
        le=MAX_NODES,
        description="capacity-block or reservation: how many instances it holds; no job of the pool may ask more nodes.",
    )

    @model_validator(mode="after")
    def _reservation_fits_type(self) -> Capacity:
        reserved = self.type in ("capacity-block", "reservation")
        if reserved and self.reservation_id is None:
            raise ValueError(f"capacity type {self.type} needs reservation_id (cr-...)")
        if reserved and self.availability_zone is None:
            raise ValueError(f"capacity type {self.type} needs availability_zone: a reservation lives in one zone")
        if not reserved and (self.reservation_id is not None or self.availability_zone is not None):
            raise ValueError(f"reservation_id and availability_zone only apply to capacity-block or reservation, not {self.type}")
        if self.placement_group is not None and self.type != "reservation":
            raise ValueError(f"placement_group only applies to a reservation, not {self.type}")
        if self.price is not None and not reserved:
            raise ValueError(f"price only applies to capacity-block or reservation; {self.type} is priced from the catalog")
        if self.instances is not None and not reserved:
            raise ValueError(f"instances only applies to capacity-block or reservation, not {self.type}")
        return self

    @property
    def reserved(self) -> bool:
        """Paid for whether its instances run or not."""
        return self.type in ("capacity-block", "reservation")


class ServedModel(StackModel):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/:-]{0,127}$", description="As the model hub names it, e.g. meta-llama/Llama-3.1-8B."
    )
    parameters_b: Float = Field(gt=0, le=MAX_PARAMETERS_B, description="Parameters, in billions.")
    precision: Precision = "bf16"
    replicas: Int = Field(default=1, ge=1, le=MAX_PODS)


class TaintSpec(StackModel):
    key: LabelKey
    value: LabelValue = ""
    effect: Literal["NoSchedule", "NoExecute", "PreferNoSchedule"] = "NoSchedule"


class TimeSlicingSpec(StackModel):
    replicas: Int = Field(ge=2, le=64, description="How many pods share each GPU of the node.")


class SharingSpec(StackModel):
    time_slicing: TimeSlicingSpec


class JobsSpec(StackModel):
    """The largest job a training pool runs, so it is refused before apply if the pool cannot hold it."""

    max_nodes: Int = Field(ge=1, le=MAX_NODES, description="Nodes one job spans at most (its gang size in nodes).")
    within: LabelKey | None = Field(
        default=None,
        description="Keep each job's pods under one value of this node label, e.g. topology.k8s.aws/network-node-layer-3 "
        "(a Kueue topology level of the pool's instance type); unset: as close as Kueue can place them.",
    )


class NodePoolSpec(StackModel):
    workload: WorkloadClass
    instance_type: Identifier | None = Field(default=None, description="provider aws: the EC2 instance type gpufleet launches.")
    node_selector: dict[LabelKey, LabelValue] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_ENTRIES,
        description="provider kubernetes: the labels that pick this pool's existing nodes.",
    )
    gpu: Identifier | None = Field(default=None, description="provider kubernetes: the catalog GPU the existing nodes carry.")
    gpus_per_node: Int | None = Field(
        default=None, ge=1, le=MAX_ACCELERATORS_PER_NODE, description="provider kubernetes: GPUs on each node."
    )
    cpus_per_node: Int | None = Field(
        default=None, ge=1, le=MAX_CPUS_PER_NODE, description="provider kubernetes: CPUs on each node (queue quotas)."
    )
    memory_gib_per_node: Int | None = Field(
        default=None, ge=1, le=MAX_NODE_MEMORY_GIB, description="provider kubernetes: memory of each node in GiB (queue quotas)."
    )
    taints: tuple[TaintSpec, ...] | None = Field(
        default=None,
        max_length=MAX_ENTRIES,
        description="provider kubernetes: the taints the existing nodes carry; their flavor and the operands tolerate them.",
    )
    nodes: NodeCount
    sharing: SharingSpec | None = Field(default=None, description="Lab pools: let several pods share a GPU by time-slicing.")
    fabric: Name | None = None
    placement: PlacementStrategy | None = Field(
        default=None,
        description="Unset: cluster for multi-node training on an RDMA fabric, else none.",
    )
    availability_zone: Identifier | None = Field(
        default=None,
        description="Zone of a single-zone pool (EFA, training, cluster placement); defaults to "
        "the reservation's zone for reserved capacity, else the first network zone.",
    )
    capacity: Capacity = Capacity()
    storage: tuple[Name, ...] = Field(default=(), max_length=MAX_ENTRIES)
    mig: Name | None = None
    models: tuple[ServedModel, ...] = Field(default=(), max_length=MAX_ENTRIES)
    allow_non_rdma: Bool = Field(
        default=False,
        description="Accept a multi-node training pool without an RDMA fabric in validate; `gpufleet check` "
        "still fails it (policy training-on-rdma-fabric) unless the policy config makes that advisory.",
    )
    read_mbs_per_gpu: Int | None = Field(
        default=None,
        ge=1,
        le=100_000,
        description="Training pools: MB/s each GPU reads from its hot (fsx-lustre) tier, what the tier was sized for "
        "and what `gpufleet check` judges its disk throughput against. Unset: the policy config's read_mbs_per_gpu.",
    )
    labels: dict[LabelKey, LabelValue] = Field(default={}, max_length=MAX_ENTRIES)
    jobs: JobsSpec | None = Field(default=None, description="Training pools: the largest job they run.")

    @model_validator(mode="after")
    def _nodes_described_once(self) -> NodePoolSpec:
        if (self.instance_type is None) == (self.node_selector is None):
            raise ValueError(
                "give instance_type (nodes gpufleet launches, provider aws) or node_selector "
                "(existing nodes, provider kubernetes), exactly one"
            )
        return self


class QueuesSpec(StackModel):
    """Namespaces that submit work per workload class; each gets a Kueue LocalQueue."""

    training: tuple[Name, ...] = Field(default=(), max_length=MAX_ENTRIES)
    inference: tuple[Name, ...] = Field(default=(), max_length=MAX_ENTRIES)
    lab: tuple[Name, ...] = Field(default=(), max_length=MAX_ENTRIES)
    stop: dict[Name, QueueStop] = Field(
        default={},
        max_length=MAX_ENTRIES,
        description="ClusterQueues to stop, by name (`gpufleet validate --json` lists them): no new admissions; "
        "hold lets admitted workloads finish, hold-and-drain evicts them. Removing a queue or its pools waits "
        "until its admitted workloads are gone: stop it in one `pulumi up`, remove it in the next.",
    )


class ValidationSpec(StackModel):
    """What happens to the per-pool validation jobs (DCGM diagnostics, NCCL all-reduce)."""

    create: Bool = Field(
        default=False,
        description="Create them with the fleet on `pulumi up` (each pool's checks as one component); "
        "otherwise `gpufleet verify` runs them on demand. The preview writes them either way.",
    )


class MonitoringSpec(StackModel):
    """The metrics sink for the GPU pools: Prometheus and Grafana (kube-prometheus-stack)."""

    retention_days: Int = Field(default=15, ge=1, le=365, description="Days of metrics Prometheus keeps.")
    storage_gib: Int = Field(
        default=100, ge=10, le=16384, description="Prometheus volume size; the oldest data goes first past 90% of it."
    )
    omit_counters: tuple[Annotated[str, Field(pattern=r"^DCGM_(FI|EXP)_[A-Z0-9_]{1,64}$")], ...] = Field(
        default=(),
        max_length=MAX_ENTRIES,
        description="DCGM exporter fields to leave out of the counters gpufleet renders (to cut series); "
        "an alert or dashboard that needs one is then an error.",
    )


class StackSpec(StackModel):
    """One environment's cluster."""

    may_replace: tuple[Name, ...] = Field(
        default=(),
        max_length=MAX_ENTRIES,
        description="Pools and storage tiers an edit of this production stack may replace (their node group, "
        "their subnet, a retained tier): `gpufleet check --base` fails a replacement it does not name. "
        "List them in the change that replaces them; remove them after it is applied.",
    )

    cluster: ClusterSpec
    network: NetworkSpec | None = None
    fabrics: dict[Name, FabricSpec] = Field(default={}, max_length=MAX_ENTRIES)
    storage: dict[Name, StorageTierSpec] = Field(default={}, max_length=MAX_ENTRIES)
    mig_plans: dict[MigPlanName, MigPlanSpec] = Field(default={}, max_length=MAX_ENTRIES)
    node_pools: dict[Name, NodePoolSpec] = Field(min_length=1, max_length=MAX_POOLS)
    queues: QueuesSpec = QueuesSpec()
    validation: ValidationSpec = ValidationSpec()
    monitoring: MonitoringSpec = MonitoringSpec()

    @field_validator("node_pools")
    @classmethod
    def _cluster_size(cls, pools: dict[str, NodePoolSpec]) -> dict[str, NodePoolSpec]:
        total = sum(pool.nodes.max for pool in pools.values())
        if total > MAX_NODES:
            raise ValueError(
                f"the pools may grow to {total} nodes together; Kubernetes supports at most {MAX_NODES} in one cluster"
            )
        return pools

    @model_validator(mode="after")
    def _aws_needs_network(self) -> StackSpec:
        if self.cluster.provider == "aws" and self.network is None:
            raise ValueError("network is required when cluster.provider is aws")
        return self
