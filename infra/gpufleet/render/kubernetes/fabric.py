"""RDMA devices for pods: the EFA device plugin on AWS, the Network Operator on InfiniBand."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from gpufleet.model.kubernetes import EfaPluginPlan, RdmaFabricPlan
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.common import helm_release, metadata, under_cluster


class EfaDevicePlugin(pulumi.ComponentResource):
    """Advertises each EFA interface of the EFA pools as ``vpc.amazonaws.com/efa``."""

    def __init__(self, plan: EfaPluginPlan, handle: ClusterHandle) -> None:
        super().__init__("gpufleet:kubernetes:EfaDevicePlugin", "efa-device-plugin", None, under_cluster(handle))
        self.release = helm_release(plan.release, self, depends_on=handle.nodes_ready)
        self.register_outputs({"release": self.release.status})


class InfinibandFabric(pulumi.ComponentResource):
    """The Network Operator and the NicClusterPolicy whose shared RDMA plugin serves the fabric's nodes."""

    def __init__(self, plan: RdmaFabricPlan, handle: ClusterHandle) -> None:
        super().__init__("gpufleet:kubernetes:InfinibandFabric", plan.fabric, None, under_cluster(handle))
        self.release = helm_release(plan.operator, self, depends_on=handle.nodes_ready)
        self.policy = k8s.apiextensions.CustomResource(
            f"{plan.fabric}-{plan.policy_name}",
            api_version="mellanox.com/v1alpha1",
            kind="NicClusterPolicy",
            metadata=metadata(plan.policy_name, **{"gpufleet.io/fabric": plan.fabric}),
            spec=plan.policy_spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
        )
        self.register_outputs({"resource": plan.resource})
