"""Security groups and their rules: the shapes every component's groups and rules take."""

from __future__ import annotations

import pulumi

from gpufleet.render.resources import Registered

RULE_TOKENS = {
    "ingress": "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "egress": "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
}


def security_group(
    name: str, vpc_id: pulumi.Input[str], description: str, tags: dict[str, str], opts: pulumi.ResourceOptions
) -> Registered:
    return Registered(
        "aws:ec2/securityGroup:SecurityGroup", name, {"vpcId": vpc_id, "description": description, "tags": tags}, opts
    )


def rule(
    direction: str,
    name: str,
    group: pulumi.Input[str],
    description: str,
    opts: pulumi.ResourceOptions,
    *,
    peer: pulumi.Input[str] | None = None,
    cidr: str | None = None,
    protocol: str = "tcp",
    ports: tuple[int, int] | None = None,
) -> Registered:
    """``group``'s ``direction`` rule for ``protocol`` on ``ports`` (all when None) with the members of ``peer`` or a ``cidr``."""
    low, high = ports if ports else (None, None)
    inputs = {
        "securityGroupId": group,
        "referencedSecurityGroupId": peer,
        "cidrIpv4": cidr,
        "ipProtocol": protocol,
        "fromPort": low,
        "toPort": high,
        "description": description,
    }
    return Registered(RULE_TOKENS[direction], name, inputs, opts)


def allow_from_group(
    name: str,
    group: pulumi.Input[str],
    peer: pulumi.Input[str],
    description: str,
    opts: pulumi.ResourceOptions,
    *,
    protocol: str = "tcp",
    ports: tuple[int, int] | None = None,
) -> Registered:
    """``group`` accepts ``protocol`` on ``ports`` (all ports when None) from members of ``peer``."""
    return rule("ingress", name, group, description, opts, peer=peer, protocol=protocol, ports=ports)
