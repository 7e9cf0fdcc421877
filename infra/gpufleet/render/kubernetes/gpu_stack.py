"""The NVIDIA GPU Operator with the stack's MIG and time-slicing configs beside it."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from gpufleet.model.kubernetes import ConfigMapPlan, GpuStackPlan
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.common import helm_release, metadata, under_cluster


class GpuStack(pulumi.ComponentResource):
    """The operator reads both ConfigMaps by name, so they exist before its release."""

    def __init__(self, plan: GpuStackPlan, handle: ClusterHandle) -> None:
        super().__init__("gpufleet:kubernetes:GpuStack", "gpu-stack", None, under_cluster(handle))
        namespace = k8s.core.v1.Namespace(
            plan.operator.namespace, metadata=metadata(plan.operator.namespace), opts=pulumi.ResourceOptions(parent=self)
        )
        maps = [self._config_map(config, namespace) for config in (plan.mig_config, plan.device_plugin_config) if config is not None]
        self.release = helm_release(plan.operator, self, depends_on=[*maps, *handle.nodes_ready])
        self.register_outputs({"release": self.release.status})

    def _config_map(self, config: ConfigMapPlan, namespace: k8s.core.v1.Namespace) -> k8s.core.v1.ConfigMap:
        return k8s.core.v1.ConfigMap(
            config.name,
            metadata=metadata(config.name, config.namespace),
            data=config.data,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
        )
