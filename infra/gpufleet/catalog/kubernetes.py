"""Typed facts about the Kubernetes software gpufleet installs: charts and what they expect."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gpufleet.catalog.models import Fact


class Chart(Fact):
    repository: str
    chart: str
    version: str
    namespace: str
    sources: tuple[str, ...] = Field(min_length=1)


class GpuOperatorFacts(Fact):
    sources: tuple[str, ...] = Field(min_length=1)
    driver_on_host_ami_families: tuple[str, ...]
    driver_version: str
    mig_config_key: str
    device_plugin_config_label: str
    default_daemonset_tolerations: tuple[dict[str, str], ...]
    """The chart's own ``daemonsets.tolerations``: a list gpufleet sets replaces it whole (Helm merges maps, not lists)."""
    default_nfd_worker_tolerations: tuple[dict[str, str], ...]


class EfaFacts(Fact):
    sources: tuple[str, ...] = Field(min_length=1)
    resource: str
    image_path: str
    """The plugin's image under an EKS Region's registry (``<registry>/<image_path>``)."""


class RdmaFacts(Fact):
    sources: tuple[str, ...] = Field(min_length=1)
    plugin_image: str
    plugin_repository: str
    plugin_version: str
    resource_prefix: str
    vendor: str
    hca_max: int = Field(ge=1)


class KubernetesStorageFacts(Fact):
    sources: tuple[str, ...] = Field(min_length=1)
    fsx_driver: str
    ebs_provisioner: str
    ebs_addon: str
    ebs_namespace: str
    ebs_service_account: str
    ebs_policy: str


class AutoscalerFacts(Fact):
    sources: tuple[str, ...] = Field(min_length=1)
    image_repository: str
    nodefs_eviction_percent: int = Field(ge=0, lt=100)
    """The kubelet's default hard eviction threshold on the node file system (nodefs.available)."""
    capacity_block_scale_down_unneeded: str
    """How long an idle capacity-block node stays before the autoscaler removes it."""
    describe_actions: tuple[str, ...]
    scaling_actions: tuple[str, ...]
    node_template_tag_prefix: str


class DaemonSetRequests(Fact):
    """What one DaemonSet's pod requests on every node it runs on (all its containers)."""

    cpu_millicores: int = Field(ge=0)
    memory_mib: int = Field(ge=0)


class NodeAllocatableFacts(Fact):
    """How much of a node pods may request: nodeadm's kube-reserved and eviction threshold, the
    memory EC2 states but the node does not report, and gpufleet's DaemonSets' requests."""

    sources: tuple[str, ...] = Field(min_length=1)
    kube_reserved_memory_mib: int = Field(ge=0)
    kube_reserved_memory_mib_per_pod: int = Field(ge=0)
    kube_reserved_cpu_ranges: tuple[tuple[int | None, int], ...] = Field(min_length=1)
    """(upper end of the range in millicores, None for the node's total; reserved per 10000)."""
    eviction_memory_mib: int = Field(ge=0)
    default_max_pods: int = Field(ge=1)
    """The kubelet's own default maxPods, assumed on existing nodes."""
    vm_memory_overhead_percent: float = Field(ge=0, lt=100)
    daemonsets: dict[str, DaemonSetRequests]
    """Keyed by the chart that installs the DaemonSet."""
    not_counted: tuple[str, ...]

    def kube_reserved_cpu_millicores(self, millicores: int) -> int:
        """nodeadm's getCPUMillicoresToReserve: a share of each range of the node's millicores."""
        reserved, start = 0, 0
        for end, per_10000 in self.kube_reserved_cpu_ranges:
            top = millicores if end is None else min(end, millicores)
            if top > start:
                reserved += (top - start) * per_10000 // 10000
            start = millicores if end is None else end
        return reserved

    def kube_reserved_memory(self, max_pods: int) -> int:
        """nodeadm's getMemoryMebibytesToReserve."""
        return self.kube_reserved_memory_mib_per_pod * max_pods + self.kube_reserved_memory_mib


class KueueLimits(Fact):
    """What Kueue's API accepts of one ClusterQueue (CRD maxItems and the webhook's own checks)."""

    flavors_per_group: int = Field(ge=1)
    flavor_resources_per_group: int = Field(ge=1)
    flavors_per_queue: int = Field(ge=1)
    resources_per_queue: int = Field(ge=1)

    def flavors_allowed(self, covered: int) -> int:
        """Every flavor of a group lists every covered resource: the combinations cap the flavors too."""
        return min(self.flavors_per_group, self.flavors_per_queue, self.flavor_resources_per_group // max(covered, 1))


class KueueFacts(Fact):
    sources: tuple[str, ...] = Field(min_length=1)
    limits: KueueLimits
    base_configuration: dict[str, Any]
    """The chart's own Configuration, less what gpufleet decides: Helm replaces the whole YAML
    string (managerConfig.controllerManagerConfigYaml), so gpufleet writes all of it."""
    pods_ready_timeout: str
    controller_service_account: str
    """The Kueue controller's service account (the chart's ``<release>-controller-manager``)."""
    admission_gate: str
    """The scheduling gate Kueue puts on a pod it manages until the pod's workload is admitted."""


class KubernetesFacts(Fact):
    sources: dict[str, str]
    charts: dict[str, Chart]
    gpu_operator: GpuOperatorFacts
    efa: EfaFacts
    rdma: RdmaFacts
    storage: KubernetesStorageFacts
    autoscaler: AutoscalerFacts
    kueue: KueueFacts
    node_allocatable: NodeAllocatableFacts

    def cited(self) -> list[tuple[str, tuple[str, ...]]]:
        """Every record with the source keys it names, for the catalog's reference check."""
        records = [(f"charts.{name}", chart.sources) for name, chart in self.charts.items()]
        for name in ("gpu_operator", "efa", "rdma", "storage", "autoscaler", "kueue", "node_allocatable"):
            records.append((name, getattr(self, name).sources))
        return records
