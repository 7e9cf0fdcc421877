"""What the cluster's Kubernetes side needs, decided once from the ``FleetPlan``.

Every label, toleration, quota and Helm value that depends on the stack is chosen here, each
choice with its reason; ``render.kubernetes`` only turns these objects into resources. Values
that only the cloud side knows at deploy time (file system DNS names, Auto Scaling group
names) are left to the renderer, which reads them from the ``ClusterHandle``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from gpufleet import names
from gpufleet.catalog import Catalog
from gpufleet.catalog.kubernetes import Chart
from gpufleet.model.decisions import EFA_LABEL
from gpufleet.model.mig_config import mig_parted_config
from gpufleet.model.plan import FleetPlan, Pool, StorageTier, Taint

POOL_LABEL = names.POOL_LABEL
GPU_RESOURCE = "nvidia.com/gpu"
MIG_CONFIG_MAP = "gpufleet-mig-parted-config"
DEVICE_PLUGIN_CONFIG_MAP = "gpufleet-device-plugin-config"
DEFAULT_DEVICE_PLUGIN_CONFIG = "default"
NIC_CLUSTER_POLICY = "nic-cluster-policy"
AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler"
# GPU utilization below which the autoscaler may remove a training node: any pod holding one
# of its GPUs keeps it above, an empty node falls below (CA counts requests, not usage).
TRAINING_SCALE_DOWN_GPU_UTILIZATION = "0.01"
PRIORITIES = (
    ("inference", 1000, "serving traffic first: inference preempts training and lab"),
    ("training", 500, "training before lab: lab only fills idle GPUs"),
    ("lab", 100, "lowest: lab jobs borrow what others leave idle and yield it back"),
)

Json = dict[str, Any]


@dataclass(frozen=True)
class Reason:
    subject: str
    why: str


@dataclass(frozen=True)
class Toleration:
    key: str
    value: str
    effect: str

    @classmethod
    def of(cls, taint: Taint) -> Toleration:
        return cls(taint.key, taint.value, taint.effect)

    def manifest(self) -> Json:
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}


@dataclass(frozen=True)
class HelmReleasePlan:
    name: str
    chart: Chart
    values: Json = field(hash=False)
    reasons: tuple[Reason, ...] = ()

    @property
    def namespace(self) -> str:
        return self.chart.namespace


@dataclass(frozen=True)
class ConfigMapPlan:
    name: str
    namespace: str
    data: dict[str, str] = field(hash=False)


@dataclass(frozen=True)
class GpuStackPlan:
    operator: HelmReleasePlan
    mig_config: ConfigMapPlan | None
    device_plugin_config: ConfigMapPlan | None
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
    node_terms: tuple[dict[str, str], ...] | None = None
    """Local classes: the labels of each pool whose nodes offer the volume (any one matches); None: every node."""
    reason: str = ""


@dataclass(frozen=True)
class LustreVolumePlan:
    tier: str
    volume_name: str
    claim_namespace: str | None
    capacity_gib: int
    driver: str


@dataclass(frozen=True)
class EbsDriverPlan:
    """The EKS add-on that provisions the default class's volumes, with its own Pod Identity role."""

    addon: str
    service_account: str
    managed_policy: str


@dataclass(frozen=True)
class StoragePlan:
    csi_driver: HelmReleasePlan | None
    classes: tuple[StorageClassPlan, ...]
    lustre_volumes: tuple[LustreVolumePlan, ...]
    ebs_driver: EbsDriverPlan | None = None


@dataclass(frozen=True)
class FlavorPlan:
    name: str
    pool: str
    accelerator: str
    node_labels: dict[str, str] = field(hash=False)
    tolerations: tuple[Toleration, ...] = ()
    capacity: dict[str, int] = field(default_factory=dict, hash=False)
    """Resource -> what the pool offers at its maximum size (Kubernetes quantities: memory in Mi)."""


@dataclass(frozen=True)
class FlavorQuota:
    flavor: str
    nominal: dict[str, int] = field(hash=False)
    borrowing_limit: int | None = None


