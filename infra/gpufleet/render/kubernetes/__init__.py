"""Kubernetes backend: turns a ``KubernetesPlan`` into objects through the cluster's provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from gpufleet.model.kubernetes import KubernetesPlan
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.autoscaler import ClusterAutoscaler
from gpufleet.render.kubernetes.common import metadata, under_cluster
from gpufleet.render.kubernetes.fabric import EfaDevicePlugin, InfinibandFabric
from gpufleet.render.kubernetes.gpu_stack import GpuStack
from gpufleet.render.kubernetes.queues import Queues
from gpufleet.render.kubernetes.storage import KubernetesStorage
from gpufleet.render.resources import kubernetes_object

__all__ = ["KubernetesLayer", "Namespaces", "render_kubernetes"]


class Namespaces(pulumi.ComponentResource):
    """The namespaces the stack names for queues and storage claims. A namespace dropped from the
    stack is left in the cluster (deleting it would delete every tenant object in it)."""

    def __init__(self, names: tuple[str, ...], labels: dict[str, str], handle: ClusterHandle) -> None:
        super().__init__("gpufleet:kubernetes:Namespaces", "namespaces", None, under_cluster(handle))
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        self.by_name = {
            name: kubernetes_object("v1", "Namespace", name, {"metadata": metadata(name, **labels)}, kept) for name in names
        }
        self.register_outputs({"namespaces": list(names)})


@dataclass(frozen=True)
class KubernetesLayer:
    """What later components (the validation jobs, monitoring) wait for."""

    namespaces: Mapping[str, pulumi.Resource]
    local_queues: Mapping[tuple[str, str], pulumi.Resource]
    """(namespace, name) -> LocalQueue: a job waits for the one it names (and so for Kueue)."""


def render_kubernetes(plan: KubernetesPlan, handle: ClusterHandle) -> KubernetesLayer:
    namespaces = Namespaces(plan.namespaces, plan.pod_security.tenants, handle).by_name if plan.namespaces else {}
    local_queues: Mapping[tuple[str, str], pulumi.Resource] = {}
    if plan.gpu_stack is not None:
        GpuStack(plan.gpu_stack, plan.pod_security.system, handle)
    if plan.efa is not None:
        EfaDevicePlugin(plan.efa, handle)
    for fabric in plan.fabrics:
        InfinibandFabric(fabric, handle)
    KubernetesStorage(plan.storage, handle, namespaces)
    if plan.queues is not None:
        local_queues = Queues(plan.queues, handle, namespaces).local_queues
    if plan.autoscaler is not None:
        ClusterAutoscaler(plan.autoscaler, handle)
    return KubernetesLayer(namespaces, local_queues)
