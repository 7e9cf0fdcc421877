"""RDMA fabrics. EFA's OS-bypass traffic only flows between members of one security group."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from gpufleet.model.security import SecurityRule, fabric
from gpufleet.render.aws.security import rules_of, security_group
from gpufleet.render.aws.tags import tags


class EfaFabric(pulumi.ComponentResource):
    """A security group that lets all traffic to and from itself, and nothing else, for EFA
    (its rules are the plan's, ``model.security``)."""

    def __init__(
        self,
        name: str,
        cluster_name: str,
        vpc_id: pulumi.Input[str],
        rules: Sequence[SecurityRule],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("gpufleet:aws:Fabric", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.security_group = security_group(
            f"{name}-efa",
            vpc_id,
            f"{cluster_name} EFA fabric {name}: all traffic within the group only",
            tags(cluster_name, Name=f"{cluster_name}-{name}-efa"),
            child,
        )
        group = self.security_group.id
        rules_of(rules, {fabric(name): group}, child)
        self.register_outputs({"security_group_id": group})
