"""One projection per concept: what a resolved plan says about a pool, a tier, a queue, a release.

``validate --json``, the tables, ``gpufleet diff`` and the preview's pool rows all read these
records, so a fact added here shows up in every one of them (a test holds that). Each record is
a frozen dataclass whose fields carry their metadata: the column title (``label``), whether the
``validate`` table shows it, under which key the preview's pool rows show it, and whether it
exists only for nodes gpufleet launches. ``compare=False`` marks what ``diff`` leaves out: reasons,
and values derived from a fact it already compares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

Cell = Callable[[Any], str]
CENT = Decimal("0.01")


def cents(usd: Decimal) -> Decimal:
    """A dollar figure to the cent, half up: what every shown figure is rounded to."""
    return usd.quantize(CENT, rounding=ROUND_HALF_UP)


def fact(
    label: str = "",
    *,
    table: bool = False,
    preview: str | None = None,
    launched: bool = False,
    compare: bool = True,
    cell: Cell | None = None,
    default: Any = MISSING,
) -> Any:
    """A field of a facts record. ``preview``: its key in the preview's pool rows; ``launched``:
    only nodes gpufleet launches have it (None for existing nodes, left out of their preview row);
    ``cell``: how the table writes it when the plain rendering does not suit."""
    return field(
        default=default,
        compare=compare,
        metadata={"label": label, "table": table, "preview": preview, "launched": launched, "cell": cell},
    )


def shown(value: Any) -> str:
    """A fact as a table cell or a diff line writes it: "-" for nothing, lists joined."""
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return f"${value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(map(shown, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {shown(item)}" for key, item in value.items()) + "}"
    return str(getattr(value, "summary", value))


def data(value: Any) -> Any:
    """A fact as JSON: records as their fields, tuples as lists, dollar figures as exact strings."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): data(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [data(item) for item in value]
    return {f.name: data(getattr(value, f.name)) for f in fields(value)}


class Facts:
    """What every facts record can do with its own fields: JSON, table cells, preview rows."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

    def as_json(self) -> dict[str, Any]:
        return {f.name: data(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def columns(cls) -> list[tuple[str, str]]:
        """(field, title) of each field the table shows, in field order."""
        return [(f.name, f.metadata["label"] or f.name) for f in fields(cls) if f.metadata.get("table")]

    def cells(self) -> list[str]:
        found = []
        for f in fields(self):
            if f.metadata.get("table"):
                value = getattr(self, f.name)
                cell = f.metadata.get("cell")
                found.append(cell(value) if cell is not None and value is not None else shown(value))
        return found

    def compared(self) -> dict[str, Any]:
        """What ``diff`` compares, flattened: a mapping's entries are facts of their own
        (``labels.gpufleet.io/pool``, ``values.driver.enabled``)."""
        flat: dict[str, Any] = {}
        for f in fields(self):
            if f.compare:
                _flatten(f.name, getattr(self, f.name), flat)
        return flat


def _flatten(path: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(f"{path}.{key}", item, into)
    else:
        into[path] = value


def preview_row(record: Facts, *, launched: bool) -> dict[str, Any]:
    """The preview's row of a record: its fields with a preview key, launched-only ones for launched nodes."""
    return {
        f.metadata["preview"]: data(getattr(record, f.name))
        for f in fields(record)
        if f.metadata.get("preview") and (launched or not f.metadata.get("launched"))
    }


def _nodes_cell(nodes: Mapping[str, int]) -> str:
    return f"{nodes['min']}-{nodes['max']}"


def _per_hour_cell(usd: Mapping[str, Decimal | None]) -> str:
    low, high = usd["min"], usd["max"]
    if low is None or high is None:
        return "-"
    return f"${low:,}" if low == high else f"${low:,}-{high:,}"


@dataclass(frozen=True)
class ClusterFacts(Facts):
    name: str = fact()
    provider: str = fact()
    region: str | None = fact()
    kubernetes_version: str = fact()
    admins: tuple[str, ...] = fact()
    ami_release: str | None = fact(default=None)
    """The EKS-optimized AMI release every launched node runs (AWS only)."""


@dataclass(frozen=True)
class NetworkFacts(Facts):
    vpc_cidr: str = fact()
    zones: tuple[str, ...] = fact()


@dataclass(frozen=True)
class FleetFacts(Facts):
    pools: int = fact()
    accelerators_max: dict[str, int] = fact()
    nodes_max: int = fact()
    usd_per_30_days: dict[str, Decimal] = fact()
    """The stack's 30 days at its ``floor`` and ``ceiling`` (what has a price; ``unpriced`` names the rest)."""
    unpriced: tuple[str, ...] = fact()


