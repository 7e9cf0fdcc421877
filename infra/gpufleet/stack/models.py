"""What a user writes in ``stacks/<env>.yaml``: one cluster, typed and immutable.

These models check shape and local ranges only. Anything that needs the hardware catalog or
another part of the stack (does the instance exist, does the fabric fit it) is checked when
the model is resolved, so a spec never depends on catalog contents to parse.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails

from gpufleet.mig.feasibility import DeviceLayout, Layout

from gpufleet.catalog.models import GroupStrategy
from gpufleet.catalog.storage import LustreDeployment

NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$"
Name = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN,
        description="Lowercase letters, digits and '-', starting with a letter (at most 40): "
        "it becomes part of AWS and Kubernetes names.",
    ),
]

# Numbers are strict: YAML's true/false or a quoted "3" must not pass for a count.
Int = Annotated[int, Field(strict=True)]
Float = Annotated[float, Field(strict=True)]

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


class ClusterSpec(StackModel):
    name: Name
    provider: Provider = Field(
        description="aws: gpufleet creates the cloud side too; kubernetes: an existing cluster, "
        "only its Kubernetes configuration is rendered."
    )
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    kubernetes_version: str = Field(pattern=r"^1\.\d{2}$")
    admins: tuple[Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/.+$")], ...] = Field(
        default=(), description="IAM role or user ARNs given cluster-admin through EKS access entries."
    )

    @model_validator(mode="after")
    def _aws_needs_region(self) -> ClusterSpec:
        if self.provider == "aws" and self.region is None:
            raise ValueError("region is required when provider is aws")
        return self


class NetworkSpec(StackModel):
    vpc_cidr: IPv4Network
    availability_zones: tuple[str, ...] = Field(min_length=1)

    @field_validator("vpc_cidr")
    @classmethod
    def _room_for_subnets(cls, vpc_cidr: IPv4Network) -> IPv4Network:
        if vpc_cidr.prefixlen != 16:
            raise ValueError(f"must be a /16 (the largest VPC AWS allows), not /{vpc_cidr.prefixlen}: gpufleet splits it into per-zone and per-pool subnets")
        return vpc_cidr


class FabricSpec(StackModel):
    kind: FabricKind = Field(
        description="efa and infiniband are RDMA fabrics for multi-node training; ethernet is "
        "plain TCP networking."
    )


class S3TierSpec(StackModel):
    kind: Literal["s3"]
    versioning: bool = True
    allow_deletion: bool = Field(
        default=False, description="Stateful tiers are protected from deletion unless set."
    )


class FsxLustreTierSpec(StackModel):
    kind: Literal["fsx-lustre"]
    deployment: LustreDeployment = "PERSISTENT_2"
    capacity_tib: Float = Field(
        gt=0,
        description="In FSx's own units, where 1.2 TiB is 1200 GiB of StorageCapacity.",
    )
    throughput_per_tib: Int = Field(gt=0, description="PerUnitStorageThroughput, MB/s per TiB.")
    import_from: Name | None = Field(
        default=None, description="An s3 tier linked by a data repository association."
    )
    allow_deletion: bool = False
    namespaces: tuple[Name, ...] = Field(
        default=(), description="Kubernetes namespaces that get a PersistentVolumeClaim bound to this file system."
    )


class LocalNvmeTierSpec(StackModel):
    kind: Literal["local-nvme"]
    mount_path: str = Field(default="/mnt/nvme", pattern=r"^/[A-Za-z0-9/_.-]*$")


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


class ServiceDemand(StackModel):
    name: Name
    memory_gib: Float = Field(gt=0)
    compute_share: Float | None = Field(default=None, gt=0, le=1)
    replicas: Int = Field(default=1, ge=1)


class MigPlanSpec(StackModel):
    gpu: str
    layout: Layout | None = Field(default=None, description="Profile -> count, the same on every GPU of the node.")
    devices: tuple[Annotated[DeviceLayout, AfterValidator(_creates_instances)], ...] | None = Field(
        default=None, description="Different layouts for different GPU indexes."
    )
    demand: tuple[ServiceDemand, ...] | None = Field(
        default=None, description="Services to pack; gpufleet chooses the layout."
    )

    @model_validator(mode="after")
    def _exactly_one_form(self) -> MigPlanSpec:
        given = [f for f in ("layout", "devices", "demand") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of layout, devices or demand")
        return self


class NodeCount(StackModel):
    min: Int = Field(ge=0)
    max: Int = Field(ge=1)
    desired: Int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> NodeCount:
        desired = self.min if self.desired is None else self.desired
        if not self.min <= desired <= self.max:
            raise ValueError(f"need min <= desired <= max, got {self.min} <= {desired} <= {self.max}")
        return self

    @property
    def initial(self) -> int:
        return self.min if self.desired is None else self.desired


class Capacity(StackModel):
    type: CapacityType = "on-demand"
    reservation_id: str | None = Field(default=None, pattern=r"^cr-[0-9a-f]{8,17}$")
    availability_zone: str | None = Field(
        default=None, description="The zone the reservation or capacity block was bought in."
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
        return self


class ServedModel(StackModel):
    name: str = Field(min_length=1)
    parameters_b: Float = Field(gt=0, description="Parameters, in billions.")
    precision: Precision = "bf16"
    replicas: Int = Field(default=1, ge=1)


class TimeSlicingSpec(StackModel):
    replicas: Int = Field(ge=2, le=64, description="How many pods share each GPU of the node.")


class SharingSpec(StackModel):
    time_slicing: TimeSlicingSpec


class NodePoolSpec(StackModel):
    workload: WorkloadClass
    instance_type: str | None = Field(
        default=None, description="provider aws: the EC2 instance type gpufleet launches."
    )
    node_selector: dict[LabelKey, LabelValue] | None = Field(
        default=None,
        min_length=1,
        description="provider kubernetes: the labels that pick this pool's existing nodes.",
    )
    gpu: str | None = Field(
        default=None, description="provider kubernetes: the catalog GPU the existing nodes carry."
    )
    gpus_per_node: Int | None = Field(default=None, ge=1, description="provider kubernetes: GPUs on each node.")
    cpus_per_node: Int | None = Field(default=None, ge=1, description="provider kubernetes: CPUs on each node (queue quotas).")
    memory_gib_per_node: Int | None = Field(default=None, ge=1, description="provider kubernetes: memory of each node in GiB (queue quotas).")
    nodes: NodeCount
    sharing: SharingSpec | None = Field(
        default=None, description="Lab pools: let several pods share a GPU by time-slicing."
    )
    fabric: Name | None = None
    placement: PlacementStrategy | None = Field(
        default=None,
        description="Unset: cluster for multi-node training on an RDMA fabric, else none.",
    )
    availability_zone: str | None = Field(
        default=None,
        description="Zone of a single-zone pool (EFA, training, cluster placement); defaults to "
        "the reservation's zone for reserved capacity, else the first network zone.",
    )
    capacity: Capacity = Capacity()
    storage: tuple[Name, ...] = ()
    mig: Name | None = None
    models: tuple[ServedModel, ...] = ()
    allow_non_rdma: bool = Field(
        default=False, description="Accept a multi-node training pool without an RDMA fabric."
    )
    labels: dict[LabelKey, LabelValue] = {}
    subnet_slot: Int | None = Field(
        default=None,
        ge=0,
        lt=112,
        description="Training pools: which dedicated /24 of the VPC's upper half to use. Unset, it "
        "comes from a hash of the pool name; pin it only when two names collide.",
    )

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

    training: tuple[Name, ...] = ()
    inference: tuple[Name, ...] = ()
    lab: tuple[Name, ...] = ()


class StackSpec(StackModel):
    """One environment's cluster."""

    cluster: ClusterSpec
    network: NetworkSpec | None = None
    fabrics: dict[Name, FabricSpec] = {}
    storage: dict[Name, StorageTierSpec] = {}
    mig_plans: dict[Name, MigPlanSpec] = {}
    node_pools: dict[Name, NodePoolSpec] = Field(min_length=1)
    queues: QueuesSpec = QueuesSpec()

    @model_validator(mode="after")
    def _aws_needs_network(self) -> StackSpec:
        if self.cluster.provider == "aws" and self.network is None:
            raise ValueError("network is required when cluster.provider is aws")
        return self
