"""What the cluster's Kubernetes side needs, decided once per resolution into ``FleetPlan.kubernetes``.

Every label, toleration, quota and Helm value that depends on the stack is chosen here, each
choice with its reason; ``render.kubernetes`` only turns the resulting ``KubernetesPlan`` into
resources.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import yaml

from gpufleet.catalog import Catalog
from gpufleet.catalog.models import Accelerator
from gpufleet.mig import MigPartedConfig
from gpufleet.model.decisions import EFA_LABEL, LABEL_DOMAIN, whole_gpus
from gpufleet.model.kubernetes import (
    AUTOSCALER_SERVICE_ACCOUNT,
    DEFAULT_DEVICE_PLUGIN_CONFIG,
    DEVICE_PLUGIN_CONFIG_MAP,
    EPHEMERAL_STORAGE,
    GPU_RESOURCE,
    HUGEPAGES_RESOURCE,
    MIG_CONFIG_DIGEST_ENV,
    MIG_CONFIG_MAP,
    NAMESPACE_NAME_LABEL,
    NIC_CLUSTER_POLICY,
    PLUGIN_CONFIG_DIGEST_ENV,
    POOL_LABEL,
    PRIORITIES,
    STOP_POLICIES,
    TRAINING_SCALE_DOWN_GPU_UTILIZATION,
    AutoscaledGroup,
    AutoscalerPlan,
    ClusterQueuePlan,
    ConfigMapPlan,
    EfaPluginPlan,
    FlavorPlan,
    FlavorQuota,
    GatePolicyPlan,
    GpuStackPlan,
    HelmReleasePlan,
    Json,
    KubernetesPlan,
    LocalQueuePlan,
    LustreVolumePlan,
    NodeAllocatable,
    PodSecurity,
    PoolScheduling,
    PriorityPlan,
    QueuePlan,
    QueueWorkload,
    RdmaFabricPlan,
    StorageClassPlan,
    StoragePlan,
    Toleration,
    quantity,
)
from gpufleet.model.plan import ExistingNodes, Fabric, LaunchedNodes, LocalNvmeTier, LustreTier, Pool, StorageTier, Taint
from gpufleet.model.reasons import Reason
from gpufleet.model.subnets import node_addresses
from gpufleet.stack.models import QueuesSpec

if TYPE_CHECKING:  # decided from this module's plan, so it imports this module
    from gpufleet.model.monitoring import ExporterConfig

QUEUE_WORKLOADS: tuple[QueueWorkload, ...] = ("training", "inference", "lab")
# Node labels a flavor carries beside the pool's: what a pod may select its nodes by.
FLAVOR_LABELS = frozenset({POOL_LABEL, f"{LABEL_DOMAIN}/accelerator", f"{LABEL_DOMAIN}/workload"})
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"


def kubernetes_plan(
    *,
    cluster: str,
    aws_region: str | None,
    kubernetes_version: str,
    pools: Sequence[Pool],
    storage: Sequence[StorageTier],
    fabrics: Mapping[str, Fabric],
    queues: QueuesSpec,
    mig_config: MigPartedConfig,
    exporter: ExporterConfig | None,
    catalog: Catalog,
) -> KubernetesPlan:
    """``aws_region``: the cluster's region when gpufleet creates it on AWS; None for an existing
    cluster (provider kubernetes), which gets no EBS class and no Cluster Autoscaler."""
    storage_plan = _storage(pools, storage, catalog, on_aws=aws_region is not None)
    lustre_csi = storage_plan.csi_driver is not None
    allocatable = {pool.name: node_allocatable(pool, node_daemonsets(pool, lustre_csi=lustre_csi), catalog) for pool in pools}
    queue_plan = _queues(cluster, pools, allocatable, queues, catalog)
    return KubernetesPlan(
        cluster=cluster,
        namespaces=tuple(sorted({*_queue_namespaces(queues), *(ns for tier in storage for ns in _claim_namespaces(tier))})),
        gpu_stack=_gpu_stack(pools, mig_config, exporter, catalog) if exporter is not None else None,
        efa=_efa(pools, aws_region, catalog),
        fabrics=_fabrics(pools, fabrics, catalog),
        storage=storage_plan,
        queues=queue_plan,
        autoscaler=_autoscaler(cluster, aws_region, kubernetes_version, pools, allocatable, catalog)
        if aws_region is not None
        else None,
        scheduling={pool.name: _scheduling(pool, queue_plan, allocatable[pool.name]) for pool in pools},
        pod_security=_pod_security(kubernetes_version),
    )


def _pod_security(kubernetes_version: str) -> PodSecurity:
    """Tenant pods run at the Baseline standard, so none shares the host's namespaces, mounts a
    host path or runs privileged: each would reach past the hop-limit-1 IMDS guard and the node."""
    version = f"v{kubernetes_version}"
    tenants = {
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/enforce-version": version,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": version,
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": version,
    }
    system = {"pod-security.kubernetes.io/enforce": "privileged"}
    reason = (
        "tenant namespaces enforce Baseline (no hostNetwork, hostPID, hostIPC, privileged pods, hostPath volumes "
        "or added capabilities such as IPC_LOCK; use emptyDir with medium Memory for /dev/shm) and warn at "
        "Restricted; the GPU Operator's namespace is privileged: its drivers, device plugins and MIG manager "
        "need the host"
    )
    return PodSecurity(tenants, system, reason)


def gpu_pools(pools: Iterable[Pool]) -> tuple[Pool, ...]:
    return tuple(pool for pool in pools if _gpu(pool) is not None)


def _gpu(pool: Pool) -> Accelerator | None:
    return pool.accelerator if pool.accelerator is not None and pool.accelerator.kind == "gpu" else None


def slug(name: str) -> str:
    """A catalog name as a Kubernetes name part: ``H200-141GB`` -> ``h200-141gb``."""
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def toleration(taint: Taint) -> Toleration:
    return Toleration(taint.key, taint.value, taint.effect)


def _tolerations(pools: Iterable[Pool]) -> tuple[Toleration, ...]:
    return tuple(sorted({toleration(taint) for pool in pools for taint in pool.taints}, key=lambda t: (t.key, t.value)))


# -- GPU stack --------------------------------------------------------------------------------


def _driver_on_host(pool: Pool, families: tuple[str, ...]) -> bool:
    """Nodes gpufleet launches run an EKS AMI whose family says whether it ships the driver;
    existing nodes ship none the operator knows of."""
    return isinstance(pool.source, LaunchedNodes) and pool.source.ami.family in families


def _gpu_stack(
    pools: Sequence[Pool], mig_config: MigPartedConfig, exporter: ExporterConfig, catalog: Catalog
) -> GpuStackPlan | None:
    gpus = gpu_pools(pools)
    if not gpus:
        return None
    facts = catalog.kubernetes.gpu_operator
    chart = catalog.kubernetes.charts["gpu-operator"]
    tolerations = _tolerations(gpus)
    driver_on_host = all(_driver_on_host(pool, facts.driver_on_host_ami_families) for pool in gpus)
    uses_mig = any(pool.mig is not None for pool in gpus)
    sharing = [(pool.name, pool.time_slicing_replicas) for pool in gpus if pool.time_slicing_replicas]
    strategy = "mixed" if uses_mig else "single"
    driver: Json = {"enabled": not driver_on_host}
    values: Json = {
        "driver": driver,
        "toolkit": {"enabled": not driver_on_host},
        "mig": {"strategy": strategy},
        "dcgmExporter": exporter.values,
        "daemonsets": {"tolerations": _with_defaults(facts.default_daemonset_tolerations, tolerations)},
        "node-feature-discovery": {"worker": {"tolerations": _with_defaults(facts.default_nfd_worker_tolerations, tolerations)}},
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
        *exporter.reasons,
        Reason(
            "daemonsets.tolerations, node-feature-discovery.worker.tolerations",
            "operands (and the feature discovery that labels nodes for them) must run on every GPU pool, whatever its "
            "taints; the chart's own tolerations stay, since a list given replaces the default list",
        ),
    ]
    if not driver_on_host:
        driver["version"] = facts.driver_version
    if any(pool.fabric is not None and pool.fabric.kind == "infiniband" for pool in gpus):
        driver["rdma"] = {"enabled": True, "useHostMofed": True}
        reasons.append(Reason("driver.rdma", "GPUDirect RDMA over the InfiniBand fabric, with the nodes' own MOFED"))
    mig_map = None
    if uses_mig:
        mig_map = ConfigMapPlan(MIG_CONFIG_MAP, chart.namespace, {facts.mig_config_key: mig_config.to_yaml()})
        values["migManager"] = {
            "enabled": True,
            "config": {"name": MIG_CONFIG_MAP, "create": False, "default": "all-disabled"},
            "env": [
                {"name": "WITH_REBOOT", "value": "true"},
                {"name": MIG_CONFIG_DIGEST_ENV, "value": digest(mig_map.data)},
            ],
        }
        reasons += [
            Reason(
                "migManager.config",
                "the stack's own mig-parted config, whose entries the pools' nvidia.com/mig.config labels name",
            ),
            Reason(
                "migManager.env WITH_REBOOT",
                "a MIG mode change on EC2 GPUs needs a GPU reset: mig-manager reboots the node when the change "
                "fails without one (EKS MIG guide)",
            ),
            Reason(
                f"migManager.env {MIG_CONFIG_DIGEST_ENV}",
                "mig-manager reads its config file at start and acts on a label change only: the config's digest in "
                "its environment restarts it on any layout change, and it applies the node's entry anew",
            ),
        ]
    plugin_map = None
    if sharing:
        data = {DEFAULT_DEVICE_PLUGIN_CONFIG: _device_plugin_config(strategy, None)}
        data.update({name: _device_plugin_config(strategy, replicas) for name, replicas in sharing})
        plugin_map = ConfigMapPlan(DEVICE_PLUGIN_CONFIG_MAP, chart.namespace, data)
        values["devicePlugin"] = {
            "config": {"name": DEVICE_PLUGIN_CONFIG_MAP, "create": False, "default": DEFAULT_DEVICE_PLUGIN_CONFIG},
            "env": [{"name": PLUGIN_CONFIG_DIGEST_ENV, "value": digest(data)}],
        }
        reasons += [
            Reason(
                "devicePlugin.config",
                f"time-slicing on {', '.join(name for name, _ in sharing)}, picked per node by {facts.device_plugin_config_label}",
            ),
            Reason(
                f"devicePlugin.env {PLUGIN_CONFIG_DIGEST_ENV}",
                "the plugin's config manager reloads on a label change only: the configs' digest in its environment "
                "rolls the device plugin when a replica count changes (running pods keep their old share)",
            ),
        ]
    reasons.append(
        Reason(
            "disableOpenapiValidation (release)",
            "operator.upgradeCRD (the chart's default) upgrades its CRDs in a pre-upgrade hook that needs Helm's "
            "--disable-openapi-validation; Helm itself never upgrades a chart's CRDs",
        )
    )
    return GpuStackPlan(
        operator=HelmReleasePlan("gpu-operator", chart, values, tuple(reasons), disable_openapi_validation=True),
        mig_config=mig_map,
        device_plugin_config=plugin_map,
        exporter_counters=exporter.counters,
        tolerations=tolerations,
    )


def _device_plugin_config(strategy: str, replicas: int | None) -> str:
    """A k8s-device-plugin config file; a shared GPU is never handed out twice to one container
    (``failRequestsGreaterThanOne``): two replicas of one GPU are no more compute than one."""
    config: Json = {"version": "v1", "flags": {"migStrategy": "none" if strategy == "single" else strategy}}
    if replicas:
        config["sharing"] = {
            "timeSlicing": {
                "renameByDefault": False,
                "failRequestsGreaterThanOne": True,
                "resources": [{"name": GPU_RESOURCE, "replicas": replicas}],
            }
        }
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def digest(data: Mapping[str, str]) -> str:
    """A short, stable fingerprint of a ConfigMap's data."""
    return hashlib.sha256(json.dumps(dict(data), sort_keys=True).encode()).hexdigest()[:16]


