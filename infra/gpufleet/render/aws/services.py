"""What the Kubernetes side's components need of AWS, rendered beside them from the plan.

The Kubernetes backend knows nothing of AWS: it asks the handle's ``CloudServices`` to render
what the plan's cloud part lists for a component (``AwsCloud.services``: Pod Identity roles,
managed add-ons; ``AwsCloud.node_group_tags`` for the Cluster Autoscaler), parented to that
component so every URN stays where it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi

from gpufleet.model.aws import ManagedAddonPlan, PodIdentityPlan
from gpufleet.model.plan import AwsCloud
from gpufleet.render.aws.iam import role_of
from gpufleet.render.resources import Registered


class AwsClusterServices:
    """The AWS backend's ``CloudServices``: renders the plan's AWS pieces of one Kubernetes component."""

    def __init__(
        self,
        cloud: AwsCloud,
        cluster_name: pulumi.Input[str],
        cluster_arn: pulumi.Input[str],
        autoscaling_groups: Mapping[str, pulumi.Input[str]],
        nodes_ready: Sequence[pulumi.Resource],
    ) -> None:
        self._cloud = cloud
        self._cluster_name = cluster_name
        self._cluster_arn = cluster_arn
        self._autoscaling_groups = autoscaling_groups
        self._nodes_ready = list(nodes_ready)

    def serve(self, component: str, parent: pulumi.Resource) -> list[pulumi.Resource]:
        """Render what ``component`` needs of AWS under ``parent``; what its releases must wait for."""
        child = pulumi.ResourceOptions(parent=parent)
        waits: list[pulumi.Resource] = []
        for service in self._cloud.services_of(component):
            if isinstance(service, PodIdentityPlan):
                waits.append(self._pod_identity(service, child))
            else:
                self._managed_addon(service, parent)
        waits += [
            Registered(
                "aws:autoscaling/tag:Tag",
                f"{tag.pool}-{tag.key}",
                {
                    "autoscalingGroupName": self._autoscaling_groups[tag.pool],
                    "tag": {"key": tag.key, "value": tag.value, "propagateAtLaunch": False},
                },
                child,
            )
            for tag in self._cloud.node_group_tags
            if tag.serves == component
        ]
        return waits

    def _pod_identity(self, plan: PodIdentityPlan, child: pulumi.ResourceOptions) -> Registered:
        identity, _ = role_of(plan.role, None, child, trusted_arn=self._cluster_arn)
        return Registered(
            "aws:eks/podIdentityAssociation:PodIdentityAssociation",
            plan.role.name,
            {
                "clusterName": self._cluster_name,
                "namespace": plan.namespace,
                "serviceAccount": plan.service_account,
                "roleArn": identity.output("arn"),
            },
            child,
        )

    def _managed_addon(self, plan: ManagedAddonPlan, parent: pulumi.Resource) -> Registered:
        identity, granted = role_of(plan.role, None, pulumi.ResourceOptions(parent=parent), trusted_arn=self._cluster_arn)
        pin = plan.pin
        assert pin.service_account is not None
        return Registered(
            "aws:eks/addon:Addon",
            plan.addon,
            {
                "clusterName": self._cluster_name,
                "addonName": plan.addon,
                "addonVersion": pin.version,
                "podIdentityAssociations": [{"roleArn": identity.output("arn"), "serviceAccount": pin.service_account[1]}],
                "resolveConflictsOnCreate": "OVERWRITE",
                "resolveConflictsOnUpdate": "PRESERVE",
            },
            pulumi.ResourceOptions(parent=parent, depends_on=[*granted, *self._nodes_ready]),
        )