@dataclass(frozen=True, kw_only=True)
class PoolFacts(Facts):
    """One pool: the same record for ``validate --json``, its table, ``diff`` and the preview's rows."""

    pool: str = fact("pool", table=True, preview="pool", compare=False)
    workload: str = fact("workload", table=True)
    instance_type: str = fact("instance", table=True, preview="instance_type")
    """The instance type, or the selector of existing nodes."""
    accelerator: str | None = fact("GPU", table=True)
    accelerators_per_node: int = fact("per node", table=True)
    accelerators: str = fact(preview="accelerators", compare=False)
    nodes: dict[str, int] = fact("nodes", table=True, cell=_nodes_cell)
    accelerators_max: int = fact("GPUs total", table=True)
    fabric: str | None = fact("fabric", table=True)
    efa_interfaces: int | None = fact("EFA", table=True, preview="efa_interfaces", launched=True, default=None)
    placement: str | None = fact("placement", table=True, launched=True, default=None)
    placement_reason: str | None = fact(launched=True, compare=False, default=None)
    placement_group: str | None = fact(preview="placement_group", launched=True, compare=False, default=None)
    """The strategy of the placement group the launch template names (derived from ``placement``)."""
    capacity: str | None = fact("capacity", table=True, launched=True, default=None)
    capacity_type: str | None = fact(preview="capacity", launched=True, compare=False, default=None)
    """The node group's capacityType (derived from ``capacity``)."""
    reservation: str | None = fact(preview="reservation", launched=True, default=None)
    zones: tuple[str, ...] | None = fact(preview="zones", launched=True, default=None)
    zone_reason: str | None = fact(launched=True, compare=False, default=None)
    subnets: tuple[str, ...] | None = fact(preview="subnets", launched=True, default=None)
    update_strategy: str | None = fact(launched=True, default=None)
    update_reason: str | None = fact(launched=True, compare=False, default=None)
    storage: tuple[str, ...] = fact()
    read_mbs_per_gpu: int | None = fact(default=None)
    """Training pools: MB/s each GPU reads from the hot tier, as the stack says."""
    mig_config: str | None = fact()
    """The MIG plan the pool's nodes get, if any."""
    mig_config_label: str | None = fact(preview="mig_config", launched=True, compare=False, default=None)
    """The ``nvidia.com/mig.config`` label (derived from ``labels``): ``all-disabled`` on MIG-capable GPUs without a plan."""
    mig_config_label_channel: str | None = fact(launched=True, compare=False, default=None)
    """How the MIG label reaches nodes, and what an edit of it does."""
    labels: dict[str, str] = fact()
    taints: tuple[str, ...] = fact()
    flavor: str | None = fact(preview="flavor")
    """The Kueue ResourceFlavor that pins this pool's nodes."""
    queues: tuple[str, ...] = fact(preview="queues")
    """ClusterQueues holding quota of the pool's flavor, nominal or borrowable."""
    pod_resources: dict[str, int] = fact(preview="pod_resources")
    """What a pod can request on one node, beyond CPU and memory."""
    pod_allocatable: dict[str, int | str] = fact()
    """CPU and memory pods may request of one node: the kubelet's allocatable less gpufleet's
    DaemonSets, floored; a node's share of the flavor's quota."""
    pod_allocatable_reason: str = fact(compare=False)
    usd_per_hour: dict[str, Decimal | None] = fact("$/hour", table=True, preview="usd_per_hour", cell=_per_hour_cell)
    """What the pool costs per hour at ``min`` and ``max`` nodes (to the cent; None: no price)."""
    usd_per_30_days: dict[str, Decimal | None] = fact()
    """At its ``floor`` and ``ceiling``: reserved capacity costs its whole reservation at both."""
    usd_per_node_hour: Decimal | None = fact()
    priced_as: str = fact(compare=False)
    """Where the figure comes from (on-demand, a spot snapshot, the stack's reservation price), or why there is none."""

    @property
    def summary(self) -> str:
        gpus = f", up to {self.accelerators_max} {self.accelerator}" if self.accelerator else ""
        how = self.capacity or "existing nodes"
        return f"{self.workload}, {self.nodes['min']}-{self.nodes['max']} x {self.instance_type}{gpus}, {how}"