def _with_defaults(defaults: Iterable[Mapping[str, str]], tolerations: Iterable[Toleration]) -> list[Json]:
    """The chart's default tolerations, then each of gpufleet's the defaults do not already cover."""
    listed = [dict(t) for t in defaults]
    for toleration_ in tolerations:
        covered = any(
            t.get("key") == toleration_.key
            and t.get("effect") in (None, "", toleration_.effect)
            and t.get("operator") == "Exists"
            for t in listed
        )
        if not covered:
            listed.append(toleration_.manifest())
    return listed


# -- EFA and InfiniBand -----------------------------------------------------------------------


def _efa_interfaces(pool: Pool) -> int:
    """EFA devices on each node: only nodes gpufleet launches with an EFA layout have any."""
    if isinstance(pool.source, LaunchedNodes) and pool.source.efa is not None:
        return pool.source.efa.efa_count
    return 0


def _efa(pools: Sequence[Pool], region: str | None, catalog: Catalog) -> EfaPluginPlan | None:
    efa_pools = [pool for pool in pools if _efa_interfaces(pool) > 0]
    if not efa_pools:
        return None
    tolerations = _tolerations(efa_pools)
    values: Json = {
        "supportedInstanceLabels": {
            "keys": ["node.kubernetes.io/instance-type"],
            "values": sorted({pool.node_kind for pool in efa_pools}),
        },
        "nodeSelector": {EFA_LABEL: "true"},
        "tolerations": [t.manifest() for t in tolerations],
    }
    registry = catalog.eks.image_registries.by_region.get(region or "")
    if registry is not None:
        values["image"] = {"repository": f"{registry}/{catalog.kubernetes.efa.image_path}"}
    reasons = (
        Reason(
            "image.repository",
            f"EKS's registry in the cluster's Region ({region}): the chart's default is us-west-2's, pulled across Regions"
            if registry
            else f"the catalog has no EKS registry for {region}: the chart's default image",
        ),
        Reason(
            "supportedInstanceLabels", "the chart schedules only on the instance types it lists: exactly the EFA pools' types"
        ),
        Reason("nodeSelector", "only pools with EFA interfaces carry the label: elsewhere the plugin has no device to offer"),
        Reason("tolerations", "EFA pools are GPU and training pools, tainted so other work stays off"),
    )
    release = HelmReleasePlan(
        "aws-efa-k8s-device-plugin", catalog.kubernetes.charts["aws-efa-k8s-device-plugin"], values, reasons
    )
    return EfaPluginPlan(release, {pool.name: _efa_interfaces(pool) for pool in efa_pools})


