"""RDMA devices for pods: the EFA device plugin on AWS, the Network Operator on InfiniBand."""

from __future__ import annotations

import pulumi

from gpufleet.model.kubernetes import EfaPluginPlan, RdmaFabricPlan
from gpufleet.names import FABRIC_LABEL
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.common import helm_release, metadata, under_cluster
from gpufleet.render.resources import kubernetes_object


class EfaDevicePlugin(pulumi.ComponentResource):
    """Advertises each EFA interface of the EFA pools as ``vpc.amazonaws.com/efa``."""

    def __init__(self, plan: EfaPluginPlan, handle: ClusterHandle) -> None:
        super().__init__("gpufleet:kubernetes:EfaDevicePlugin", "efa-device-plugin", None, under_cluster(handle))
        self.release = helm_release(plan.release, self, depends_on=handle.nodes_ready)
        self.register_outputs({"release": self.release.output("status")})


class InfinibandFabric(pulumi.ComponentResource):
    """The Network Operator and the NicClusterPolicy whose shared RDMA plugin serves the fabric's nodes."""

    def __init__(self, plan: RdmaFabricPlan, handle: ClusterHandle) -> None:
        super().__init__("gpufleet:kubernetes:InfinibandFabric", plan.fabric, None, under_cluster(handle))
        self.release = helm_release(plan.operator, self, depends_on=handle.nodes_ready)
        self.policy = kubernetes_object(
            "mellanox.com/v1alpha1",
            "NicClusterPolicy",
            f"{plan.fabric}-{plan.policy_name}",
            {"metadata": metadata(plan.policy_name, **{FABRIC_LABEL: plan.fabric}), "spec": plan.policy_spec},
            pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
        )
        self.register_outputs({"resource": plan.resource})
