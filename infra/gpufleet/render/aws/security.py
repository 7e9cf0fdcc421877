"""Security group rules between groups: the one shape every component's rules take."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def allow_from_group(
    name: str,
    group: pulumi.Input[str],
    peer: pulumi.Input[str],
    description: str,
    opts: pulumi.ResourceOptions,
    *,
    protocol: str = "tcp",
    ports: tuple[int, int] | None = None,
) -> aws.vpc.SecurityGroupIngressRule:
    """``group`` accepts ``protocol`` on ``ports`` (all ports when None) from members of ``peer``."""
    low, high = ports if ports else (None, None)
    return aws.vpc.SecurityGroupIngressRule(
        name,
        security_group_id=group,
        referenced_security_group_id=peer,
        ip_protocol=protocol,
        from_port=low,
        to_port=high,
        description=description,
        opts=opts,
    )