def rdma_resource_name(fabric: str) -> str:
    """The shared RDMA plugin takes letters, digits and underscores in a resource name."""
    return fabric.replace("-", "_")


def _infiniband(pool: Pool) -> str | None:
    """The InfiniBand fabric of a pool of existing nodes: the only pools the RDMA plugin serves."""
    if isinstance(pool.source, ExistingNodes) and pool.fabric is not None and pool.fabric.kind == "infiniband":
        return pool.fabric.name
    return None


def _fabrics(pools: Sequence[Pool], fabrics: Mapping[str, Fabric], catalog: Catalog) -> tuple[RdmaFabricPlan, ...]:
    facts = catalog.kubernetes.rdma
    found = []
    with_gpus = bool(gpu_pools(pools))
    for name in fabrics:
        members = [pool for pool in pools if _infiniband(pool) == name]
        if not members:
            continue
        values: Json = {"nfd": {"enabled": not with_gpus}}
        reasons = (
            Reason(
                "nfd.enabled",
                "the GPU Operator's Node Feature Discovery already labels the nodes; two would fight"
                if with_gpus
                else "nothing else runs Node Feature Discovery",
            ),
            Reason(
                f"NicClusterPolicy {NIC_CLUSTER_POLICY}: RDMA verbs only",
                f"the shared RDMA device plugin gives pods the fabric's HCAs as {facts.resource_prefix}/"
                f"{rdma_resource_name(name)} for NCCL over InfiniBand verbs; no secondary network, IPAM or IPoIB is "
                "set up: pods bootstrap and talk TCP over the cluster's own network",
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
            for pool in members
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
        if _tolerations(members):
            spec["tolerations"] = [t.manifest() for t in _tolerations(members)]
        found.append(
            RdmaFabricPlan(
                fabric=name,
                operator=operator,
                policy_name=NIC_CLUSTER_POLICY,
                policy_spec=spec,
                resource=f"{facts.resource_prefix}/{rdma_resource_name(name)}",
                pools=tuple(pool.name for pool in members),
            )
        )
    return tuple(found)


# -- storage ----------------------------------------------------------------------------------


def _storage(pools: Sequence[Pool], storage: Sequence[StorageTier], catalog: Catalog, *, on_aws: bool) -> StoragePlan:
    facts = catalog.kubernetes.storage
    classes = []
    if on_aws:
        classes.append(
            StorageClassPlan(
                "gp3",
                facts.ebs_provisioner,
                {"type": "gp3", "encrypted": "true"},
                default=True,
                reason="encrypted gp3 EBS for claims that name no class",
            )
        )
    notes = []
    volumes: list[LustreVolumePlan] = []
    for tier in storage:
        clients = [pool for pool in pools if tier.name in {t.name for t in pool.storage}]
        if isinstance(tier, LocalNvmeTier):
            notes.append(
                Reason(
                    tier.name,
                    f"no StorageClass: nothing would provision or bind its claims. nodeadm assembles the disks as "
                    f"RAID0 at {tier.mount_path}/0 and moves the kubelet's directory onto it, so a pod's emptyDir "
                    "volumes and ephemeral-storage use the NVMe",
                )
            )
        elif isinstance(tier, LustreTier) and not tier.namespaces:
            notes.append(
                Reason(
                    tier.name,
                    "no namespace is listed, so no volume is offered: a static volume without its claim would be "
                    "bindable from any namespace",
                )
            )
        elif isinstance(tier, LustreTier):
            terms = tuple(pool_selector(pool) for pool in clients)
            volumes += [
                LustreVolumePlan(
                    tier.name, f"{tier.name}-{namespace}", namespace, tier.fsx.storage_capacity_gib, facts.fsx_driver, terms
                )
                for namespace in tier.namespaces
            ]
            notes.append(
                Reason(
                    tier.name,
                    f"a volume per namespace ({', '.join(tier.namespaces)}), pre-bound to its claim and mountable only "
                    f"on its client pools ({', '.join(pool.name for pool in clients)}), whose security groups reach it",
                )
            )
    csi = None
    if volumes:
        csi = HelmReleasePlan(
            "aws-fsx-csi-driver",
            catalog.kubernetes.charts["aws-fsx-csi-driver"],
            {"node": {"tolerateAllTaints": True}},
            (Reason("node.tolerateAllTaints", "training and lab nodes are tainted and mount Lustre too"),),
        )
    return StoragePlan(csi, tuple(classes), tuple(volumes), tuple(notes))


def _claim_namespaces(tier: StorageTier) -> tuple[str, ...]:
    return tier.namespaces if isinstance(tier, LustreTier) else ()


# -- queues -----------------------------------------------------------------------------------


def node_daemonsets(pool: Pool, *, lustre_csi: bool) -> tuple[str, ...]:
    """The charts whose DaemonSets gpufleet puts on the pool's nodes and that request resources:
    the FSx CSI node plugin on every node (it tolerates every taint), the EFA plugin on EFA pools.
    The GPU Operator's operands request nothing (their ``resources: {}``)."""
    charts = ["aws-fsx-csi-driver"] if lustre_csi else []
    if _efa_interfaces(pool):
        charts.append("aws-efa-k8s-device-plugin")
    return tuple(sorted(charts))


def node_allocatable(pool: Pool, daemonsets: Sequence[str], catalog: Catalog) -> NodeAllocatable:
    """What pods may request of one node: the kubelet's allocatable less ``daemonsets``' requests.

    Nodes gpufleet launches run nodeadm (AL2023), which reserves ``11 * maxPods + 255`` MiB and a
    share of each CPU range for the kubelet and evicts below 100 MiB free; EC2's stated memory is
    more than the node reports (Karpenter's overhead share), and the EFA huge pages leave
    allocatable memory. Existing nodes: the stack's figures are taken as what the kubelet reports,
    with the same reservations at the kubelet's default maxPods, since their own system pods
    request CPU and memory gpufleet cannot see: a quota a little low leaves a fraction of a core
    idle, one too high admits pods that never schedule.
    """
    facts = catalog.kubernetes.node_allocatable
    requests = [facts.daemonsets[chart] for chart in daemonsets]
    ds_cpu = sum(r.cpu_millicores for r in requests)
    ds_memory = sum(r.memory_mib for r in requests)
    counted = (
        f"DaemonSet requests ({', '.join(daemonsets)}): {ds_cpu}m CPU, {ds_memory}Mi" if daemonsets else "no DaemonSet requests"
    )
    cpu = pool.vcpus_per_node * 1000
    reserved_cpu = facts.kube_reserved_cpu_millicores(cpu)
    if isinstance(pool.source, ExistingNodes):
        max_pods, reported, hugepages = facts.default_max_pods, pool.memory_mib_per_node, 0
        origin = (
            f"existing nodes: the stack's {pool.vcpus_per_node} vCPU and {reported}Mi taken as the kubelet's capacity, "
            f"nodeadm's reservations assumed at the kubelet's default maxPods {max_pods} (state smaller figures if the "
            "cluster reserves more)"
        )
    else:
        max_pods = node_addresses(pool.source.instance, pool.source.efa, catalog).max_pods
        reported = pool.memory_mib_per_node * (1000 - round(facts.vm_memory_overhead_percent * 10)) // 1000
        hugepages = (pool.source.efa_hugepages or 0) * 2
        origin = (
            f"of EC2's {pool.memory_mib_per_node}Mi the node reports about {reported}Mi "
            f"({facts.vm_memory_overhead_percent}% overhead)" + (f", {hugepages}Mi of it EFA huge pages" if hugepages else "")
        )
    reserved_memory = facts.kube_reserved_memory(max_pods)
    memory = reported - hugepages - reserved_memory - facts.eviction_memory_mib
    reason = (
        f"{origin}; nodeadm reserves {reserved_cpu}m CPU and {reserved_memory}Mi (11 x maxPods {max_pods} + 255) for "
        f"the kubelet and evicts below {facts.eviction_memory_mib}Mi free. Less {counted}; not counted (requests "
        f"unknown to the catalog): {', '.join(facts.not_counted)}; floored to whole cores and GiB"
    )
    return NodeAllocatable(cpu - reserved_cpu, memory, ds_cpu, ds_memory, reason)


def pool_devices(pool: Pool, catalog: Catalog) -> dict[str, int]:
    """What a pool offers at its maximum size beside CPU and memory: devices and huge pages
    (NVIDIA resources only on NVIDIA GPU pools: GF-K8S-010 refuses the others)."""
    nodes = pool.nodes.max
    capacity: dict[str, int] = {}
    if _gpu(pool) is not None:
        for layout in pool.mig.device_layouts if pool.mig is not None else ():
            devices = pool.gpus_per_node if layout.devices == "all" else len(layout.devices)
            for profile, count in (layout.layout or {}).items():
                resource = f"nvidia.com/mig-{profile}"
                capacity[resource] = capacity.get(resource, 0) + count * devices * nodes
        whole = whole_gpus(pool.gpus_per_node, pool.mig)
        if whole:
            capacity[GPU_RESOURCE] = whole * (pool.time_slicing_replicas or 1) * nodes
    efa = _efa_interfaces(pool)
    if efa:
        capacity[catalog.kubernetes.efa.resource] = efa * nodes
    if isinstance(pool.source, LaunchedNodes) and pool.source.efa_hugepages:
        # The EFA pools' user data reserves these 2 MiB pages; the kubelet advertises them.
        capacity[HUGEPAGES_RESOURCE] = pool.source.efa_hugepages * 2 * nodes
    fabric = _infiniband(pool)
    if fabric is not None:
        capacity[f"{catalog.kubernetes.rdma.resource_prefix}/{rdma_resource_name(fabric)}"] = (
            catalog.kubernetes.rdma.hca_max * nodes
        )
    return dict(sorted(capacity.items()))


def pool_capacity(pool: Pool, allocatable: NodeAllocatable, catalog: Catalog) -> dict[str, int]:
    """What a pool offers pods at its maximum size, per resource a pod can request: CPU and
    memory are each node's allocatable less its DaemonSets (Kueue admits on quota alone, so a
    quota above what a node can hold admits pods that then stay Pending)."""
    nodes = pool.nodes.max
    capacity = {"cpu": allocatable.pod_cpu * nodes, "memory": allocatable.pod_memory_mib * nodes}
    return dict(sorted({**capacity, **pool_devices(pool, catalog)}.items()))


def pool_selector(pool: Pool) -> dict[str, str]:
    """Labels that pick exactly this pool's nodes: gpufleet's own, or those the stack says existing nodes carry."""
    if isinstance(pool.source, ExistingNodes):
        return dict(pool.source.node_selector)
    return {POOL_LABEL: pool.name}


def flavor_labels(pool: Pool) -> dict[str, str]:
    """What a flavor pins its pods to: every label of the pool's nodes a pod may select on.

    Kueue's flavor assigner matches a pod's node selector against each flavor's own label keys
    only: a pod selecting ``gpufleet.io/accelerator`` must find that key in the flavor, or it is
    given any flavor with quota and then never schedules there."""
    if isinstance(pool.source, ExistingNodes):
        return dict(pool.source.node_selector)
    chosen = {key: value for key, value in pool.labels.items() if key in FLAVOR_LABELS}
    return dict(sorted({**chosen, INSTANCE_TYPE_LABEL: pool.node_kind}.items()))


def _flavor(pool: Pool, accelerator: Accelerator, allocatable: NodeAllocatable, catalog: Catalog) -> FlavorPlan:
    return FlavorPlan(
        name=pool.name,
        pool=pool.name,
        accelerator=accelerator.name,
        node_labels=flavor_labels(pool),
        tolerations=tuple(toleration(taint) for taint in pool.taints),
        capacity=pool_capacity(pool, allocatable, catalog),
    )


# The job kinds the queues admit: Kueue integrations whose controllers run in every cluster
# gpufleet configures (Kubernetes itself, and the JobSet controller it installs). Pods,
# Deployments and StatefulSets are how serving runs; an integration without its CRD is inert.
ADMITTED = (
    ("batch/job", "batch/v1 Job"),
    ("jobset.x-k8s.io/jobset", "jobset.x-k8s.io/v1alpha2 JobSet"),
    ("pod", "v1 Pod"),
    ("deployment", "apps/v1 Deployment"),
    ("statefulset", "apps/v1 StatefulSet"),
)
# Resources Kueue leaves out of quota: the kubelet's eviction, not a quota, governs node disk.
UNQUOTED_PREFIXES = ("ephemeral-storage",)


def _kueue(pools: Sequence[Pool], tenants: tuple[str, ...], catalog: Catalog) -> HelmReleasePlan:
    """Kueue's whole Configuration: Helm replaces the chart's YAML string, so all of it is written."""
    facts = catalog.kubernetes.kueue
    config: Json = dict(facts.base_configuration)
    config["integrations"] = {"frameworks": [framework for framework, _ in ADMITTED]}
    config["resources"] = {"excludeResourcePrefixes": list(UNQUOTED_PREFIXES)}
    gang = any(pool.workload == "training" and pool.nodes.max > 1 for pool in pools)
    config["waitForPodsReady"] = {"timeout": facts.pods_ready_timeout, "blockAdmission": gang}
    reasons = [
        Reason(
            "managerConfig.integrations.frameworks",
            "the kinds whose controllers run: Jobs, JobSets (gpufleet installs the JobSet controller), and pods, "
            "Deployments and StatefulSets for serving; PyTorchJob (Kubeflow Trainer v1, deprecated), MPIJob, Ray "
            "and TrainJob are not admitted, their controllers are not installed",
        ),
        Reason(
            "managerConfig.resources.excludeResourcePrefixes",
            "ephemeral-storage is governed by the kubelet's eviction, not a quota; any other resource a pod "
            "requests must be covered by its queue or the pod is never admitted",
        ),
        Reason(
            "managerConfig.waitForPodsReady.blockAdmission",
            f"multi-node training: quotas count nodes.max, real capacity is often less, and two jobs admitted at "
            f"once can each hold half their nodes forever; admissions go one at a time, cluster-wide (serving "
            f"included), each waiting at most {facts.pods_ready_timeout} for the last job's pods before evicting "
            "it. The autoscaler's ProvisioningRequest check is not used: on AWS its scale-up is not atomic"
            if gang
            else "no multi-node training pool: no job can hold half its nodes, so admissions stay concurrent",
        ),
    ]
    if tenants:
        config["manageJobsWithoutQueueName"] = True
        config["managedJobsNamespaceSelector"] = _namespaces_selector(tenants)
        reasons.append(
            Reason(
                "managerConfig.manageJobsWithoutQueueName, managerConfig.managedJobsNamespaceSelector",
                "in the stack's namespaces every workload goes through a queue: one without a queue name is "
                "suspended, never run outside the quotas; other namespaces (system ones included) are not managed",
            )
        )
    return HelmReleasePlan(
        "kueue",
        catalog.kubernetes.charts["kueue"],
        {"managerConfig": {"controllerManagerConfigYaml": yaml.safe_dump(config, sort_keys=True)}},
        tuple(reasons),
    )


def _namespaces_selector(namespaces: Iterable[str]) -> Json:
    """Exactly these namespaces, by the name label the API server sets."""
    return {"matchExpressions": [{"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(namespaces)}]}


def _queues(
    cluster: str,
    pools: Sequence[Pool],
    allocatable: Mapping[str, NodeAllocatable],
    namespaces: QueuesSpec,
    catalog: Catalog,
) -> QueuePlan | None:
    queued = [(pool, gpu) for pool in pools if pool.workload != "system" and (gpu := _gpu(pool)) is not None]
    if not queued:
        return None
    flavors = tuple(_flavor(pool, gpu, allocatable[pool.name], catalog) for pool, gpu in queued)
    by_pool = {flavor.pool: flavor for flavor in flavors}
    queues: list[ClusterQueuePlan] = []
    never_borrow: Json = {"reclaimWithinCohort": "Any", "withinClusterQueue": "LowerPriority"}
    for accelerator in sorted({gpu.name for pool, gpu in queued if pool.workload == "training"}):
        members = [by_pool[p.name] for p, gpu in queued if p.workload == "training" and gpu.name == accelerator]
        queues.append(
            _cluster_queue(
                f"training-{slug(accelerator)}",
                "training",
                members,
                never_borrow,
                f"training on {accelerator} only: every flavor here is a {accelerator} pool, so no pod set of a job can land on another GPU type",
                namespaces.training,
            )
        )
    one_queue_each: tuple[tuple[QueueWorkload, Json, str], ...] = (
        ("inference", never_borrow, "serving never borrows, so no reclaim can ever preempt it"),
        (
            "lab",
            {
                "reclaimWithinCohort": "Never",
                "borrowWithinCohort": {"policy": "Never"},
                "withinClusterQueue": "LowerPriority",
            },
            "lab runs on lab pools only: a borrowed flavor would pin a lab pod to another pool's nodes and make "
            "the autoscaler launch them for it (p5 capacity for a CPU job); nothing is lent or borrowed",
        ),
    )
    for workload, preemption, reason in one_queue_each:
        members = [by_pool[p.name] for p, _ in queued if p.workload == workload]
        if members:
            queues.append(_cluster_queue(workload, workload, members, preemption, reason, getattr(namespaces, workload)))
    queues = [_stopped(queue, namespaces.stop.get(queue.name)) for queue in queues]
    local: list[LocalQueuePlan] = []
    for workload in QUEUE_WORKLOADS:
        targets = [queue.name for queue in queues if queue.workload == workload]
        for namespace in getattr(namespaces, workload):
            local.extend(LocalQueuePlan(target, namespace, target) for target in targets)
    priorities = tuple(PriorityPlan(f"gpufleet-{name}", value, why) for name, value, why in PRIORITIES)
    tenants = tuple(sorted(_queue_namespaces(namespaces)))
    facts = catalog.kubernetes.kueue
    kueue_namespace = catalog.kubernetes.charts["kueue"].namespace
    return QueuePlan(
        kueue=_kueue(pools, tenants, catalog),
        cohort=f"{cluster}-gpus",
        flavors=flavors,
        cluster_queues=tuple(queues),
        local_queues=tuple(sorted(local, key=lambda q: (q.namespace, q.name))),
        priorities=priorities,
        controller_pools=controller_pools(pools),
        jobset=HelmReleasePlan("jobset", catalog.kubernetes.charts["jobset"], {}),
        admits=tuple(kind for _, kind in ADMITTED),
        gate_policy=GatePolicyPlan(
            "gpufleet-kueue-admission-gate",
            tenants,
            facts.admission_gate,
            f"system:serviceaccount:{kueue_namespace}:{facts.controller_service_account}",
        )
        if tenants
        else None,
        limits=facts.limits,
    )


def _stopped(queue: ClusterQueuePlan, stop: str | None) -> ClusterQueuePlan:
    """A queue the stack stops admits nothing new (Kueue's stopPolicy), the step before removing it."""
    if stop is None:
        return queue
    held = "admitted workloads run to completion" if stop == "hold" else "admitted workloads are evicted"
    reason = f"{queue.reason}; stopped (queues.stop: {stop}): no new admissions, {held}"
    return dataclasses.replace(queue, stop_policy=STOP_POLICIES[stop], reason=reason)


def controller_pools(pools: Iterable[Pool]) -> tuple[str, ...]:
    """Node groups a cluster controller needs before its release can become ready: the untainted
    pools gpufleet creates that keep a node (``nodes.min >= 1``; GF-AWS-003 holds there is one).

    The controller tolerates no GPU taint, so waiting for every pool would only delay it, and
    would make each flavor and queue after it depend on every node group.
    """
    return tuple(
        pool.name for pool in pools if isinstance(pool.source, LaunchedNodes) and not pool.taints and pool.nodes.min >= 1
    )


def _cluster_queue(
    name: str,
    workload: QueueWorkload,
    own: list[FlavorPlan],
    preemption: Json,
    reason: str,
    namespaces: tuple[str, ...],
) -> ClusterQueuePlan:
    """One resource group over every resource its flavors offer (Kueue lets a flavor sit in one
    group only); nothing lent, nothing borrowed."""
    resources = tuple(sorted({resource for flavor in own for resource in flavor.capacity}))
    quotas = [FlavorQuota(f.name, {r: f.capacity.get(r, 0) for r in resources}, borrowing_limit=0, lending_limit=0) for f in own]
    return ClusterQueuePlan(name, workload, resources, tuple(quotas), preemption, reason, tuple(sorted(namespaces)))


def _queue_namespaces(queues: QueuesSpec) -> set[str]:
    return {ns for workload in QUEUE_WORKLOADS for ns in getattr(queues, workload)}


def _scheduling(pool: Pool, queues: QueuePlan | None, allocatable: NodeAllocatable) -> PoolScheduling:
    """The flavor named after the pool, the queues that reach it, and a node's share of the flavor."""
    flavor = next((f for f in queues.flavors if f.pool == pool.name), None) if queues else None
    if queues is None or flavor is None:
        return PoolScheduling(allocatable)
    offered = {
        resource: total // pool.nodes.max
        for resource, total in flavor.capacity.items()
        if resource not in ("cpu", "memory") and total
    }
    return PoolScheduling(allocatable, flavor.name, queues.queues_reaching(flavor.name), offered)


# -- autoscaler -------------------------------------------------------------------------------


def _autoscaler(
    cluster: str,
    region: str,
    kubernetes_version: str,
    pools: Sequence[Pool],
    allocatable: Mapping[str, NodeAllocatable],
    catalog: Catalog,
) -> AutoscalerPlan | None:
    owner_tag = f"k8s.io/cluster-autoscaler/{cluster}"
    groups, skipped = [], []
    for pool in pools:
        if pool.nodes.min == pool.nodes.max:
            skipped.append(Reason(pool.name, f"min == max ({pool.nodes.max}): nothing to scale"))
            continue
        groups.append(
            AutoscaledGroup(pool.name, pool.nodes.min, pool.nodes.max, _group_tags(pool, allocatable[pool.name], catalog))
        )
    if not groups:
        return None
    facts = catalog.kubernetes.autoscaler
    tag = catalog.eks.kubernetes_versions[kubernetes_version].cluster_autoscaler
    values: Json = {
        "cloudProvider": "aws",
        "awsRegion": region,
        "image": {"repository": facts.image_repository, "tag": tag},
        "rbac": {"serviceAccount": {"create": True, "name": AUTOSCALER_SERVICE_ACCOUNT}},
    }
    reasons = [
        Reason("cloudProvider, awsRegion", "the node groups are EC2 Auto Scaling groups in the cluster's region"),
        Reason(
            "image.tag",
            f"the latest Cluster Autoscaler release of Kubernetes {kubernetes_version} (catalog pin, eks.yaml): the "
            "chart's default image is of another minor, and CA supports only the control plane of its own",
        ),
        Reason("autoscalingGroups", "named groups, not tag discovery: pools with min == max stay untouched"),
        Reason("rbac.serviceAccount.name", "the Pod Identity association names this service account"),
        Reason(
            "node-template tags",
            "EKS tags each managed node group's Auto Scaling group for discovery (k8s.io/cluster-autoscaler/enabled "
            "and /<cluster>) itself; gpufleet adds only node-template hints, so removing one of its tags never "
            "removes a tag EKS set",
        ),
    ]
    for group in groups:
        pool = next(p for p in pools if p.name == group.pool)
        if _gpu(pool) is not None and not whole_gpus(pool.gpus_per_node, pool.mig):
            reasons.append(
                Reason(
                    f"{pool.name}: no GPU label, resources/{GPU_RESOURCE}=0",
                    "every GPU is MIG-partitioned, so nodes never advertise nvidia.com/gpu: to the autoscaler the pool "
                    "is a CPU pool (a GPU label would mark its nodes unready forever, and past 45% unready all "
                    "scaling stops); its MIG resources come from node-template tags",
                )
            )
        if isinstance(pool.source, LaunchedNodes) and pool.source.capacity.type == "capacity-block":
            reasons.append(
                Reason(
                    f"{pool.name}: scaledownunneededtime",
                    "a capacity block is paid whether its nodes run or not: an idle node stays (relaunching costs "
                    "boot, GPU and EFA setup); EKS's own scale-down 40 minutes before the block ends still drains it",
                )
            )
    return AutoscalerPlan(
        release=HelmReleasePlan("cluster-autoscaler", catalog.kubernetes.charts["cluster-autoscaler"], values, tuple(reasons)),
        groups=tuple(groups),
        service_account=AUTOSCALER_SERVICE_ACCOUNT,
        owner_tag=owner_tag,
        skipped=tuple(skipped),
    )


def _group_tags(pool: Pool, allocatable: NodeAllocatable, catalog: Catalog) -> dict[str, str]:
    """What the autoscaler must know to build a node from nothing (EKS copies no labels, taints or
    extended resources to the group); the discovery tags are EKS's own and not managed here.

    CPU and memory are the kubelet's allocatable: the autoscaler takes a template's capacity as
    its allocatable, and subtracts the DaemonSets' pods itself."""
    facts = catalog.kubernetes.autoscaler
    prefix = facts.node_template_tag_prefix
    tags = {}
    for key, value in pool.labels.items():
        tags[f"{prefix}/label/{key}"] = value
    for taint in pool.taints:
        tags[f"{prefix}/taint/{taint.key}"] = f"{taint.value}:{taint.effect}"
    tags[f"{prefix}/resources/cpu"] = f"{allocatable.cpu_millicores}m"
    tags[f"{prefix}/resources/memory"] = f"{allocatable.memory_mib}Mi"
    devices = pool_devices(pool, catalog)
    for resource, total in devices.items():
        tags[f"{prefix}/resources/{resource}"] = str(quantity(resource, total // pool.nodes.max))
    if _gpu(pool) is not None and GPU_RESOURCE not in devices:
        # CA's instance table says the type has GPUs; a fully MIG-partitioned node advertises none.
        tags[f"{prefix}/resources/{GPU_RESOURCE}"] = "0"
    if isinstance(pool.source, LaunchedNodes):
        # The kubelet evicts below this share of free node file system: what a pod may ask for.
        usable = pool.source.root_volume_gib * (100 - facts.nodefs_eviction_percent) // 100
        tags[f"{prefix}/resources/{EPHEMERAL_STORAGE}"] = f"{usable}Gi"
        if pool.source.capacity.type == "capacity-block":
            tags[f"{prefix}/autoscaling-options/scaledownunneededtime"] = facts.capacity_block_scale_down_unneeded
    if pool.workload == "training":
        tags[f"{prefix}/autoscaling-options/scaledowngpuutilizationthreshold"] = TRAINING_SCALE_DOWN_GPU_UTILIZATION
    return dict(sorted(tags.items()))
