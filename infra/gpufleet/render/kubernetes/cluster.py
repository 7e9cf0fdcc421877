"""An existing cluster (provider kubernetes): nothing cloud-side, only a provider to reach it."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from gpufleet.model import FleetPlan
from gpufleet.render.contract import ClusterHandle


class ExistingCluster(pulumi.ComponentResource):
    """Reached through stack config ``kubernetes:kubeconfig`` (text or path) or ``kubernetes:context``;
    with neither, the provider falls back to the ambient kubeconfig as kubectl would."""

    def __init__(self, name: str, config: pulumi.Config, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:kubernetes:ExistingCluster", name, None, opts)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=config.get("kubeconfig"),
            context=config.get("context"),
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.handle = ClusterHandle(name=name, kubernetes=self.provider, parent=self)
        self.register_outputs({})


def render_existing_cluster(plan: FleetPlan, parent: pulumi.Resource) -> ClusterHandle:
    """The cloud backend of provider kubernetes: no cloud, just the way in."""
    return ExistingCluster(plan.cluster.name, pulumi.Config("kubernetes"), pulumi.ResourceOptions(parent=parent)).handle