@dataclass(frozen=True)
class ClusterQueuePlan:
    name: str
    workload: Literal["training", "inference", "lab"]
    resources: tuple[str, ...]
    flavors: tuple[FlavorQuota, ...]
    preemption: Json = field(hash=False)
    reason: str = ""


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
class QueuePlan:
    kueue: HelmReleasePlan
    cohort: str
    flavors: tuple[FlavorPlan, ...]
    cluster_queues: tuple[ClusterQueuePlan, ...]
    local_queues: tuple[LocalQueuePlan, ...]
    priorities: tuple[PriorityPlan, ...]
    controller_pools: tuple[str, ...] = ()
    """Pools the Kueue release waits for: where its controller can run (``controller_pools``)."""


@dataclass(frozen=True)
class AutoscaledGroup:
    pool: str
    min_size: int
    max_size: int
    tags: dict[str, str] = field(hash=False)
    """Tags for the pool's Auto Scaling group: discovery and node-template hints."""


@dataclass(frozen=True)
class AutoscalerPlan:
    release: HelmReleasePlan
    groups: tuple[AutoscaledGroup, ...]
    service_account: str
    describe_actions: tuple[str, ...]
    scaling_actions: tuple[str, ...]
    owner_tag: str
    """The tag every managed group carries; scaling calls are allowed only on groups with it."""
    skipped: tuple[Reason, ...] = ()


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

    @property
    def releases(self) -> tuple[HelmReleasePlan, ...]:
        found = [
            self.gpu_stack.operator if self.gpu_stack else None,
            self.efa.release if self.efa else None,
            *(fabric.operator for fabric in self.fabrics),
            self.storage.csi_driver,
            self.queues.kueue if self.queues else None,
            self.autoscaler.release if self.autoscaler else None,
        ]
        return tuple(release for release in found if release is not None)


def kubernetes_plan(plan: FleetPlan, catalog: Catalog) -> KubernetesPlan:
    queues = _queues(plan, catalog)
    return KubernetesPlan(
        cluster=plan.cluster.name,
        namespaces=tuple(sorted({*_queue_namespaces(plan), *_storage_namespaces(plan)})),
        gpu_stack=_gpu_stack(plan, catalog),
        efa=_efa(plan, catalog),
        fabrics=_fabrics(plan, catalog),
        storage=_storage(plan, catalog),
        queues=queues,
        autoscaler=_autoscaler(plan, catalog),
    )


def gpu_pools(plan: FleetPlan) -> tuple[Pool, ...]:
    return tuple(pool for pool in plan.pools if pool.accelerator is not None and pool.accelerator.kind == "gpu")


def slug(name: str) -> str:
    """A catalog name as a Kubernetes name part: ``H200-141GB`` -> ``h200-141gb``."""
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


# -- GPU stack --------------------------------------------------------------------------------


