"""The cluster's Kubernetes side as the plan holds it: every object's decided shape, with reasons.

``model.kubernetes_decisions`` makes these once per resolution, into ``FleetPlan.kubernetes``;
``render.kubernetes`` only turns them into resources, and ``validate --json``, ``diff`` and the
preview read the same objects through their facts. Values that only the cloud side knows at
deploy time (file system DNS names, Auto Scaling group names) are left to the renderer, which
reads them from the ``ClusterHandle``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from gpufleet import names
from gpufleet.catalog.kubernetes import Chart, KueueLimits
from gpufleet.model.facts import (
    AutoscaledGroupFacts,
    ClusterServicesFacts,
    FlavorFacts,
    QueueFacts,
    ReleaseFacts,
    StorageClassFacts,
)
from gpufleet.model.reasons import Reason

POOL_LABEL = names.POOL_LABEL
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
# Labels the node group does not carry: they reach nodes only through the launch template's
# kubelet --node-labels, so a change is a new launch template version (a roll), never also an
# in-place edit of running nodes (EKS applies node-group label edits to them).
LAUNCH_TEMPLATE_ONLY_LABELS = (MIG_CONFIG_LABEL,)
MIG_LABEL_CHANNEL = (
    "only the launch template's kubelet --node-labels, not the node group's labels: a renamed plan is a new "
    "launch template version, so the pool's nodes roll (one at a time under MINIMAL) and each new node is "
    "partitioned at boot; a node-group label edit would also reach running nodes at once, and mig-manager "
    "would repartition them under their pods. Moving the label off the node group removes it from running "
    "nodes (their partitions stay) until they roll"
)
GPU_RESOURCE = "nvidia.com/gpu"
HUGEPAGES_RESOURCE = "hugepages-2Mi"
EPHEMERAL_STORAGE = "ephemeral-storage"
MIG_CONFIG_MAP = "gpufleet-mig-parted-config"
MIG_CONFIG_DIGEST_ENV = "GPUFLEET_MIG_CONFIG_DIGEST"
PLUGIN_CONFIG_DIGEST_ENV = "GPUFLEET_PLUGIN_CONFIG_DIGEST"
DEVICE_PLUGIN_CONFIG_MAP = "gpufleet-device-plugin-config"
DEFAULT_DEVICE_PLUGIN_CONFIG = "default"
NIC_CLUSTER_POLICY = "nic-cluster-policy"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
# GPU utilization below which the autoscaler may remove a training node: any pod holding one
# of its GPUs keeps it above, an empty node falls below (CA counts requests, not usage).
TRAINING_SCALE_DOWN_GPU_UTILIZATION = "0.01"
PRIORITIES = (
    ("inference", 1000, "serving traffic first: inference preempts training and lab"),
    ("training", 500, "training before lab"),
    ("lab", 100, "lowest: lab work yields to everything else"),
)
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace to its name: a selector on it cannot be forged."""

Json = dict[str, Any]
QueueWorkload = Literal["training", "inference", "lab"]
StopPolicy = Literal["Hold", "HoldAndDrain"]
STOP_POLICIES: dict[str, StopPolicy] = {"hold": "Hold", "hold-and-drain": "HoldAndDrain"}
"""The stack's ``queues.stop`` values, as Kueue's ClusterQueue ``spec.stopPolicy`` spells them."""


def quantity(resource: str, amount: int) -> int | str:
    """A capacity figure as Kubernetes writes it: memory and huge pages are counted in MiB."""
    return f"{amount}Mi" if resource in ("memory", HUGEPAGES_RESOURCE) else amount


@dataclass(frozen=True)
class Toleration:
    key: str
    value: str
    effect: str

    def manifest(self) -> Json:
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}

    def __str__(self) -> str:
        return f"{self.key}={self.value}:{self.effect}"


@dataclass(frozen=True)
class HelmReleasePlan:
    name: str
    chart: Chart
    values: Json = field(hash=False)
    reasons: tuple[Reason, ...] = ()
    disable_openapi_validation: bool = False
    """Helm's --disable-openapi-validation: what a chart's CRD-upgrade hook needs on upgrade."""

    @property
    def namespace(self) -> str:
        return self.chart.namespace

    def facts(self) -> ReleaseFacts:
        return ReleaseFacts(
            chart=self.chart.chart,
            version=self.chart.version,
            namespace=self.namespace,
            values=self.values,
            reasons={reason.subject: reason.why for reason in self.reasons},
        )