@dataclass(frozen=True, kw_only=True)
class TierFacts(Facts):
    """One storage tier; the fields of other kinds are None."""

    tier: str = fact(compare=False)
    kind: str = fact()
    protected: bool = fact()
    deployment: str | None = fact(default=None)
    persistent: bool | None = fact(compare=False, default=None)
    """Derived from ``deployment``."""
    capacity_gib: int | None = fact(default=None)
    throughput_per_tib: int | None = fact(default=None)
    throughput_mbs: float | None = fact(default=None)
    disk_throughput_mbs: float | None = fact(default=None)
    import_from: str | None = fact(default=None)
    backup_retention_days: int | None = fact(default=None)
    namespaces: tuple[str, ...] | None = fact(default=None)
    zone: str | None = fact(default=None)
    versioning: bool | None = fact(default=None)
    size_gb: int | None = fact(default=None)
    """An s3 tier's stated size, which prices it."""
    mount_path: str | None = fact(default=None)
    usd_per_30_days: Decimal | None = fact(default=None)
    priced_as: str | None = fact(compare=False, default=None)
    """What it is priced as, or why it has no price (local NVMe is paid with its nodes)."""

    @property
    def summary(self) -> str:
        if self.kind == "fsx-lustre":
            return f"fsx-lustre {self.deployment}, {self.capacity_gib} GiB, {self.throughput_mbs or 0:g} MB/s"
        return self.kind


@dataclass(frozen=True)
class MigFacts(Facts):
    accelerator: str = fact()
    layouts: dict[str, str] = fact()
    demand: tuple[str, ...] = fact()

    @property
    def summary(self) -> str:
        return f"{self.accelerator}: " + "; ".join(f"GPUs {devices}: {layout}" for devices, layout in self.layouts.items())


@dataclass(frozen=True)
class FlavorFacts(Facts):
    pool: str = fact()
    accelerator: str = fact()
    node_labels: dict[str, str] = fact()
    tolerations: tuple[str, ...] = fact()
    capacity: dict[str, int] = fact(compare=False)
    """What the pool offers at its maximum size (memory in Mi); ``diff`` compares it as the queues' quotas."""

    @property
    def summary(self) -> str:
        return f"{self.accelerator} flavor of pool {self.pool}"


@dataclass(frozen=True)
class QueueFacts(Facts):
    workload: str = fact()
    cohort: str = fact()
    resources: tuple[str, ...] = fact()
    quotas: dict[str, dict[str, int]] = fact()
    """Flavor -> resource -> nominal quota."""
    borrowing_limits: dict[str, int | None] = fact()
    lending_limits: dict[str, int | None] = fact()
    namespaces: tuple[str, ...] = fact()
    """The namespaces whose LocalQueues the queue admits work from."""
    preemption: dict[str, Any] = fact()
    local_queues: tuple[str, ...] = fact()
    """``<namespace>/<name>`` of each LocalQueue pointing here."""
    stop_policy: str | None = fact()
    """Kueue's stopPolicy when the stack stops the queue (``queues.stop``)."""
    reason: str = fact(compare=False)

    @property
    def summary(self) -> str:
        return f"{self.workload} queue over {', '.join(self.quotas)}"


@dataclass(frozen=True)
class ReleaseFacts(Facts):
    chart: str = fact()
    version: str = fact()
    namespace: str = fact()
    values: dict[str, Any] = fact()
    """The values gpufleet decides (deploy-time ones, such as Auto Scaling group names, apart)."""
    reasons: dict[str, str] = fact(compare=False)

    @property
    def summary(self) -> str:
        return f"{self.chart} {self.version} in {self.namespace}"


@dataclass(frozen=True)
class StorageClassFacts(Facts):
    provisioner: str = fact()
    parameters: dict[str, str] = fact()
    default: bool = fact()
    reason: str = fact(compare=False)

    @property
    def summary(self) -> str:
        return f"{self.provisioner}" + (" (default)" if self.default else "")


@dataclass(frozen=True)
class AutoscaledGroupFacts(Facts):
    min_size: int = fact()
    max_size: int = fact()
    tags: dict[str, str] = fact()

    @property
    def summary(self) -> str:
        return f"{self.min_size}-{self.max_size} nodes, {len(self.tags)} tags"


@dataclass(frozen=True)
class ClusterServicesFacts(Facts):
    """What the Kubernetes side holds cluster-wide: namespaces, priorities, the pieces it installs."""

    namespaces: tuple[str, ...] = fact()
    priorities: dict[str, int] = fact()
    lustre_volumes: tuple[str, ...] = fact()
    """``<volume> -> <namespace>/<claim>`` for each static PersistentVolume."""
    efa_interfaces: dict[str, int] = fact()
    """EFA pool -> the devices each of its nodes advertises."""
    rdma_resources: dict[str, str] = fact()
    """InfiniBand fabric -> the resource its pods request."""
    admitted_kinds: tuple[str, ...] = fact()
    """The job kinds the queues admit (Kueue integrations whose controllers run)."""
    autoscaler_skipped: dict[str, str] = fact(compare=False)
