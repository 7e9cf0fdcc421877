"""The Cluster Autoscaler: its own Pod Identity role, node-template tags on the groups, its release."""

from __future__ import annotations

import json

import pulumi

from gpufleet.model.kubernetes import AutoscalerPlan
from gpufleet.render.aws.iam import inline_policy, role
from gpufleet.render.aws.policies import trust_policy
from gpufleet.render.contract import ClusterHandle
from gpufleet.render.kubernetes.common import POD_IDENTITY_PRINCIPAL, helm_release, under_cluster
from gpufleet.render.resources import Registered


def autoscaler_policy(plan: AutoscalerPlan) -> str:
    """Reads anywhere; scaling calls only on Auto Scaling groups this cluster owns."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": list(plan.describe_actions), "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": list(plan.scaling_actions),
                    "Resource": "*",
                    "Condition": {"StringEquals": {f"aws:ResourceTag/{plan.owner_tag}": "owned"}},
                },
            ],
        },
        sort_keys=True,
    )


class ClusterAutoscaler(pulumi.ComponentResource):
    def __init__(self, plan: AutoscalerPlan, handle: ClusterHandle) -> None:
        super().__init__("gpufleet:kubernetes:ClusterAutoscaler", "cluster-autoscaler", None, under_cluster(handle))
        child = pulumi.ResourceOptions(parent=self)
        identity = role("cluster-autoscaler", trust_policy(POD_IDENTITY_PRINCIPAL), None, child)
        inline_policy("cluster-autoscaler", identity, autoscaler_policy(plan), child)
        association = Registered(
            "aws:eks/podIdentityAssociation:PodIdentityAssociation",
            "cluster-autoscaler",
            {
                "clusterName": handle.name,
                "namespace": plan.release.namespace,
                "serviceAccount": plan.service_account,
                "roleArn": identity.output("arn"),
            },
            child,
        )
        tags = []
        for group in plan.groups:
            for key, value in group.tags.items():
                tags.append(
                    Registered(
                        "aws:autoscaling/tag:Tag",
                        f"{group.pool}-{key}",
                        {
                            "autoscalingGroupName": handle.autoscaling_groups[group.pool],
                            "tag": {"key": key, "value": value, "propagateAtLaunch": False},
                        },
                        child,
                    )
                )
        values = {
            **plan.release.values,
            "autoscalingGroups": [
                {"name": handle.autoscaling_groups[group.pool], "minSize": group.min_size, "maxSize": group.max_size}
                for group in plan.groups
            ],
        }
        self.release = helm_release(plan.release, self, values=values, depends_on=[association, *tags, *handle.nodes_ready])
        self.register_outputs({"release": self.release.output("status")})
