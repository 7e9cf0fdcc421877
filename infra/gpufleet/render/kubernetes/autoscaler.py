"""The Cluster Autoscaler: its release, with what it needs of the cloud rendered beside it."""

from __future__ import annotations

import pulumi

from gpufleet.model.kubernetes import AutoscalerPlan
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.common import helm_release, under_cluster


class ClusterAutoscaler(pulumi.ComponentResource):
    """Its identity and the node-template hints on the scaling groups come from the cloud
    backend (``handle.cloud``); the release waits for them and for the node groups."""

    def __init__(self, plan: AutoscalerPlan, handle: ClusterHandle) -> None:
        super().__init__("gpufleet:kubernetes:ClusterAutoscaler", "cluster-autoscaler", None, under_cluster(handle))
        cloud = handle.cloud.serve("cluster-autoscaler", self)
        values = {
            **plan.release.values,
            "autoscalingGroups": [
                {"name": handle.autoscaling_groups[group.pool], "minSize": group.min_size, "maxSize": group.max_size}
                for group in plan.groups
            ],
        }
        self.release = helm_release(plan.release, self, values=values, depends_on=[*cloud, *handle.nodes_ready])
        self.register_outputs({"release": self.release.output("status")})