@dataclass(frozen=True)
class ConfigMapPlan:
    name: str
    namespace: str
    data: dict[str, str] = field(hash=False)


@dataclass(frozen=True)
class PodSecurity:
    """The Pod Security Admission labels of the namespaces gpufleet creates, with why."""

    tenants: dict[str, str] = field(hash=False)
    system: dict[str, str] = field(hash=False)
    """For operator namespaces whose pods need the host (drivers, device plugins, MIG manager)."""
    reason: str = ""


@dataclass(frozen=True)
class GpuStackPlan:
    operator: HelmReleasePlan
    mig_config: ConfigMapPlan | None
    device_plugin_config: ConfigMapPlan | None
    exporter_counters: ConfigMapPlan
    """The DCGM exporter's counter list (``model.monitoring``), read by name like the other two."""
    tolerations: tuple[Toleration, ...]


@dataclass(frozen=True)
class EfaPluginPlan:
    release: HelmReleasePlan
    interfaces: dict[str, int] = field(hash=False)
    """Pool name -> EFA devices each of its nodes advertises as ``vpc.amazonaws.com/efa``."""


@dataclass(frozen=True)
class RdmaFabricPlan:
    fabric: str
    operator: HelmReleasePlan
    policy_name: str
    policy_spec: Json = field(hash=False)
    resource: str = ""
    pools: tuple[str, ...] = ()


@dataclass(frozen=True)
class StorageClassPlan:
    name: str
    provisioner: str
    parameters: dict[str, str] = field(hash=False)
    default: bool = False
    reason: str = ""

    def facts(self) -> StorageClassFacts:
        return StorageClassFacts(self.provisioner, dict(self.parameters), self.default, self.reason)


@dataclass(frozen=True)
class LustreVolumePlan:
    """A static volume of one file system, pre-bound to its one claim; only the file system's
    client pools can mount it, so only their nodes may run a pod that uses it."""

    tier: str
    volume_name: str
    claim_namespace: str
    capacity_gib: int
    driver: str
    node_terms: tuple[dict[str, str], ...] = ()
    """The labels of each client pool's nodes (any one matches): the volume's node affinity."""


@dataclass(frozen=True)
class StoragePlan:
    csi_driver: HelmReleasePlan | None
    classes: tuple[StorageClassPlan, ...]
    lustre_volumes: tuple[LustreVolumePlan, ...]
    notes: tuple[Reason, ...] = ()
    """What a tier gets (or does not) on the Kubernetes side, and why."""


