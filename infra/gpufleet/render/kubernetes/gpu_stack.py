"""The NVIDIA GPU Operator with the stack's MIG, time-slicing and DCGM exporter configs beside it."""

from __future__ import annotations

import pulumi

from gpufleet.model.kubernetes import ConfigMapPlan, GpuStackPlan
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.common import helm_release, metadata, under_cluster
from gpufleet.render.resources import Registered, kubernetes_object


class GpuStack(pulumi.ComponentResource):
    """The operator reads the ConfigMaps by name, so they exist before its release."""

    def __init__(self, plan: GpuStackPlan, namespace_labels: dict[str, str], handle: ClusterHandle) -> None:
        super().__init__("gpufleet:kubernetes:GpuStack", "gpu-stack", None, under_cluster(handle))
        namespace = kubernetes_object(
            "v1",
            "Namespace",
            plan.operator.namespace,
            {"metadata": metadata(plan.operator.namespace, **namespace_labels)},
            pulumi.ResourceOptions(parent=self),
        )
        maps = [
            self._config_map(config, namespace)
            for config in (plan.mig_config, plan.device_plugin_config, plan.exporter_counters)
            if config is not None
        ]
        self.release = helm_release(plan.operator, self, depends_on=[*maps, *handle.nodes_ready])
        self.register_outputs({"release": self.release.output("status")})

    def _config_map(self, config: ConfigMapPlan, namespace: Registered) -> Registered:
        return kubernetes_object(
            "v1",
            "ConfigMap",
            config.name,
            {"metadata": metadata(config.name, config.namespace), "data": config.data},
            pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
        )