def _gpu_stack(plan: FleetPlan, catalog: Catalog) -> GpuStackPlan | None:
    pools = gpu_pools(plan)
    if not pools:
        return None
    facts = catalog.kubernetes.gpu_operator
    chart = catalog.kubernetes.charts["gpu-operator"]
    tolerations = tuple(sorted({Toleration.of(taint) for pool in pools for taint in pool.taints}, key=lambda t: (t.key, t.value)))
    driver_on_host = all(pool.ami_family in facts.driver_on_host_ami_families for pool in pools)
    uses_mig = any(pool.mig is not None for pool in pools)
    sharing = [pool for pool in pools if pool.time_slicing_replicas]
    strategy = "mixed" if uses_mig else "single"
    values: Json = {
        "driver": {"enabled": not driver_on_host},
        "toolkit": {"enabled": not driver_on_host},
        "mig": {"strategy": strategy},
        "dcgmExporter": {"enabled": True},
        "daemonsets": {"tolerations": [t.manifest() for t in tolerations]},
        "node-feature-discovery": {"worker": {"tolerations": [t.manifest() for t in tolerations]}},
    }
    reasons = [
        Reason(
            "driver.enabled, toolkit.enabled",
            "the EKS AL2023 NVIDIA AMI already ships the driver and container toolkit; a second copy would fight it"
            if driver_on_host
            else "existing nodes ship no NVIDIA driver the operator knows of: it installs the catalog's driver",
        ),
        Reason("mig.strategy", "a MIG pool exposes each profile as nvidia.com/mig-<profile>" if uses_mig else "no pool uses MIG"),
        Reason("dcgmExporter.enabled", "GPU health and utilization metrics on every GPU node"),
        Reason(
            "daemonsets.tolerations, node-feature-discovery.worker.tolerations",
            "operands (and the feature discovery that labels nodes for them) must run on every GPU pool, whatever its taints",
        ),
    ]
    if not driver_on_host:
        values["driver"]["version"] = facts.driver_version
    if any(pool.fabric is not None and pool.fabric.kind == "infiniband" for pool in pools):
        values["driver"]["rdma"] = {"enabled": True, "useHostMofed": True}
        reasons.append(Reason("driver.rdma", "GPUDirect RDMA over the InfiniBand fabric, with the nodes' own MOFED"))
    mig_map = None
    if uses_mig:
        mig_map = ConfigMapPlan(
            MIG_CONFIG_MAP, chart.namespace, {facts.mig_config_key: mig_parted_config(plan, catalog).to_yaml()}
        )
        values["migManager"] = {"enabled": True, "config": {"name": MIG_CONFIG_MAP, "create": False, "default": "all-disabled"}}
        reasons.append(
            Reason(
                "migManager.config",
                "the stack's own mig-parted config, whose entries the pools' nvidia.com/mig.config labels name",
            )
        )
    plugin_map = None
    if sharing:
        data = {DEFAULT_DEVICE_PLUGIN_CONFIG: _device_plugin_config(strategy, None)}
        data.update({pool.name: _device_plugin_config(strategy, pool.time_slicing_replicas) for pool in sharing})
        plugin_map = ConfigMapPlan(DEVICE_PLUGIN_CONFIG_MAP, chart.namespace, data)
        values["devicePlugin"] = {
            "config": {"name": DEVICE_PLUGIN_CONFIG_MAP, "create": False, "default": DEFAULT_DEVICE_PLUGIN_CONFIG}
        }
        reasons.append(
            Reason(
                "devicePlugin.config",
                f"time-slicing on {', '.join(p.name for p in sharing)}, picked per node by {facts.device_plugin_config_label}",
            )
        )
    return GpuStackPlan(
        operator=HelmReleasePlan("gpu-operator", chart, values, tuple(reasons)),
        mig_config=mig_map,
        device_plugin_config=plugin_map,
        tolerations=tolerations,
    )


def _device_plugin_config(strategy: str, replicas: int | None) -> str:
    config: Json = {"version": "v1", "flags": {"migStrategy": "none" if strategy == "single" else strategy}}
    if replicas:
        config["sharing"] = {
            "timeSlicing": {"renameByDefault": False, "resources": [{"name": GPU_RESOURCE, "replicas": replicas}]}
        }
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


# -- EFA and InfiniBand -----------------------------------------------------------------------


def _efa(plan: FleetPlan, catalog: Catalog) -> EfaPluginPlan | None:
    pools = [pool for pool in plan.pools if pool.efa is not None and pool.efa.efa_count > 0]
    if not pools:
        return None
    tolerations = sorted({Toleration.of(taint) for pool in pools for taint in pool.taints}, key=lambda t: (t.key, t.value))
    values: Json = {
        "supportedInstanceLabels": {
            "keys": ["node.kubernetes.io/instance-type"],
            "values": sorted({pool.node_kind for pool in pools}),
        },
        "nodeSelector": {EFA_LABEL: "true"},
        "tolerations": [t.manifest() for t in tolerations],
    }
    reasons = (
        Reason(
            "supportedInstanceLabels", "the chart schedules only on the instance types it lists: exactly the EFA pools' types"
        ),
        Reason("nodeSelector", "only pools with EFA interfaces carry the label: elsewhere the plugin has no device to offer"),
        Reason("tolerations", "EFA pools are GPU and training pools, tainted so other work stays off"),
    )
    release = HelmReleasePlan(
        "aws-efa-k8s-device-plugin", catalog.kubernetes.charts["aws-efa-k8s-device-plugin"], values, reasons
    )
    return EfaPluginPlan(release, {pool.name: pool.efa.efa_count for pool in pools})