@dataclass(frozen=True)
class NodeAllocatable:
    """What pods may request of one node of a pool, and why.

    ``cpu_millicores``/``memory_mib``: the kubelet's allocatable (what the autoscaler's node
    template says; it subtracts DaemonSets itself). ``pod_cpu``/``pod_memory_mib``: that less the
    DaemonSets' requests, floored to whole cores and GiB: a node's share of its flavor's quota."""

    cpu_millicores: int
    memory_mib: int
    daemonset_cpu_millicores: int
    daemonset_memory_mib: int
    reason: str

    @property
    def pod_cpu(self) -> int:
        return max(0, (self.cpu_millicores - self.daemonset_cpu_millicores) // 1000)

    @property
    def pod_memory_mib(self) -> int:
        return max(0, (self.memory_mib - self.daemonset_memory_mib) // 1024 * 1024)


@dataclass(frozen=True)
class FlavorPlan:
    name: str
    pool: str
    accelerator: str
    node_labels: dict[str, str] = field(hash=False)
    tolerations: tuple[Toleration, ...] = ()
    capacity: dict[str, int] = field(default_factory=dict, hash=False)
    """Resource -> what the pool offers at its maximum size (Kubernetes quantities: memory in Mi)."""
    topology: str | None = None
    """The Kueue Topology the flavor names (``model.topology``); None: Kueue places without one."""

    def facts(self) -> FlavorFacts:
        return FlavorFacts(
            self.pool, self.accelerator, dict(self.node_labels), tuple(map(str, self.tolerations)), dict(self.capacity)
        )


@dataclass(frozen=True)
class FlavorQuota:
    flavor: str
    nominal: dict[str, int] = field(hash=False)
    borrowing_limit: int | None = None
    lending_limit: int | None = None
    """How much of the nominal quota other queues of the cohort may borrow (None: all of it)."""


@dataclass(frozen=True)
class ClusterQueuePlan:
    name: str
    workload: QueueWorkload
    resources: tuple[str, ...]
    flavors: tuple[FlavorQuota, ...]
    preemption: Json = field(hash=False)
    reason: str = ""
    namespaces: tuple[str, ...] = ()
    """The only namespaces whose LocalQueues it admits work from (none: no namespace)."""
    stop_policy: StopPolicy | None = None
    """Kueue's ``spec.stopPolicy`` when the stack stops the queue (``queues.stop``); None: it admits."""


@dataclass(frozen=True)
class LocalQueuePlan:
    name: str
    namespace: str
    cluster_queue: str


@dataclass(frozen=True)
class PriorityPlan:
    name: str
    value: int
    description: str


@dataclass(frozen=True)
class TopologyPlan:
    """One Kueue Topology: the node labels from the widest network layer down to the node."""

    name: str
    levels: tuple[str, ...]

    def spec(self) -> Json:
        return {"levels": [{"nodeLabel": level} for level in self.levels]}


@dataclass(frozen=True)
class GatePolicyPlan:
    """A ValidatingAdmissionPolicy: in the tenant namespaces only Kueue's controller may lift its
    admission gate from a pod (a tenant who could would run outside every quota)."""

    name: str
    namespaces: tuple[str, ...]
    gate: str
    controller: str
    """The user name of Kueue's controller (``system:serviceaccount:<namespace>:<name>``)."""


@dataclass(frozen=True)
class QueuePlan:
    kueue: HelmReleasePlan
    cohort: str
    flavors: tuple[FlavorPlan, ...]
    cluster_queues: tuple[ClusterQueuePlan, ...]
    local_queues: tuple[LocalQueuePlan, ...]
    priorities: tuple[PriorityPlan, ...]
    controller_pools: tuple[str, ...] = ()
    """Pools the Kueue release waits for: where its controller can run (``controller_pools``)."""
    topologies: tuple[TopologyPlan, ...] = ()
    """The Kueue Topologies the flavors name (``model.topology``)."""
    jobset: HelmReleasePlan | None = None
    """The JobSet controller, for the JobSet kind Kueue admits."""
    admits: tuple[str, ...] = ()
    """The job kinds (Kueue integrations) the queues admit, as ``group/version Kind``."""
    gate_policy: GatePolicyPlan | None = None
    limits: KueueLimits | None = None
    """What Kueue's API accepts of one ClusterQueue: a plan rule holds every queue to it."""

    def queues_reaching(self, flavor: str) -> tuple[str, ...]:
        """ClusterQueues that hold quota of this flavor (nominal or borrowable), by name."""
        return tuple(sorted(queue.name for queue in self.cluster_queues if any(q.flavor == flavor for q in queue.flavors)))

    def queue_facts(self, queue: ClusterQueuePlan) -> QueueFacts:
        return QueueFacts(
            workload=queue.workload,
            cohort=self.cohort,
            resources=queue.resources,
            quotas={quota.flavor: dict(quota.nominal) for quota in queue.flavors},
            borrowing_limits={quota.flavor: quota.borrowing_limit for quota in queue.flavors},
            lending_limits={quota.flavor: quota.lending_limit for quota in queue.flavors},
            namespaces=queue.namespaces,
            preemption=dict(queue.preemption),
            local_queues=tuple(f"{q.namespace}/{q.name}" for q in self.local_queues if q.cluster_queue == queue.name),
            stop_policy=queue.stop_policy,
            reason=queue.reason,
        )


@dataclass(frozen=True)
class AutoscaledGroup:
    pool: str
    min_size: int
    max_size: int
    tags: dict[str, str] = field(hash=False)
    """Tags for the pool's Auto Scaling group: discovery and node-template hints (the AWS backend writes them)."""


@dataclass(frozen=True)
class AutoscalerPlan:
    release: HelmReleasePlan
    groups: tuple[AutoscaledGroup, ...]
    service_account: str
    owner_tag: str
    """The tag EKS sets on every managed node group's Auto Scaling group of this cluster (``owned``);
    scaling calls are allowed only on groups with it."""
    skipped: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class PoolScheduling:
    """How pods reach one pool: its Kueue flavor, the queues holding its quota, what a node offers."""

    allocatable: NodeAllocatable
    """What pods may request of one node."""
    flavor: str | None = None
    queues: tuple[str, ...] = ()
    pod_resources: dict[str, int] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class KubernetesPlan:
    cluster: str
    namespaces: tuple[str, ...]
    gpu_stack: GpuStackPlan | None
    efa: EfaPluginPlan | None
    fabrics: tuple[RdmaFabricPlan, ...]
    storage: StoragePlan
    queues: QueuePlan | None
    autoscaler: AutoscalerPlan | None
    scheduling: dict[str, PoolScheduling] = field(default_factory=dict, hash=False)
    """Pool name -> how pods reach it (every pool has an entry)."""
    pod_security: PodSecurity = PodSecurity({}, {})

    @property
    def releases(self) -> tuple[HelmReleasePlan, ...]:
        found = [
            self.gpu_stack.operator if self.gpu_stack else None,
            self.efa.release if self.efa else None,
            *(fabric.operator for fabric in self.fabrics),
            self.storage.csi_driver,
            self.queues.kueue if self.queues else None,
            self.queues.jobset if self.queues else None,
            self.autoscaler.release if self.autoscaler else None,
        ]
        return tuple(release for release in found if release is not None)

    def decisions(self) -> list[dict[str, str]]:
        """Why each stack-dependent Helm value and queue is what it is (``preview --json``, ``validate --json``)."""
        found = [{"what": f"{r.name}: {reason.subject}", "why": reason.why} for r in self.releases for reason in r.reasons]
        if self.queues is not None:
            found += [{"what": f"ClusterQueue {q.name}", "why": q.reason} for q in self.queues.cluster_queues]
        if self.autoscaler is not None:
            found += [{"what": f"cluster-autoscaler: {r.subject}", "why": r.why} for r in self.autoscaler.skipped]
        found += [{"what": f"storage {r.subject}", "why": r.why} for r in self.storage.notes]
        found.append({"what": "namespaces: pod security", "why": self.pod_security.reason})
        return found

    def flavor_facts(self) -> dict[str, FlavorFacts]:
        return {flavor.name: flavor.facts() for flavor in (self.queues.flavors if self.queues else ())}

    def queue_facts(self) -> dict[str, QueueFacts]:
        queues = self.queues
        return {queue.name: queues.queue_facts(queue) for queue in queues.cluster_queues} if queues else {}

    def release_facts(self) -> dict[str, ReleaseFacts]:
        return {release.name: release.facts() for release in self.releases}

    def storage_class_facts(self) -> dict[str, StorageClassFacts]:
        return {storage_class.name: storage_class.facts() for storage_class in self.storage.classes}

    def autoscaled_group_facts(self) -> dict[str, AutoscaledGroupFacts]:
        groups = self.autoscaler.groups if self.autoscaler else ()
        return {group.pool: AutoscaledGroupFacts(group.min_size, group.max_size, dict(group.tags)) for group in groups}

    def cluster_facts(self) -> ClusterServicesFacts:
        volumes = self.storage.lustre_volumes
        return ClusterServicesFacts(
            namespaces=self.namespaces,
            priorities={p.name: p.value for p in self.queues.priorities} if self.queues else {},
            lustre_volumes=tuple(f"{v.volume_name} -> {v.claim_namespace}/{v.tier}" for v in volumes),
            efa_interfaces=dict(self.efa.interfaces) if self.efa else {},
            rdma_resources={fabric.fabric: fabric.resource for fabric in self.fabrics},
            autoscaler_skipped={r.subject: r.why for r in self.autoscaler.skipped} if self.autoscaler else {},
            admitted_kinds=self.queues.admits if self.queues else (),
        )

    def summary(self) -> dict[str, Any]:
        """Every Kubernetes decision with its reason, for ``validate --json``."""
        return {
            "decisions": self.decisions(),
            "cluster": self.cluster_facts().as_json(),
            "flavors": _as_json(self.flavor_facts().items()),
            "cluster_queues": _as_json(self.queue_facts().items()),
            "releases": _as_json(self.release_facts().items()),
            "storage_classes": _as_json(self.storage_class_facts().items()),
            "autoscaled_groups": _as_json(self.autoscaled_group_facts().items()),
        }


def _as_json(items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    return {name: facts.as_json() for name, facts in items}
