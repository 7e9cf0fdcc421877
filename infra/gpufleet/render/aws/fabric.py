"""RDMA fabrics. EFA's OS-bypass traffic only flows between members of one security group."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from gpufleet.render.aws.tags import tags


class EfaFabric(pulumi.ComponentResource):
    """A security group that lets all traffic to and from itself, and nothing else, for EFA."""

    def __init__(self, name: str, cluster_name: str, vpc_id: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:Fabric", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-efa",
            vpc_id=vpc_id,
            description=f"{cluster_name} EFA fabric {name}: all traffic within the group only",
            tags=tags(cluster_name, Name=f"{cluster_name}-{name}-efa"),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-efa-ingress-self",
            security_group_id=self.security_group.id,
            referenced_security_group_id=self.security_group.id,
            ip_protocol="-1",
            description="EFA: all traffic from the fabric",
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-efa-egress-self",
            security_group_id=self.security_group.id,
            referenced_security_group_id=self.security_group.id,
            ip_protocol="-1",
            description="EFA: all traffic to the fabric",
            opts=child,
        )
        self.register_outputs({"security_group_id": self.security_group.id})