def _fabrics(plan: FleetPlan, catalog: Catalog) -> tuple[RdmaFabricPlan, ...]:
    facts = catalog.kubernetes.rdma
    fabrics = []
    for name, fabric in plan.fabrics.items():
        pools = [pool for pool in plan.pools if pool.fabric_name == name and pool.existing is not None]
        if fabric.kind != "infiniband" or not pools:
            continue
        values: Json = {"nfd": {"enabled": not gpu_pools(plan)}}
        reasons = (
            Reason(
                "nfd.enabled",
                "the GPU Operator's Node Feature Discovery already labels the nodes; two would fight"
                if gpu_pools(plan)
                else "nothing else runs Node Feature Discovery",
            ),
        )
        operator = HelmReleasePlan("network-operator", catalog.kubernetes.charts["network-operator"], values, reasons)
        device_config = {
            "configList": [
                {
                    "resourceName": rdma_resource_name(name),
                    "rdmaHcaMax": facts.hca_max,
                    "selectors": {"vendors": [facts.vendor], "linkTypes": ["infiniband"]},
                }
            ]
        }
        terms = [
            {
                "matchExpressions": [
                    {"key": key, "operator": "In", "values": [value]} for key, value in sorted(pool_selector(pool).items())
                ]
            }
            for pool in pools
        ]
        spec: Json = {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}},
            "rdmaSharedDevicePlugin": {
                "image": facts.plugin_image,
                "repository": facts.plugin_repository,
                "version": facts.plugin_version,
                "config": json.dumps(device_config, indent=2, sort_keys=True),
            },
        }
        fabrics.append(
            RdmaFabricPlan(
                fabric=name,
                operator=operator,
                policy_name=NIC_CLUSTER_POLICY,
                policy_spec=spec,
                resource=f"{facts.resource_prefix}/{rdma_resource_name(name)}",
                pools=tuple(pool.name for pool in pools),
            )
        )
    return tuple(fabrics)


# -- storage ----------------------------------------------------------------------------------


def rdma_resource_name(fabric: str) -> str:
    """The shared RDMA plugin takes letters, digits and underscores in a resource name."""
    return fabric.replace("-", "_")


def _storage(plan: FleetPlan, catalog: Catalog) -> StoragePlan:
    facts = catalog.kubernetes.storage
    classes = []
    if plan.cluster.provider == "aws":
        classes.append(
            StorageClassPlan(
                "gp3",
                facts.ebs_provisioner,
                {"type": "gp3", "encrypted": "true"},
                default=True,
                reason="encrypted gp3 EBS for claims that name no class",
            )
        )
    for tier in plan.storage:
        if tier.kind == "local-nvme":
            pools = [pool for pool in plan.pools if tier.name in {t.name for t in pool.storage}]
            classes.append(
                StorageClassPlan(
                    tier.name,
                    facts.local_provisioner,
                    {},
                    node_terms=tuple(pool_selector(pool) for pool in pools),
                    reason=f"local NVMe at {tier.mount_path}, offered only on the pools that mount it",
                )
            )
    volumes = tuple(volume for tier in plan.storage for volume in _lustre_volumes(tier, facts.fsx_driver))
    csi = None
    if volumes:
        csi = HelmReleasePlan(
            "aws-fsx-csi-driver",
            catalog.kubernetes.charts["aws-fsx-csi-driver"],
            {"node": {"tolerateAllTaints": True}},
            (Reason("node.tolerateAllTaints", "training and lab nodes are tainted and mount Lustre too"),),
        )
    ebs = EbsDriverPlan(facts.ebs_addon, facts.ebs_service_account, facts.ebs_policy) if plan.cluster.provider == "aws" else None
    return StoragePlan(csi, tuple(classes), volumes, ebs)


def _lustre_volumes(tier: StorageTier, driver: str) -> tuple[LustreVolumePlan, ...]:
    """One static volume per namespace: a PersistentVolume binds exactly one claim."""
    if tier.kind != "fsx-lustre" or tier.fsx_capacity_gib is None:
        return ()
    namespaces = tier.namespaces or (None,)
    return tuple(
        LustreVolumePlan(
            tier.name, f"{tier.name}-{namespace}" if namespace else tier.name, namespace, tier.fsx_capacity_gib, driver
        )
        for namespace in namespaces
    )


def _storage_namespaces(plan: FleetPlan) -> set[str]:
    return {ns for tier in plan.storage for ns in tier.namespaces}


# -- queues -----------------------------------------------------------------------------------


def quantity(resource: str, amount: int) -> int | str:
    """A capacity figure as Kubernetes writes it: memory is counted in MiB."""
    return f"{amount}Mi" if resource == "memory" else amount


def pool_capacity(pool: Pool, catalog: Catalog) -> dict[str, int]:
    """What a pool offers at its maximum size, per resource a pod can request."""
    nodes = pool.nodes.max
    capacity = {"cpu": pool.vcpus_per_node * nodes, "memory": pool.memory_mib_per_node * nodes}
    whole_gpus = pool.gpus_per_node
    if pool.mig is not None:
        for layout in pool.mig.device_layouts:
            devices = pool.gpus_per_node if layout.devices == "all" else len(layout.devices)
            if layout.layout:
                whole_gpus -= devices
            for profile, count in (layout.layout or {}).items():
                resource = f"nvidia.com/mig-{profile}"
                capacity[resource] = capacity.get(resource, 0) + count * devices * nodes
    if whole_gpus:
        capacity[GPU_RESOURCE] = whole_gpus * (pool.time_slicing_replicas or 1) * nodes
    if pool.efa is not None and pool.efa.efa_count:
        capacity[catalog.kubernetes.efa.resource] = pool.efa.efa_count * nodes
    if pool.fabric is not None and pool.fabric.kind == "infiniband" and pool.existing is not None:
        capacity[f"{catalog.kubernetes.rdma.resource_prefix}/{rdma_resource_name(pool.fabric_name)}"] = (
            catalog.kubernetes.rdma.hca_max * nodes
        )
    return dict(sorted(capacity.items()))


def pool_selector(pool: Pool) -> dict[str, str]:
    """Labels that pick exactly this pool's nodes: gpufleet's own, or those the stack says existing nodes carry."""
    return dict(pool.existing.node_selector) if pool.existing else {POOL_LABEL: pool.name}


def _flavor(pool: Pool, catalog: Catalog) -> FlavorPlan:
    return FlavorPlan(
        name=pool.name,
        pool=pool.name,
        accelerator=pool.accelerator.name,
        node_labels=pool_selector(pool),
        tolerations=tuple(Toleration.of(taint) for taint in pool.taints),
        capacity=pool_capacity(pool, catalog),
    )


def _queues(plan: FleetPlan, catalog: Catalog) -> QueuePlan | None:
    pools = [pool for pool in gpu_pools(plan) if pool.workload != "system"]
    if not pools:
        return None
    flavors = tuple(_flavor(pool, catalog) for pool in pools)
    by_pool = {flavor.pool: flavor for flavor in flavors}
    workload_of = {pool.name: pool.workload for pool in pools}
    queues: list[ClusterQueuePlan] = []
    never_borrow = {"reclaimWithinCohort": "Any", "withinClusterQueue": "LowerPriority"}
    for accelerator in sorted({pool.accelerator.name for pool in pools if pool.workload == "training"}):
        members = [by_pool[p.name] for p in pools if p.workload == "training" and p.accelerator.name == accelerator]
        queues.append(
            _cluster_queue(
                f"training-{slug(accelerator)}",
                "training",
                members,
                [],
                never_borrow,
                f"training on {accelerator} only: every flavor here is a {accelerator} pool, so no pod set of a job can land on another GPU type",
            )
        )
    inference = [by_pool[p.name] for p in pools if p.workload == "inference"]
    if inference:
        queues.append(
            _cluster_queue(
                "inference", "inference", inference, [], never_borrow, "serving never borrows, so no reclaim can ever preempt it"
            )
        )
    lab = [by_pool[p.name] for p in pools if p.workload == "lab"]
    if lab:
        others = [flavor for flavor in flavors if workload_of[flavor.pool] != "lab"]
        queues.append(
            _cluster_queue(
                "lab",
                "lab",
                lab,
                others,
                {
                    "reclaimWithinCohort": "Never",
                    "borrowWithinCohort": {"policy": "Never"},
                    "withinClusterQueue": "LowerPriority",
                },
                "lab borrows idle GPUs of every pool in the cohort and never preempts outside its own queue",
            )
        )
    local: list[LocalQueuePlan] = []
    for workload in ("training", "inference", "lab"):
        targets = [queue.name for queue in queues if queue.workload == workload]
        for namespace in getattr(plan.queues, workload):
            local.extend(LocalQueuePlan(target, namespace, target) for target in targets)
    priorities = tuple(PriorityPlan(f"gpufleet-{name}", value, why) for name, value, why in PRIORITIES)
    return QueuePlan(
        kueue=HelmReleasePlan("kueue", catalog.kubernetes.charts["kueue"], {}),
        cohort=f"{plan.cluster.name}-gpus",
        flavors=flavors,
        cluster_queues=tuple(queues),
        local_queues=tuple(sorted(local, key=lambda q: (q.namespace, q.name))),
        priorities=priorities,
        controller_pools=controller_pools(plan),
    )


def controller_pools(plan: FleetPlan) -> tuple[str, ...]:
    """Node groups a cluster controller needs before its release can become ready: the untainted
    pools gpufleet creates that keep a node (``nodes.min >= 1``; GF-AWS-003 holds there is one).

    The controller tolerates no GPU taint, so waiting for every pool would only delay it, and
    would make each flavor and queue after it depend on every node group.
    """
    return tuple(pool.name for pool in plan.pools if pool.existing is None and not pool.taints and pool.nodes.min >= 1)


def _cluster_queue(
    name: str,
    workload: Literal["training", "inference", "lab"],
    own: list[FlavorPlan],
    borrowed: list[FlavorPlan],
    preemption: Json,
    reason: str,
) -> ClusterQueuePlan:
    """One resource group over every resource its flavors offer: Kueue lets a flavor sit in one group only."""
    resources = tuple(sorted({resource for flavor in (*own, *borrowed) for resource in flavor.capacity}))
    quotas = [
        FlavorQuota(f.name, {r: f.capacity.get(r, 0) for r in resources}, borrowing_limit=None if borrowed else 0) for f in own
    ]
    quotas += [FlavorQuota(f.name, dict.fromkeys(resources, 0)) for f in borrowed]
    return ClusterQueuePlan(name, workload, resources, tuple(quotas), preemption, reason)


def _queue_namespaces(plan: FleetPlan) -> set[str]:
    return {ns for workload in ("training", "inference", "lab") for ns in getattr(plan.queues, workload)}


# -- autoscaler -------------------------------------------------------------------------------


def _autoscaler(plan: FleetPlan, catalog: Catalog) -> AutoscalerPlan | None:
    if plan.cluster.provider != "aws":
        return None
    facts = catalog.kubernetes.autoscaler
    owner_tag = f"k8s.io/cluster-autoscaler/{plan.cluster.name}"
    groups, skipped = [], []
    for pool in plan.pools:
        if pool.nodes.min == pool.nodes.max:
            skipped.append(Reason(pool.name, f"min == max ({pool.nodes.max}): nothing to scale"))
            continue
        groups.append(AutoscaledGroup(pool.name, pool.nodes.min, pool.nodes.max, _group_tags(pool, catalog, owner_tag)))
    if not groups:
        return None
    values: Json = {
        "cloudProvider": "aws",
        "awsRegion": plan.cluster.region,
        "rbac": {"serviceAccount": {"create": True, "name": AUTOSCALER_SERVICE_ACCOUNT}},
    }
    reasons = (
        Reason("cloudProvider, awsRegion", "the node groups are EC2 Auto Scaling groups in the cluster's region"),
        Reason("autoscalingGroups", "named groups, not tag discovery: pools with min == max stay untouched"),
        Reason("rbac.serviceAccount.name", "the Pod Identity association names this service account"),
    )
    return AutoscalerPlan(
        release=HelmReleasePlan("cluster-autoscaler", catalog.kubernetes.charts["cluster-autoscaler"], values, reasons),
        groups=tuple(groups),
        service_account=AUTOSCALER_SERVICE_ACCOUNT,
        describe_actions=facts.describe_actions,
        scaling_actions=facts.scaling_actions,
        owner_tag=owner_tag,
        skipped=tuple(skipped),
    )


def _group_tags(pool: Pool, catalog: Catalog, owner_tag: str) -> dict[str, str]:
    """What the autoscaler must know to build a node from nothing: EKS does not copy these to the group."""
    prefix = catalog.kubernetes.autoscaler.node_template_tag_prefix
    tags = {"k8s.io/cluster-autoscaler/enabled": "true", owner_tag: "owned"}
    for key, value in pool.labels.items():
        tags[f"{prefix}/label/{key}"] = value
    for taint in pool.taints:
        tags[f"{prefix}/taint/{taint.key}"] = f"{taint.value}:{taint.effect}"
    for resource, total in pool_capacity(pool, catalog).items():
        if resource not in ("cpu", "memory"):
            tags[f"{prefix}/resources/{resource}"] = str(total // pool.nodes.max)
    if pool.workload == "training":
        tags[f"{prefix}/autoscaling-options/scaledowngpuutilizationthreshold"] = TRAINING_SCALE_DOWN_GPU_UTILIZATION
    return dict(sorted(tags.items()))
